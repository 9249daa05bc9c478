"""A small sharded corpus (13 clips, uneven shards) and its tokenizer, for the stream tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from avtpretrain.reader.tokenizer import shard_captions, train_wordpiece
from avtpretrain.writer.make_shards import main as make_shards
from tests.factory import seed_args, seed_dataset

NUM_CLIPS = 13  # with 3 per shard: sizes 3, 3, 3, 3, 1 (uneven on purpose)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = seed_dataset(tmp_path_factory.mktemp("stream"), NUM_CLIPS).parent
    shards = root / "shards"
    assert make_shards(seed_args(root, shards, "--samples_per_shard", "3")) == 0
    tokenizer = train_wordpiece(shard_captions([str(shards)]), 200, root / "tokenizer")
    return shards, tokenizer
