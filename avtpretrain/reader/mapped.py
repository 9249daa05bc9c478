"""Map-style data for finetuning: annotation rows read in any order, resumable, rank-aware.

Training: each epoch one seeded permutation of the items, cut to a whole number of global batches
so every rank steps equally often; rank r takes every world-th item. A resumed run skips whole
batches without decoding them. Each item's randomness is seeded by (seed, epoch, item), so it does
not depend on the worker that decodes it. An undecodable item is counted and replaced by the next
one (training keeps fixed-size batches); in evaluation it is counted and dropped.
Evaluation: rank r gets items r, r + world, ...: every item exactly once over all ranks.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from avtpretrain.contract.batch import Batch
from avtpretrain.dist import DistInfo
from avtpretrain.reader.samples import DecodeError
from avtpretrain.reader.stream import DataState, make_seed

# (item index, its random stream) → a decoded sample dict; raises DecodeError.
LoadFn = Callable[[int, random.Random], dict[str, Any]]
RETRIES = 8


class Items(Dataset):
    """Indexed by (epoch, item); returns the sample, or a marker when it could not be decoded."""

    def __init__(self, size: int, load: LoadFn, seed: int, *, replace_failed: bool) -> None:
        self.size, self.load, self.seed, self.replace = size, load, seed, replace_failed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, where: tuple[int, int]) -> dict[str, Any]:
        epoch, index = where
        skipped: list[str] = []
        for attempt in range(RETRIES if self.replace else 1):
            item = (index + attempt) % self.size
            try:
                sample = self.load(item, random.Random(make_seed(self.seed, epoch, item)))
            except DecodeError as err:
                skipped.append(err.reason)
                continue
            return sample | {"index": index, "skipped": skipped}
        if self.replace:
            raise RuntimeError(f"{RETRIES} items in a row from item {index} failed: {skipped}")
        return {"index": index, "skipped": skipped, "failed": True}


class CollateItems:
    """Wrap a collate function: drop failed items, carry indices and skip counts along."""

    def __init__(self, collate: Callable[[list[dict]], dict]) -> None:
        self.collate = collate

    def __call__(self, items: list[dict]) -> dict:
        ok = [s for s in items if not s.get("failed")]
        batch = self.collate(ok) if ok else {}
        batch["index"] = torch.tensor([s["index"] for s in ok], dtype=torch.long)
        batch["failed"] = [s["index"] for s in items if s.get("failed")]
        batch["skipped"] = Counter(r for s in items for r in s["skipped"])
        return batch


def _loader(items: Items, batches, collate, workers: int, persistent: bool = False) -> DataLoader:
    return DataLoader(
        items,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=CollateItems(collate),
        persistent_workers=persistent and workers > 0,
        generator=torch.Generator(),  # never draw from the global RNG (see reader.stream)
    )


class _Schedule:
    """The batch sampler of a persistent loader: the main process iterates it once per epoch,
    so setting `batches` before each epoch changes what the long-lived workers load."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int]]] = []

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class MapStream:
    """A `engine.stream.Stream` over items: map-style, rank-split, resumable exactly."""

    def __init__(
        self, items: Items, collate, *, batch_size: int, dist: DistInfo, num_workers: int, seed: int
    ) -> None:
        per_rank = items.size // (dist.world_size * batch_size)
        if per_rank < 1:
            raise ValueError(
                f"{items.size} training items cannot fill one batch of {batch_size} on each of "
                f"{dist.world_size} rank(s)"
            )
        self.items, self.dist, self.batch_size, self.seed = items, dist, batch_size, seed
        self.batches_per_epoch = per_rank
        self.state = DataState()
        self._counts: Counter[str] = Counter()
        self._schedule = _Schedule()
        # Workers live across epochs: forking them anew each epoch cost a visible pause.
        self._loader = _loader(items, self._schedule, collate, num_workers, persistent=True)

    def state_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.state = DataState.from_dict(saved)

    def __len__(self) -> int:
        return self.batches_per_epoch - self.state.batches

    def _batches(self, epoch: int) -> list[list[tuple[int, int]]]:
        gen = torch.Generator().manual_seed(make_seed(self.seed, "epoch", epoch))
        used = self.batches_per_epoch * self.dist.world_size * self.batch_size
        order = torch.randperm(self.items.size, generator=gen)[:used].tolist()
        mine = order[self.dist.rank :: self.dist.world_size]
        b = self.batch_size
        return [[(epoch, i) for i in mine[k : k + b]] for k in range(0, len(mine), b)]

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.state.epoch
        self._schedule.batches = self._batches(epoch)[self.state.batches :]
        for batch in self._loader:
            self._counts["samples_read"] += len(batch["index"])
            self._counts.update({f"skipped/{k}": v for k, v in batch.pop("skipped").items()})
            self.state.batches += 1
            yield batch
        self.state = DataState(epoch=epoch + 1)

    def counters(self) -> dict[str, int]:
        return dict(self._counts)


def eval_loader(items: Items, collate, *, batch_size: int, dist: DistInfo, num_workers: int):
    """This rank's share of the items (rank, rank + world, ...), in batches, each once."""
    mine = list(range(dist.rank, items.size, dist.world_size))
    batches = [[(0, i) for i in mine[k : k + batch_size]] for k in range(0, len(mine), batch_size)]
    return _loader(items, batches, collate, num_workers)
