from pathlib import Path

import pytest

from avtpretrain.config import load_model_config, load_recipe
from avtpretrain.reader.synthetic import synthetic_batch

REPO = Path(__file__).resolve().parents[2]
VOCAB = 120


@pytest.fixture(scope="session")
def tiny():
    return load_model_config("tiny", REPO / "pretrain" / "demo.yaml")


@pytest.fixture(scope="session")
def recipe():
    return load_recipe(REPO / "pretrain" / "demo.yaml")


def make_batch(cfg, n: int = 4, seed: int = 0, audio_present=None, video_present=None) -> dict:
    return synthetic_batch(
        cfg,
        n,
        vocab_size=VOCAB,
        seed=seed,
        audio_present=audio_present,
        video_present=video_present,
    )
