"""The demo pretraining recipe pointed at a test corpus."""

from __future__ import annotations

from pathlib import Path

from avtpretrain.config import RecipeConfig, load_recipe

REPO = Path(__file__).resolve().parents[2]


def config(corpus: tuple[Path, Path], *overrides: str) -> RecipeConfig:
    shards, tokenizer = corpus
    return load_recipe(
        REPO / "pretrain/demo.yaml",
        [
            f"data.train_shards=[{shards}]",
            f"data.val_shards=[{shards}]",
            f"data.tokenizer={tokenizer}",
            "data.shuffle_buffer=4",
            *overrides,
        ],
    )
