"""Loader workers live across epochs, and the order stays exactly that of fresh per-epoch starts
(so resume, which restarts the loader, stays exact); the first batch needs only a small fill."""

from __future__ import annotations

from avtpretrain.dist import DistInfo
from avtpretrain.reader.loaders import train_stream
from avtpretrain.reader.stream import DataState, TrainStream
from tests.reader.recipes import config
from tests.reader.test_stream import flatten, same


def _stream(corpus, state: DataState | None = None, *extra: str) -> TrainStream:
    cfg = config(corpus, "data.num_workers=2", *extra)
    return train_stream(cfg.model, cfg.data, batch_size=1, dist=DistInfo(), seed=0, state=state)


def _epoch(stream: TrainStream) -> list:
    return flatten(list(stream))


def test_one_loader_serves_every_epoch_with_the_order_of_fresh_starts(corpus) -> None:
    s = _stream(corpus)
    first = _epoch(s)
    loader = s._batches
    second = _epoch(s)
    assert s._batches is loader and s.state.epoch == 2  # the same workers, no restart
    fresh = _stream(corpus, DataState(epoch=1, emitted=[0, 0]))
    assert same(second, _epoch(fresh))
    assert [b[0] for b in first] != [b[0] for b in second]  # a new epoch is a new order


def test_resume_mid_epoch_stays_exact_into_the_next_epoch(corpus) -> None:
    uninterrupted = _stream(corpus)
    reference = _epoch(uninterrupted) + _epoch(uninterrupted)
    interrupted = _stream(corpus)
    head = [b for _, b in zip(range(5), interrupted, strict=False)]
    resumed = _stream(corpus, DataState.from_dict(interrupted.state.to_dict()))
    rest = list(resumed) + list(resumed)
    assert same(flatten(head + rest), reference)


def test_the_shuffle_buffer_starts_from_a_small_fill(corpus, monkeypatch) -> None:
    import avtpretrain.reader.stream as stream_module

    fills = []
    real = stream_module.bounded_shuffle

    def spy(samples, max_samples, max_bytes, initial, rng):
        fills.append((max_samples, initial))
        return real(samples, max_samples, max_bytes, initial, rng)

    monkeypatch.setattr(stream_module, "bounded_shuffle", spy)
    for initial in (3, 50):  # never more than the buffer itself
        sizes = ("data.shuffle_buffer=12", f"data.shuffle_initial={initial}")
        cfg = config(corpus, "data.num_workers=0", *sizes)
        s = train_stream(cfg.model, cfg.data, batch_size=1, dist=DistInfo(), seed=0)
        next(iter(s))
    assert fills == [(12, 3), (12, 12)]
