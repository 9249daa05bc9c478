"""`tools/count_flops.py`: model FLOPs per sample of a pretraining recipe, per part and objective.

python tools/count_flops.py --recipe pretrain/base.yaml --caption_tokens 16
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from avtpretrain.config import RecipeConfig, load_recipe

BATCH = 2  # matching needs two samples to draw a negative from


def count(
    recipe: RecipeConfig, caption_tokens: int, *, pad_to_max: bool = False, vocab_size: int = 30522
) -> dict[str, Any]:
    """Forward + backward FLOPs per sample ({objective or "all": {part: flops}}), the model built
    from `recipe` at random init on the CPU and fed a synthetic batch of `caption_tokens`-token
    captions padded as the reader pads them (to max_length with `pad_to_max`)."""
    import torch  # heavy imports after argument parsing: --help stays instant

    from avtpretrain.reader.synthetic import synthetic_batch
    from avtpretrain.tasks.flops import mlm_head_all_positions, step_flops_per_sample
    from avtpretrain.tasks.pretrain import PretrainTask

    torch.manual_seed(0)
    data = recipe.data
    # Training mode, as in training: in eval mode torch's transformer layers take a fused fast
    # path whose work the counter does not see.
    task = PretrainTask(recipe.model, recipe.objectives, vocab_size).train()
    batch = synthetic_batch(
        recipe.model,
        BATCH,
        vocab_size=min(vocab_size, 120),
        video_ratio=data.video_mask_ratio,
        audio_ratio=data.audio_mask_ratio,
        caption_tokens=caption_tokens,
        pad_to_max=pad_to_max,
    )
    return {
        "flops": step_flops_per_sample(task, batch),
        "mlm_head_all_positions": mlm_head_all_positions(task, batch),
        "text_width": int(batch["input_ids"].shape[1]),
    }


def print_table(flops: dict[str, dict[str, float]]) -> None:
    columns = list(flops)
    unit, scale = ("GFLOP", 1e9) if flops["all"]["total"] > 1e10 else ("MFLOP", 1e6)
    print(f"{unit + '/sample':<14}" + "".join(f"{c:>13}" for c in columns))
    for part in flops["all"]:
        print(f"{part:<14}" + "".join(f"{flops[c][part] / scale:>13,.1f}" for c in columns))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="count_flops.py", description=__doc__.split("\n")[0])
    p.add_argument("--recipe", required=True, help="a pretraining recipe (e.g. pretrain/base.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--caption_tokens",
        type=int,
        default=16,
        help="tokens per caption, [CLS]/[SEP] included (default 16: MSRVTT-like captions)",
    )
    p.add_argument(
        "--pad_to_max", action="store_true", help="pad text to max_length, not per batch"
    )
    p.add_argument("--vocab_size", type=int, default=30522, help="used unless the config fixes one")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    if args.caption_tokens < 4:
        p.error("--caption_tokens: must be >= 4 ([CLS], [SEP] and a masked word or two)")
    recipe = load_recipe(args.recipe, args.overrides)
    result = count(
        recipe, args.caption_tokens, pad_to_max=args.pad_to_max, vocab_size=args.vocab_size
    )
    print(
        f"{args.recipe}: forward + backward model FLOPs per sample (3x the counted forward), "
        f"captions of {args.caption_tokens} tokens in a text width of {result['text_width']}"
    )
    print_table(result["flops"])
    if args.json:
        from avtpretrain.io import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1))
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
