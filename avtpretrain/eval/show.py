"""`tools/show_results.py`: print evaluation folders (results.json + info.json) beside baselines.

With --min_ratio, also check each headline number against its baseline: text→video (or, for
audio_retrieval, text→audio) R@1 against chance, QA overall accuracy against the majority answer;
exits 1 when one falls short.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from avtpretrain.eval import report


def headline(results: dict, info: dict) -> tuple[str, float, float]:
    """(name, value, baseline) of the number a task is judged by."""
    for target in ("video", "audio"):
        if f"text2{target}" in results:
            return (
                f"text→{target} R@1 vs chance",
                results[f"text2{target}"]["r1"],
                info["chance"][f"text2{target}"]["r1"],
            )
    base = info["baselines"]["majority_answer"]["overall_acc"] if info.get("baselines") else 0.0
    return "QA overall accuracy vs majority answer", results["overall_acc"], base


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="show_results.py", description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", type=Path, help="eval/<split> folders")
    p.add_argument(
        "--min_ratio",
        type=float,
        nargs="+",
        metavar="R",
        help="required headline/baseline ratio (one, or one per folder)",
    )
    args = p.parse_args(argv)
    ratios = args.min_ratio or []
    if len(ratios) not in (0, 1, len(args.folders)):
        p.error("--min_ratio: give one ratio, or one per folder")
    failed = 0
    for i, folder in enumerate(args.folders):
        results, info = report.read_results(folder, "show_results.py")
        if "chance" in info:
            table = report.retrieval_table(results, info["chance"])
        else:
            table = report.qa_table(results, info.get("baselines"))
        name, value, base = headline(results, info)
        ratio = value / base if base else float("inf")
        print(f"\n== {folder} ({info['split']} split)\n{table}")
        line = f"{name}: {value:.2f} / {base:.2f} = {ratio:.1f}x"
        if ratios:
            need = ratios[0] if len(ratios) == 1 else ratios[i]
            ok = ratio >= need
            failed += not ok
            line += f" (required >= {need:g}x: {'ok' if ok else 'NOT MET'})"
        print(line)
    return 1 if failed else 0
