"""Baselines, printed tables and result files for downstream evaluation (pure; no model)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from avtpretrain.eval.metrics import QA_TYPES, qa_metrics
from avtpretrain.io import atomic_write_text

RETRIEVAL_KEYS = ("r1", "r5", "r10", "medianR", "meanR")


def retrieval_chance(n_videos: int, n_texts: int) -> dict[str, dict[str, float]]:
    """Expected metrics of a random ranking, with one correct item per query."""

    def chance(n: int) -> dict[str, float]:
        return {
            "r1": 100.0 * min(1, n) / n,
            "r5": 100.0 * min(5, n) / n,
            "r10": 100.0 * min(10, n) / n,
            "medianR": (n + 1) / 2,
            "meanR": (n + 1) / 2,
        }

    return {"text2video": chance(n_videos), "video2text": chance(n_texts)}


def chance_of(sizes: dict[str, tuple[int, int]]) -> dict[str, dict[str, float]]:
    """Chance for each ranking: sizes maps text2<x> to its (candidate clips, query captions);
    the reverse direction <x>2text gets its chance too."""
    out = {}
    for direction, (clips, texts) in sizes.items():
        chance = retrieval_chance(clips, texts)
        target = direction.removeprefix("text2")
        name, _, suffix = target.partition("_")
        out[direction] = chance["text2video"]
        out[f"{name}2text{'_' + suffix if suffix else ''}"] = chance["video2text"]
    return out


def qa_baselines(
    train_questions: Sequence[tuple[str, str]],
    gt: Sequence[str],
    questions: Sequence[str],
    types: Sequence[str],
) -> dict[str, dict]:
    """Two blind baselines from the training (question, answer) pairs: the majority answer for
    every question, and the most frequent training answer of the same question text."""
    overall = Counter(a for _, a in train_questions)
    majority = overall.most_common(1)[0][0]
    per_question: dict[str, Counter] = {}
    for q, a in train_questions:
        per_question.setdefault(q, Counter())[a] += 1
    prior = [
        per_question[q].most_common(1)[0][0] if q in per_question else majority for q in questions
    ]
    return {
        "majority_answer": {"answer": majority, **qa_metrics([majority] * len(gt), gt, types)},
        "question_prior": qa_metrics(prior, gt, types),
    }


def retrieval_table(metrics: dict, chance: dict) -> str:
    lines = [f"{'':<22}" + "".join(f"{k:>9}" for k in RETRIEVAL_KEYS)]
    for d in metrics:
        for label, m in ((d, metrics[d]), ("  chance", chance[d])):
            lines.append(f"{label:<22}" + "".join(f"{m[k]:>9.2f}" for k in RETRIEVAL_KEYS))
    return "\n".join(lines)


def qa_table(metrics: dict, baselines: dict | None) -> str:
    keys = ("overall_acc", *(f"{t}_acc" for t in QA_TYPES))
    rows = [("model", metrics)]
    if baselines:
        rows += [
            (f"majority ({baselines['majority_answer']['answer']})", baselines["majority_answer"]),
            ("question prior", baselines["question_prior"]),
        ]
    lines = [f"{'':<22}" + "".join(f"{k.removesuffix('_acc'):>9}" for k in keys)]
    lines += [f"{n:<22}" + "".join(f"{m[k]:>9.2f}" for k in keys) for n, m in rows]
    counts = "  ".join(f"{t}: {metrics['ratios'][f'{t}_ratio'][1]}" for t in QA_TYPES)
    return "\n".join([*lines, f"questions per type: {counts}"])


def write_results(
    folder: str | Path, results: dict, extras: dict, rows: list[dict], rows_name: str
) -> Path:
    """results.json (ALPRO's shape), baselines/run facts in info.json, per-query rows
    in a JSONL side file; each written to a temporary name first, then renamed."""
    out = Path(folder)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "info.json", json.dumps(extras, indent=2) + "\n")
    atomic_write_text(out / rows_name, "".join(json.dumps(r) + "\n" for r in rows))
    return out / "results.json"


def read_results(folder: Path, prog: str) -> tuple[dict, dict]:
    """(results.json, info.json) of an eval/<split> folder; one line naming it when unreadable."""
    try:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"{prog}: {folder}: cannot read results ({err})") from None
    return results, info
