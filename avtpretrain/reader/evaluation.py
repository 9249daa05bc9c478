"""Evaluation batches: every sample of the evaluation shards exactly once across ranks and loader
workers, whatever their number.

With at least as many shards as readers (ranks x workers), each reader reads its own shards. With
fewer, splitting by shard would leave readers without data: then every reader reads every shard in
the same order and keeps every R-th sample (sample i goes to reader i mod R). That reads the set R
times, which only happens for small evaluation sets, and needs no minimum shard count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import IterableDataset

from avtpretrain.contract.batch import Batch
from avtpretrain.reader.counters import Counters
from avtpretrain.reader.stream import (
    StreamSpec,
    batched,
    decoded_samples,
    make_loader,
    make_seed,
    shard_reader,
    worker_slot,
)


@dataclass(frozen=True)
class ReaderPlan:
    """What one reader reads: these shards, in order, keeping sample i when i % stride == offset."""

    urls: list[str]
    stride: int
    offset: int

    def keeps(self, index: int) -> bool:
        return index % self.stride == self.offset


def reader_plan(urls: list[str], rank: int, world: int, worker: int, workers: int) -> ReaderPlan:
    """Reader (rank, worker)'s share of an evaluation set: by shard when there are enough shards,
    else by sample."""
    readers, reader = world * workers, rank * workers + worker
    if len(urls) >= readers:
        return ReaderPlan(urls[rank::world][worker::workers], 1, 0)
    return ReaderPlan(list(urls), readers, reader)


class EvalDataset(IterableDataset):
    def __init__(self, spec: StreamSpec) -> None:
        super().__init__()
        self.spec = spec

    def __iter__(self) -> Iterator[Batch]:
        spec = self.spec
        worker, workers = worker_slot()
        plan = reader_plan(spec.shards.urls, spec.dist.rank, spec.dist.world_size, worker, workers)
        counters = Counters()
        counters.counts["shards_opened"] = len(plan.urls)
        raw = shard_reader(spec, counters)({"url": u} for u in plan.urls)
        mine = (sample for i, sample in enumerate(raw) if plan.keeps(i))
        seed = make_seed(spec.seed, spec.dist.rank, worker)
        decoded = decoded_samples(mine, spec.decoder, seed, counters)
        for batch in batched(decoded, spec.batch_size, spec.collator, seed, 0, partial=True):
            batch["counters"] = dict(counters.counts)
            yield batch


def eval_batches(spec: StreamSpec) -> Iterator[Batch]:
    """Every sample of the eval shards exactly once across ranks; `counters` ride on each batch."""
    # A shard deleted since the run started would be skipped as unreadable, and the results
    # would silently cover fewer samples than the evaluation set holds.
    gone = [u for u in spec.shards.urls if "://" not in u and not Path(u).is_file()]
    if gone:
        raise FileNotFoundError(
            f"{spec.shards.describe()}: {len(gone)} evaluation shard(s) no longer exist, "
            f"e.g. {gone[0]}"
        )
    return iter(make_loader(EvalDataset(spec), spec.num_workers))


def first_samples(batches: Iterator[Batch], n: int | None) -> Iterator[Batch]:
    """At most `n` samples of `batches` (the last batch cut short); all of them for None."""
    left = n
    for batch in batches:
        if left is None:
            yield batch
            continue
        size = len(batch["keys"])
        if size > left:
            batch = {
                k: v[:left] if isinstance(v, list | torch.Tensor) else v for k, v in batch.items()
            }
        yield batch
        left -= min(size, left)
        if left == 0:
            return
