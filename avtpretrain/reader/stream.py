"""The WebDataset pipeline as named stages (the only module that imports webdataset).

Training, per (rank, worker):
  resampled shard urls (seeded by seed, rank, worker, epoch; datasets mixed by weight)
  → tar → shuffle buffer of raw bytes → skip (resume) → decode (late: the buffer stays small)
  → drop undecodable → batch → exactly `batches_per_worker` batches.
Every rank steps the same number of times per epoch, so no collective waits on an empty rank.
Evaluation: every shard once, split by rank then by worker → tar → decode → batch (last one
partial): each sample is seen exactly once across all ranks.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from avtpretrain.contract.batch import Batch
from avtpretrain.dist import DistInfo
from avtpretrain.reader.counters import Counters
from avtpretrain.reader.remote import Retry, is_url, read_shards
from avtpretrain.reader.samples import Collator, DecodeError, SampleDecoder
from avtpretrain.reader.shards import ShardSet
from avtpretrain.reader.shuffle import bounded_shuffle

log = logging.getLogger(__name__)


def make_seed(*parts: int | str) -> int:
    """A 63-bit seed from parts; stable across processes and Python runs (unlike hash())."""
    return random.Random(":".join(map(str, parts))).getrandbits(63)


@dataclass
class DataState:
    """Where a rank is in its data stream; goes into the checkpoint and back.

    `emitted[w]` counts samples that logical worker w took out of its shuffle buffer (decodable or
    not), so a resumed worker rebuilds the same stream and skips them without decoding.
    """

    epoch: int = 0
    batches: int = 0
    emitted: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batches": self.batches, "emitted": list(self.emitted)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataState:
        return cls(int(data["epoch"]), int(data["batches"]), [int(x) for x in data["emitted"]])


@dataclass(frozen=True)
class StreamSpec:
    shards: ShardSet
    batch_size: int
    dist: DistInfo
    num_workers: int
    seed: int
    shuffle_buffer: int
    decoder: SampleDecoder
    collator: Collator
    max_consecutive_skips: int
    shuffle_initial: int = 1000  # at most shuffle_buffer
    pin_memory: bool = False
    retry: Retry = field(default_factory=Retry)  # for shards behind URLs
    shuffle_bytes: int = 2**62  # the buffer's bound in raw sample bytes, per worker


def shard_reader(spec: StreamSpec, counters: Counters) -> Callable[[Iterator[dict]], Iterator]:
    """{"url"} items -> raw samples: webdataset's own reader for local shards; with any URL in
    the set, fsspec with retries for those (reader/remote.py)."""
    if any(is_url(u) for u in spec.shards.urls):
        return lambda urls: read_shards(urls, spec.retry, counters)
    return wds.tarfile_to_samples(handler=counters.handler)


def worker_slot() -> tuple[int, int]:
    info = get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


def decoded_samples(samples: Iterator[dict], decoder: SampleDecoder, seed: int, counters: Counters):
    """Decode late (after the shuffle buffer); count and drop what fails.

    Each sample's randomness (frames, crops, caption) is seeded by its position in the stream, so
    a resumed worker that skipped samples without decoding them draws exactly what it would have.
    """
    for raw in samples:
        position = counters.counts["samples_read"]
        counters.counts["samples_read"] += 1
        try:
            sample = decoder(raw, random.Random(make_seed(seed, "sample", position)))
        except DecodeError as err:
            log.warning("skipping sample %s: %s", raw.get("__key__"), err)
            counters.skipped(err.reason)
            continue
        counters.read_one()
        yield sample


def batched(samples, size: int, collate: Callable, seed: int, first: int, partial: bool):
    """Collate `size` samples at a time; batch i's masks are seeded by (seed, first + i)."""
    buf, index = [], first
    for sample in samples:
        buf.append(sample)
        if len(buf) == size:
            yield collate(buf, torch.Generator().manual_seed(make_seed(seed, "batch", index)))
            buf, index = [], index + 1
    if buf and partial:
        yield collate(buf, torch.Generator().manual_seed(make_seed(seed, "batch", index)))


