"""Training data assignment at cluster scale (64 and 512 ranks x 8 workers), simulated in-process
over a synthetic sizes table through the real TrainStream, TrainDataset and resolve_shards code.

The design (reader/stream.py): training does not split shards between readers. Every
(rank, logical worker, epoch) draws shards with replacement, by weight (without
data.train_weights every shard weighs the same), from a seed of its own; its stream never runs
dry, and every rank takes `batches_per_epoch` batches an epoch, batch j from logical worker j % W.

For three epochs this proves:
1. every rank yields exactly `len(stream) == batches_per_epoch` batches, batch j from worker j % W;
2. all readers' shard sequences differ (rank, worker and epoch all reach the seed), and shards are
   drawn in proportion to their weight;
3. a position saved after k batches of epoch e and loaded into a fresh stream continues with
   exactly the uninterrupted run's batches (samples, their decode draws, batch mask seeds).
4. every sample is equally likely, whatever the size of its shard (a shard is drawn, then read
   whole: its odds must not grow with its size); shown at 2 ranks, see its docstring.

Replaced: tar reading (a shard yields sizes[url] samples, its sample 7 undecodable; the reader
takes its first PEEK urls before reading them, which records them without changing the stream) and
torch's DataLoader (W in-process workers stepped in turn, as DataLoader orders an IterableDataset's
batches, worker_slot() answering for the one stepped). The cost is two Random seedings per sample
(decoded_samples, make_seed), so the 512-rank epoch is capped with samples_per_epoch, the real
data.samples_per_epoch path, rather than its whole table.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import chain, count, islice

import pytest
import torch

import avtpretrain.reader.shards as shards_module
import avtpretrain.reader.stream as stream_module
from avtpretrain.dist import DistInfo
from avtpretrain.reader.samples import DecodeError
from avtpretrain.reader.shards import resolve_shards
from avtpretrain.reader.stream import StreamSpec, TrainStream

WORKERS, BATCH, EPOCHS, BUFFER, PEEK = 8, 2, 3, 16, 4
# (ranks, shards, samples_per_epoch)
SCALES = [(64, 1200, None), (512, 4200, 24_576)]
Drawn = dict[tuple[int, int], list[list[str]]]  # (rank, physical worker) -> urls per epoch


class Fakes:
    """The tar reader and the DataLoader, in-process; records the urls each reader draws."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes, self.slot = sizes, (0, 1)
        self.drawn: Drawn = defaultdict(list)

    def shard_reader(self, spec: StreamSpec, counters: object):
        drawn = self.drawn[spec.dist.rank, self.slot[0]]
        drawn.append([])

        def read(items: Iterator[dict]) -> Iterator[dict]:
            head = list(islice(items, PEEK))
            drawn[-1].extend(item["url"] for item in head)
            for i, item in enumerate(chain(head, items)):  # items never end
                if i >= PEEK:
                    drawn[-1].append(item["url"])
                for j in range(self.sizes[item["url"]]):
                    yield {"__key__": f"{item['url']}/{j}"}

        return read

    def make_loader(self, dataset, num_workers: int, pin_memory: bool = False):
        workers = max(num_workers, 1)
        iterators = [iter(dataset) for _ in range(workers)]
        for i in count():
            self.slot = (i % workers, workers)
            yield next(iterators[i % workers])

    def worker_slot(self) -> tuple[int, int]:
        return self.slot


def decode(raw: dict, rng: random.Random) -> dict:
    if raw["__key__"].endswith("/7"):  # dropped, yet counted in the saved position
        raise DecodeError("synthetic")
    return {"key": raw["__key__"], "draw": rng.getrandbits(32)}


def collate(samples: list[dict], generator: torch.Generator) -> dict:
    keys = tuple(s["key"] for s in samples)
    return {
        "keys": keys,
        "draws": tuple(s["draw"] for s in samples),
        "seed": generator.initial_seed(),
    }


@dataclass
class Scale:
    """One simulated run: the sizes table, a spec per rank, and what every rank yielded."""

    world: int
    sizes: dict[str, int]
    specs: list[StreamSpec]
    epoch_samples: int | None
    drawn: Drawn
    batches: dict[tuple[int, int], list[tuple[int, tuple[str, ...]]]]  # (epoch, rank) -> batches
    lengths: set[int]  # len(stream) at every rank's every epoch start

    def stream(self, rank: int) -> TrainStream:
        return TrainStream(self.specs[rank], None, self.epoch_samples)


def patch(monkeypatch: pytest.MonkeyPatch, fakes: Fakes) -> None:
    for name in ("shard_reader", "make_loader", "worker_slot"):
        monkeypatch.setattr(stream_module, name, getattr(fakes, name))
    monkeypatch.setattr(stream_module.log, "disabled", True)  # a warning per undecodable sample


def make_specs(world: int, shards: int, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, list]:
    rng = random.Random(world)
    sizes = {f"s{i:05d}.tar": rng.randint(1, 40) for i in range(shards)}
    # Only the folder listing is synthetic: resolve_shards weighs the shards.
    monkeypatch.setattr(shards_module, "_expand", lambda _: (list(sizes), list(sizes.values())))
    spec = StreamSpec(
        shards=resolve_shards(["synthetic"]),
        batch_size=BATCH,
        dist=DistInfo(0, world),
        num_workers=WORKERS,
        seed=1234,
        shuffle_buffer=BUFFER,
        shuffle_initial=BUFFER,
        decoder=decode,  # type: ignore[arg-type]
        collator=collate,  # type: ignore[arg-type]
        max_consecutive_skips=10,
    )
    return sizes, [replace(spec, dist=DistInfo(rank, world)) for rank in range(world)]


