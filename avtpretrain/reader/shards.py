"""Resolving shard specs (folders with sizes.json, brace patterns, single tars, URLs and URL
patterns, shard-list files) into a ShardSet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import braceexpand

from avtpretrain.contract import format as fmt
from avtpretrain.reader.remote import expand_url_spec, is_url


@dataclass(frozen=True)
class ShardSet:
    urls: list[str]
    sizes: list[int | None]  # samples per shard; None where no sizes.json names the shard
    weights: list[float]  # sampling weight per shard (training mixes datasets with these)
    specs: tuple[str, ...] = ()

    @property
    def total_samples(self) -> int:
        if any(s is None for s in self.sizes):
            raise ValueError(
                f"{self.describe()}: some shards have no sizes.json entry; "
                "set data.samples_per_epoch to size an epoch"
            )
        return sum(self.sizes)  # type: ignore[arg-type]

    def describe(self) -> str:
        return ", ".join(self.specs) or "<no shards>"


def _expand(spec: str) -> tuple[list[str], list[int | None]]:
    if is_url(spec) or spec.endswith(".txt"):  # URLs, URL patterns and shard-list files
        return expand_url_spec(spec)
    path = Path(spec)
    if path.is_dir():
        sizes = fmt.read_sizes(path)
        missing = [name for name in sizes if not (path / name).is_file()]
        if missing:
            raise ValueError(
                f"{path / fmt.SIZES_FILE} lists {len(missing)} shard(s) not in the folder, "
                f"e.g. {missing[0]}"
            )
        return [str(path / name) for name in sizes], list(sizes.values())
    urls = list(braceexpand.braceexpand(spec))
    missing = [u for u in urls if not Path(u).is_file()]
    if missing:
        raise ValueError(f"{spec}: no such shard {missing[0]} (expected a folder, pattern or .tar)")
    found: list[int | None] = []
    for url in urls:
        folder = Path(url).parent
        sizes = fmt.read_sizes(folder) if (folder / fmt.SIZES_FILE).is_file() else {}
        found.append(sizes.get(Path(url).name))
    return urls, found


def resolve_shards(specs: list[str], weights: list[float] | None = None) -> ShardSet:
    """All shards of `specs` with the odds of drawing each. A drawn shard is read whole, so a
    shard's odds must not grow with its size: equal odds for every shard of a dataset make every
    one of its samples equally likely, and dataset i's shards share weights[i] / its sample count
    each, so that dataset i gives a weights[i] share of the samples. Without weights every sample
    is equally likely (datasets mix by size).
    """
    if not specs:
        raise ValueError("no shards configured (data.train_shards / data.val_shards is empty)")
    urls: list[str] = []
    sizes: list[int | None] = []
    shard_weights: list[float] = []
    for i, spec in enumerate(specs):
        these, counts = _expand(spec)
        if not these:
            raise ValueError(f"{spec}: no shards listed")
        known = [c if c is not None else 1 for c in counts]
        if sum(known) == 0:
            raise ValueError(f"{spec}: every listed shard is empty (0 samples in sizes.json)")
        # An empty shard (0 in sizes.json) is never drawn: it would give nothing.
        odds = weights[i] / sum(known) if weights else 1.0
        shard_weights += [odds if c else 0.0 for c in known]
        urls += these
        sizes += counts
    return ShardSet(urls, sizes, shard_weights, tuple(specs))
