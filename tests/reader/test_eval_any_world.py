"""Evaluation at any world size: fewer shards than ranks x workers is split by sample, and every
sample is still evaluated exactly once; the assignment simulated for 64 and 512 ranks x 8
workers."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from avtpretrain.dist import DistInfo
from avtpretrain.reader.evaluation import reader_plan
from avtpretrain.reader.loaders import eval_stream
from tests.reader.conftest import NUM_CLIPS
from tests.reader.recipes import config


def test_two_ranks_of_two_workers_over_one_shard_see_each_sample_once(corpus) -> None:
    shards, _ = corpus
    first = sorted(Path(shards).glob("*.tar"))[0]
    cfg = config(corpus, "data.num_workers=2", f"data.val_shards=[{first}]")
    keys = []
    for rank in (0, 1):
        dist = DistInfo(rank=rank, world_size=2)
        for batch in eval_stream(cfg.model, cfg.data, batch_size=2, dist=dist, seed=0):
            keys += batch["keys"]
    assert len(keys) == len(set(keys)) > 0
    alone = [
        k
        for b in eval_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0)
        for k in b["keys"]
    ]
    assert sorted(keys) == sorted(alone) and len(alone) <= NUM_CLIPS


@pytest.mark.parametrize(("world", "shards"), [(64, 100), (64, 600), (512, 100), (512, 5000)])
def test_every_sample_once_at_cluster_scale(world: int, shards: int) -> None:
    """A synthetic sizes table: shard s holds 1-40 samples; each of world x 8 readers applies its
    plan; together they cover every (shard, sample) exactly once."""
    workers, rng = 8, random.Random(world + shards)
    sizes = {f"s{i:05d}.tar": rng.randint(1, 40) for i in range(shards)}
    urls = list(sizes)
    seen: Counter[tuple[str, int]] = Counter()
    for rank in range(world):
        for worker in range(workers):
            plan = reader_plan(urls, rank, world, worker, workers)
            # The sample stream a reader sees: its shards in order, samples in order.
            stream = [(u, j) for u in plan.urls for j in range(sizes[u])]
            seen.update(s for i, s in enumerate(stream) if plan.keeps(i))
    assert set(seen.values()) == {1}
    assert sum(seen.values()) == sum(sizes.values())
