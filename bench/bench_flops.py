"""Model FLOPs per sample of the base recipe before and after this pipeline's cuts, per part.

Before: text padded to max_length, the fusion over every video token, the MLM vocabulary head
on every text position. After: the recipe as it is (text padded per batch to a multiple of 8,
fusion.video_tokens / audio_tokens as configured, MLM head on masked positions). Both counted
with torch's FlopCounterMode on a real forward on the CPU (x3 for forward + backward); captions
of --caption_tokens tokens. Prints a table and writes bench/results/bench_flops.json. The base
model takes a few minutes on a 2-core CPU.

    python bench/bench_flops.py --recipe pretrain/base.yaml
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from avtpretrain.config import load_recipe
from avtpretrain.io import atomic_write_text
from avtpretrain.run.flops import count

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
TARGET = 1.6


def before_and_after(recipe_path: str, caption_tokens: int) -> dict[str, dict[str, float]]:
    old = load_recipe(
        recipe_path, ["model.fusion.video_tokens=all", "model.fusion.audio_tokens=all"]
    )
    before = count(old, caption_tokens, pad_to_max=True)
    after = count(load_recipe(recipe_path), caption_tokens)
    b = dict(before["flops"]["all"])
    # The MLM head ran on every text position: add what those unmasked positions cost.
    extra = before["mlm_head_all_positions"] - b["mlm_head"]
    b["mlm_head"] += extra
    b["total"] += extra
    return {"before": b, "after": after["flops"]["all"], "objectives": after["flops"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="pretrain/base.yaml")
    p.add_argument("--caption_tokens", type=int, default=16)
    p.add_argument("--out", type=Path, default=RESULTS / "bench_flops.json")
    args = p.parse_args()
    started = time.perf_counter()
    result = before_and_after(args.recipe, args.caption_tokens)
    before, after = result["before"], result["after"]
    print(f"{args.recipe}, captions of {args.caption_tokens} tokens: GFLOP per sample (fwd+bwd)")
    print(f"{'part':<14}{'before':>12}{'after':>12}{'before/after':>14}")
    for part in before:
        ratio = before[part] / after[part] if after[part] else float("nan")
        print(f"{part:<14}{before[part] / 1e9:>12,.1f}{after[part] / 1e9:>12,.1f}{ratio:>14.2f}")
    cut = before["total"] / after["total"]
    verdict = "ok" if cut >= TARGET else "FAIL"
    print(f"{verdict}: {cut:.2f}x fewer FLOPs per sample (target >= {TARGET}x)")
    summary = {
        "recipe": args.recipe,
        "caption_tokens": args.caption_tokens,
        "cut": cut,
        "target": TARGET,
        "seconds": round(time.perf_counter() - started, 1),
        **result,
    }
    atomic_write_text(args.out, json.dumps(summary, indent=1))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