def epoch_batches(stream: TrainStream) -> list[tuple[int, tuple[str, ...]]]:
    """The rest of the epoch, each batch with the one logical worker whose position it moved."""
    out, before = [], list(stream.state.emitted)
    for batch in stream:
        moved = [w for w in range(WORKERS) if stream.state.emitted[w] != before[w]]
        assert len(moved) == 1, f"one batch moved the positions of workers {moved}"
        out.append((moved[0], batch["keys"]))
        before = list(stream.state.emitted)
    return out


@pytest.fixture(scope="module", params=SCALES, ids=lambda s: f"{s[0]}x{WORKERS}")
def scale(request: pytest.FixtureRequest) -> Iterator[Scale]:
    world, shards, epoch_samples = request.param
    with pytest.MonkeyPatch.context() as monkeypatch:
        sizes, specs = make_specs(world, shards, monkeypatch)
        fakes = Fakes(sizes)
        patch(monkeypatch, fakes)
        run = Scale(world, sizes, specs, epoch_samples, fakes.drawn, {}, set())
        for rank in range(world):
            stream = run.stream(rank)
            for epoch in range(EPOCHS):
                assert stream.state.epoch == epoch
                run.lengths.add(len(stream))
                run.batches[epoch, rank] = epoch_batches(stream)
        yield run


def test_every_rank_yields_the_same_number_of_batches_every_epoch(scale: Scale) -> None:
    (length,) = scale.lengths  # what the loop plans its steps with
    assert length == scale.stream(scale.world - 1).batches_per_epoch > 0
    # An epoch is the samples asked for, less at most one batch per reader (whole rounds).
    asked = scale.epoch_samples or sum(scale.sizes.values())
    assert 0 <= asked - length * BATCH * scale.world < WORKERS * BATCH * scale.world
    assert len(scale.batches) == EPOCHS * scale.world
    for (epoch, rank), batches in scale.batches.items():
        assert len(batches) == length, (epoch, rank)
        assert [w for w, _ in batches] == [j % WORKERS for j in range(length)], (epoch, rank)
        assert {len(keys) for _, keys in batches} == {BATCH}


def rates(uses: Counter[str], sizes: dict[str, int], per_sample: bool = True) -> dict[str, float]:
    """Uses per sample (or per shard) of shards with 1-10 samples and with 31-40."""
    out = {}
    for name, keep in (("small", range(1, 11)), ("large", range(31, 41))):
        urls = [u for u, n in sizes.items() if n in keep]
        out[name] = sum(uses[u] for u in urls) / sum(sizes[u] if per_sample else 1 for u in urls)
    return out


def test_each_reader_draws_its_own_shards_by_weight(scale: Scale) -> None:
    assert len(scale.drawn) == scale.world * WORKERS
    assert {len(epochs) for epochs in scale.drawn.values()} == {EPOCHS}
    # Two independent readers draw the same 4 shards in a row with odds near 1e-12.
    heads = [tuple(urls[:PEEK]) for epochs in scale.drawn.values() for urls in epochs]
    assert len(set(heads)) == len(heads) == scale.world * WORKERS * EPOCHS
    draws = Counter(url for epochs in scale.drawn.values() for urls in epochs for url in urls)
    # A drawn shard is read whole, so every shard weighs the same: small and large ones are drawn
    # alike (and their samples used alike, below).
    rate = rates(draws, scale.sizes, per_sample=False)
    assert 0.8 < rate["large"] / rate["small"] < 1.25, rate


def test_every_sample_is_equally_likely(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the size of its shard. Each epoch cuts every reader's last shard short and leaves
    its buffer unread, which tells against large shards by about (shard / 2 + buffer) / (samples
    a reader takes an epoch): at cluster scale a reader takes only a few shards of this table, so
    this runs at 2 ranks x 8 workers, where each takes about 500."""
    sizes, specs = make_specs(2, 400, monkeypatch)
    patch(monkeypatch, Fakes(sizes))
    used: Counter[str] = Counter()
    for spec in specs:
        stream = TrainStream(spec)
        for _ in range(EPOCHS):
            used.update(k.rsplit("/", 1)[0] for _, keys in epoch_batches(stream) for k in keys)
    rate = rates(used, sizes)
    assert 0.8 < rate["large"] / rate["small"] < 1.25, rate


def test_a_saved_position_resumes_the_uninterrupted_order(
    scale: Scale, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch(monkeypatch, Fakes(scale.sizes))

    def full(batch: dict) -> tuple:
        return batch["keys"], batch["draws"], batch["seed"]

    length = scale.stream(0).batches_per_epoch
    # After one batch; mid-round of the workers; after an epoch's last batch but before the
    # stream noticed the epoch's end (where the loop's save hook sits); at an epoch's start.
    points = [(0, 1), (1, WORKERS + 3), (0, length), (1, 0)]
    for rank in (0, scale.world // 2 + 1, scale.world - 1):
        uninterrupted = scale.stream(rank)
        reference = [full(b) for _ in range(EPOCHS) for b in uninterrupted]
        keys = [k for e in range(EPOCHS) for _, k in scale.batches[e, rank]]
        assert [r[0] for r in reference] == keys  # a fresh stream replays the simulated one
        for epoch, k in points:
            interrupted = scale.stream(rank)
            head = [full(b) for _ in range(epoch) for b in interrupted]
            head += [full(b) for b in islice(iter(interrupted), k)]
            saved = json.loads(json.dumps(interrupted.state_dict()))  # as a checkpoint holds it
            assert (saved["epoch"], saved["batches"]) == (epoch, k)
            resumed = scale.stream(rank)
            resumed.load_state_dict(saved)
            rest = [full(b) for _ in range(epoch, EPOCHS) for b in resumed]
            assert head + rest == reference, (rank, epoch, k)
