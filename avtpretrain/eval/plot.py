"""`tools/plot_summary.py`: one picture of a run — training curves and results beside baselines.

Reads what runs already write (a pretraining `log.jsonl`, finetuning `eval/<split>` folders) and
draws with matplotlib's headless Agg backend, so it works on a machine with no display.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from avtpretrain.eval.metrics import QA_TYPES
from avtpretrain.eval.report import read_results
from avtpretrain.io import atomic_write_bytes

RETRIEVAL_BARS = ("r1", "r5", "r10")


def read_log(path: Path) -> list[dict[str, Any]]:
    """The per-step records of a run's log.jsonl, in step order; a resumed run appends steps it
    had already logged, and the later record of a step wins (summaries are left out)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise SystemExit(f"plot_summary.py: {path}: cannot read the training log ({err})") from None
    by_step: dict[tuple[int, bool], dict[str, Any]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise SystemExit(f"plot_summary.py: {path}:{number}: not JSON ({err.msg})") from None
        if "step" in record:
            # Training and evaluation records of one step are separate lines: keep both kinds.
            is_eval = not any(k.startswith("train/") for k in record)
            by_step[(record["step"], is_eval)] = record
    return [by_step[key] for key in sorted(by_step)]


def series(log: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [(r["step"], r[key]) for r in log if key in r]
    return [s for s, _ in rows], [v for _, v in rows]


def _curves(ax: Any, log: list[dict], keys: list[str], title: str, prefix: str) -> None:
    for key in keys:
        steps, values = series(log, key)
        if steps:
            ax.plot(steps, values, label=key.removeprefix(prefix))
    ax.set_title(title)
    ax.set_xlabel("optimizer step")
    if len(keys) > 1:
        ax.legend(fontsize=7)


def _bars(ax: Any, groups: list[str], rows: dict[str, list[float]], title: str) -> None:
    width = 0.8 / max(len(rows), 1)
    for i, (label, values) in enumerate(rows.items()):
        xs = [g + (i - (len(rows) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_title(title)
    ax.set_ylabel("%")
    ax.legend(fontsize=7)


def _retrieval(ax: Any, folder: Path) -> None:
    results, info = read_results(folder, "plot_summary.py")
    target = info.get("ranked", "video")  # audio_retrieval ranks sounds
    model = [results[f"text2{target}"][k] for k in RETRIEVAL_BARS]
    chance = [info["chance"][f"text2{target}"][k] for k in RETRIEVAL_BARS]
    title = f"text→{target} retrieval, {info['split']} ({info['queries']} queries)"
    _bars(ax, ["R@1", "R@5", "R@10"], {"model": model, "chance": chance}, title)


def _qa(ax: Any, folder: Path) -> None:
    results, info = read_results(folder, "plot_summary.py")
    types = [t for t in QA_TYPES if results["ratios"][f"{t}_ratio"][1] > 0]
    keys = ["overall_acc", *(f"{t}_acc" for t in types)]
    rows = {"model": [results[k] for k in keys]}
    for name, base in (info.get("baselines") or {}).items():
        rows[name.replace("_", " ")] = [base[k] for k in keys]
    title = f"video QA, {info['split']} ({info['questions']} questions)"
    _bars(ax, ["overall", *types], rows, title)


def plot_summary(log_path: Path, retrieval: Path | None, qa: Path | None, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers or CI
    import matplotlib.pyplot as plt

    log = read_log(log_path)
    losses = sorted({k for r in log for k in r if k.startswith("train/loss/")})
    accs = sorted({k for r in log for k in r if k.startswith("train/acc/")})
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    _curves(axes[0, 0], log, ["train/loss"], "pretraining loss (weighted total)", "train/")
    _curves(axes[0, 1], log, losses, "pretraining loss per objective", "train/loss/")
    _curves(axes[0, 2], log, accs, "pretraining accuracy per objective", "train/acc/")
    _curves(axes[1, 0], log, ["train/lr"], "learning rate", "train/")
    for ax, folder, draw in ((axes[1, 1], retrieval, _retrieval), (axes[1, 2], qa, _qa)):
        if folder is None:
            ax.axis("off")
        else:
            draw(ax, folder)
    fig.suptitle(f"{log_path.parent}: training curves and validation results beside baselines")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return atomic_write_bytes(out, buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="plot_summary.py", description=__doc__.split("\n")[0])
    p.add_argument("log", type=Path, help="a pretraining run's log.jsonl")
    p.add_argument("--retrieval", type=Path, help="a retrieval eval/<split> folder")
    p.add_argument("--qa", type=Path, help="a QA eval/<split> folder")
    p.add_argument("--out", type=Path, required=True, help="the picture to write (.png)")
    args = p.parse_args(argv)
    path = plot_summary(args.log, args.retrieval, args.qa, args.out)
    print(f"summary picture: {path}")
    return 0
