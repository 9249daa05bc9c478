"""Map-style finetuning data: rank split, resume, replacement of undecodable items."""

import random

import torch

from avtpretrain.dist import DistInfo
from avtpretrain.reader.mapped import Items, MapStream, eval_loader
from avtpretrain.reader.samples import DecodeError

BROKEN = {5, 11}


def load(i: int, rng: random.Random) -> dict:
    if i in BROKEN:
        raise DecodeError("video decode failed")
    return {"item": i, "draw": rng.random()}


def collate(samples: list[dict]) -> dict:
    return {"keys": [s["item"] for s in samples], "draw": [s["draw"] for s in samples]}


def stream(rank: int, world: int = 2) -> MapStream:
    items = Items(30, load, seed=1, replace_failed=True)
    return MapStream(
        items, collate, batch_size=4, dist=DistInfo(rank, world), num_workers=0, seed=1
    )


def test_ranks_step_equally_and_share_no_item_within_an_epoch() -> None:
    batches = {r: list(stream(r)) for r in (0, 1)}
    assert len(batches[0]) == len(batches[1]) == 3  # 30 items // (2 ranks * 4)
    positions = [i for r in (0, 1) for b in batches[r] for i in b["index"].tolist()]
    assert len(positions) == len(set(positions)) == 24


def test_undecodable_items_are_replaced_and_counted() -> None:
    items = Items(30, load, seed=1, replace_failed=True)
    s = MapStream(items, collate, batch_size=10, dist=DistInfo(), num_workers=0, seed=1)
    seen = [k for batch in s for k in batch["keys"]]
    assert len(seen) == 30 and not BROKEN & set(seen)
    assert s.counters()["skipped/video decode failed"] == 2
    assert s.counters()["samples_read"] == 30


def test_resume_continues_with_the_same_batches() -> None:
    full = [b["keys"] for b in stream(0)]
    first = stream(0)
    it = iter(first)
    head = [next(it)["keys"]]
    resumed = stream(0)
    resumed.load_state_dict(first.state_dict())
    assert head + [b["keys"] for b in resumed] == full
    assert resumed.state.epoch == 1 and resumed.state.batches == 0


def test_epochs_reshuffle_deterministically() -> None:
    a, b = stream(0), stream(0)
    epoch0, epoch1 = [x["keys"] for x in a], [x["keys"] for x in a]
    assert epoch0 != epoch1
    assert [x["keys"] for x in b] == epoch0


def test_evaluation_sees_every_item_once_and_reports_failures() -> None:
    items = Items(30, load, seed=1, replace_failed=False)
    seen, failed = [], []
    for rank in (0, 1, 2):
        for batch in eval_loader(
            items, collate, batch_size=4, dist=DistInfo(rank, 3), num_workers=0
        ):
            seen += batch["keys"]
            failed += batch["failed"]
            assert torch.equal(batch["index"], torch.tensor(batch["keys"]))
    assert sorted(seen + failed) == list(range(30))
    assert sorted(failed) == sorted(BROKEN)


def test_long_lived_workers_load_the_same_batches_every_epoch() -> None:
    def epochs(workers: int) -> list:
        items = Items(30, load, seed=1, replace_failed=True)
        s = MapStream(items, collate, batch_size=4, dist=DistInfo(), num_workers=workers, seed=1)
        return [[(b["keys"], b["draw"]) for b in s] for _ in range(3)]

    assert epochs(1) == epochs(0)
