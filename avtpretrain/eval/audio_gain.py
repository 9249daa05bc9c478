"""`tools/show_audio_gain.py`: what the clips' sound adds, from four evaluation folders: retrieval
and QA finetuned without it (ALPRO's setting) and with it (downstream.use_audio).

Prints one table (text→video R@1 with and without sound, text→audio R@1 beside chance, QA overall
and the direction/speed types with and without sound beside their blind baseline), writes it as
JSON, and with the --min_* bars exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avtpretrain.eval import report
from avtpretrain.io import atomic_write_text

PROG = "show_audio_gain.py"
QA_ROWS = (
    ("overall", "overall_acc"),
    ("where (direction)", "where_acc"),
    ("how (speed)", "how_acc"),
)


def measure(ret: tuple[Path, Path], qa: tuple[Path, Path]) -> dict:
    """{row: {without, with, baseline, ratio}} from (without, with) retrieval and QA folders."""
    (rv, _), (ra, ra_info) = (report.read_results(f, PROG) for f in ret)
    (qv, _), (qa_, qa_info) = (report.read_results(f, PROG) for f in qa)
    if not ra_info.get("with_audio"):
        raise SystemExit(f"{PROG}: {ret[1]}: not a run with downstream.use_audio")
    if "text2audio" not in ra:
        raise SystemExit(f"{PROG}: {ret[1]}: no clip had sound (no text2audio ranking)")
    t2v, t2v_audio = rv["text2video"]["r1"], ra["text2video"]["r1"]
    t2a, chance = ra["text2audio"]["r1"], ra_info["chance"]["text2audio"]["r1"]
    rows = {
        "text→video R@1": _row(t2v, t2v_audio, None, _ratio(t2v_audio, t2v)),
        "text→audio R@1": _row(None, t2a, chance, _ratio(t2a, chance)),
    }
    blind = (qa_info.get("baselines") or {}).get("question_prior", {})
    for name, key in QA_ROWS:
        base = blind.get(key)
        rows[f"QA {name}"] = _row(qv[key], qa_[key], base, _ratio(qa_[key], base))
    return rows


def _ratio(value: float, base: float | None) -> float | None:
    """value / base; None (not measurable) without a positive base."""
    return value / base if base else None


def _row(without: float | None, with_: float, baseline: float | None, ratio: float | None) -> dict:
    return {"without_audio": without, "with_audio": with_, "baseline": baseline, "ratio": ratio}


def table(rows: dict) -> str:
    def cell(x: float | None) -> str:
        return f"{x:>10.2f}" if x is not None else f"{'-':>10}"

    head = f"{'':<22}{'no audio':>10}{'audio':>10}{'baseline':>10}{'ratio':>9}"
    lines = [head]
    for name, r in rows.items():
        line = f"{name:<22}{cell(r['without_audio'])}{cell(r['with_audio'])}{cell(r['baseline'])}"
        ratio = f"{r['ratio']:>8.2f}x" if r["ratio"] is not None else f"{'n/a':>9}"
        lines.append(line + ratio)
    lines.append(
        "ratio: text→video with / without audio; text→audio / chance; QA with audio / the blind "
        "baseline (each question's most frequent training answer)"
    )
    return "\n".join(lines)


def checks(rows: dict, min_gain: float, min_t2a: float, min_type: float) -> list[str]:
    """The bars that were missed, one line each."""
    bars = {
        "text→video R@1": min_gain,
        "text→audio R@1": min_t2a,
        "QA where (direction)": min_type,
        "QA how (speed)": min_type,
    }
    missed = []
    for name, need in bars.items():
        ratio = rows[name]["ratio"]
        if need and ratio is None:
            missed.append(f"{name}: no baseline to compare with, required >= {need:g}x")
        elif need and ratio < need:
            missed.append(f"{name}: {ratio:.2f}x, required >= {need:g}x")
    return missed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--retrieval", nargs=2, type=Path, required=True, metavar=("NO_AUDIO", "AUDIO"))
    p.add_argument("--qa", nargs=2, type=Path, required=True, metavar=("NO_AUDIO", "AUDIO"))
    p.add_argument("--out", type=Path, help="write the rows as JSON here")
    p.add_argument("--min_gain", type=float, default=0.0, help="text→video R@1 audio/no audio")
    p.add_argument("--min_t2a", type=float, default=0.0, help="text→audio R@1 / chance")
    p.add_argument("--min_type", type=float, default=0.0, help="QA where/how with audio / blind")
    args = p.parse_args(argv)
    rows = measure(tuple(args.retrieval), tuple(args.qa))
    print(f"\n== what the sound adds (validation split)\n{table(rows)}")
    if args.out:
        atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")
        print(f"written: {args.out}")
    missed = checks(rows, args.min_gain, args.min_t2a, args.min_type)
    for line in missed:
        print(f"NOT MET: {line}")
    if not missed and (args.min_gain or args.min_t2a or args.min_type):
        print("audio bars: ok")
    return 1 if missed else 0