class TrainDataset(IterableDataset):
    """Training batches for one rank from `state` on, epoch after epoch (the workers live across
    epochs: no restart stall); each loader worker plays one logical worker."""

    def __init__(self, spec: StreamSpec, state: DataState, batches_per_worker: int) -> None:
        super().__init__()
        self.spec, self.state, self.per_worker = spec, state, batches_per_worker

    def __iter__(self) -> Iterator[Batch]:
        physical, workers = worker_slot()
        # Batch j of an epoch always comes from logical worker j % workers; after a resume at
        # batch b the loader restarts at physical worker 0, which therefore plays worker b % W.
        # An epoch is a multiple of W batches, so the same holds in every later epoch.
        logical = (physical + self.state.batches) % workers
        state = self.state
        while True:
            yield from self._epoch(state, logical, workers)
            state = DataState(epoch=state.epoch + 1, emitted=[0] * workers)

    def _epoch(self, state: DataState, logical: int, workers: int) -> Iterator[Batch]:
        spec = self.spec
        done = max(0, -(-(state.batches - logical) // workers))
        seed = make_seed(spec.seed, spec.dist.rank, logical, state.epoch)
        counters = Counters(spec.shards.describe(), spec.max_consecutive_skips)
        urls = self._urls(random.Random(make_seed(seed, "urls")), counters)
        raw = counters.readable(shard_reader(spec, counters)(urls))
        shuffle_rng = random.Random(make_seed(seed, "shuffle"))
        fill = min(spec.shuffle_initial, spec.shuffle_buffer)
        shuffled = bounded_shuffle(raw, spec.shuffle_buffer, spec.shuffle_bytes, fill, shuffle_rng)
        skip = state.emitted[logical] if state.emitted else 0
        for _ in range(skip):  # resume: same stream, already-used samples dropped undecoded
            next(shuffled)
        counters.counts["samples_read"] = skip
        decoded = decoded_samples(shuffled, spec.decoder, seed, counters)
        batches = batched(decoded, spec.batch_size, spec.collator, seed, done, partial=False)
        for _ in range(self.per_worker - done):
            batch = next(batches)
            batch["data_pos"] = (logical, counters.counts["samples_read"])
            batch["counters"] = dict(counters.counts)
            yield batch

    def _urls(self, rng: random.Random, counters: Counters) -> Iterator[dict[str, str]]:
        urls = self.spec.shards.urls
        # Summed once: choices(weights=) would re-sum every weight at each draw (the same picks).
        cumulative = list(itertools.accumulate(self.spec.shards.weights))
        while True:
            counters.counts["shards_opened"] += 1
            yield {"url": rng.choices(urls, cum_weights=cumulative)[0]}


def make_loader(dataset: IterableDataset, num_workers: int, pin_memory: bool = False) -> DataLoader:
    # Its own generator: a DataLoader draws a base seed from the global torch RNG each time an
    # iterator starts, which would shift the model's random stream (dropout, negatives) on resume.
    # Our workers seed themselves from the stream's seed, so this draw is never used.
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator(),
    )


class TrainStream:
    """Training batches for one rank, epoch after epoch, with a resumable position (`state`)."""

    def __init__(self, spec: StreamSpec, state: DataState | None = None, samples_per_epoch=None):
        self.spec = spec
        self.workers = max(spec.num_workers, 1)
        total = samples_per_epoch or spec.shards.total_samples
        per_rank = total // (spec.dist.world_size * spec.batch_size)
        # Equal on every rank and a multiple of the workers, so each worker yields the same count.
        self.per_worker = max(1, per_rank // self.workers)
        self.batches_per_epoch = self.per_worker * self.workers
        self.state = self._checked(state or DataState(emitted=[0] * self.workers))
        self._counters: dict[int, dict[str, int]] = {}
        self._batches: Iterator[Batch] | None = None  # one loader, kept across epochs

    def state_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from a saved position (same data.num_workers as when it was saved)."""
        self.state = self._checked(DataState.from_dict(saved))
        self._batches = None  # the loader restarts from the new position

    def _checked(self, state: DataState) -> DataState:
        if len(state.emitted) != self.workers:
            raise ValueError(
                f"the saved data position is from a run with {len(state.emitted)} data workers; "
                f"resume with data.num_workers={len(state.emitted)}"
            )
        return state

    def __len__(self) -> int:
        """Batches left in the current epoch."""
        return self.batches_per_epoch - self.state.batches

    def __iter__(self) -> Iterator[Batch]:
        """The rest of the current epoch; afterwards `state` points at the next epoch's start."""
        if self._batches is None:
            start = DataState.from_dict(self.state.to_dict())  # workers get a frozen copy
            dataset = TrainDataset(self.spec, start, self.per_worker)
            self._batches = iter(make_loader(dataset, self.spec.num_workers, self.spec.pin_memory))
        while len(self):
            batch = next(self._batches)
            logical, emitted = batch.pop("data_pos")
            self._counters[logical] = batch.pop("counters")
            self.state.emitted[logical] = emitted
            self.state.batches += 1
            yield batch
        self.state = DataState(epoch=self.state.epoch + 1, emitted=[0] * self.workers)

    def counters(self) -> dict[str, int]:
        """Samples read, skipped by reason, shards opened: summed over this rank's workers."""
        total: Counter[str] = Counter()
        for counts in self._counters.values():
            total.update(counts)
        return dict(total)
