"""The shuffle buffer bounded in bytes as well as samples: webdataset's order while under the
bound, a bounded buffer past it, and a start-up refusal when the buffers cannot fit."""

from __future__ import annotations

import random

import pytest
import webdataset as wds

from avtpretrain.config import DataConfig
from avtpretrain.reader.shuffle import bounded_shuffle, sample_bytes
from avtpretrain.run.inputs import InputError, _shuffle_memory


def _samples(n: int, size: int) -> list[dict]:
    return [{"__key__": f"k{i}", "mp4": bytes(size)} for i in range(n)]


def test_under_the_byte_bound_the_order_is_webdatasets() -> None:
    data = _samples(300, 10)
    ours = bounded_shuffle(data, 50, 2**40, 20, random.Random(7))
    theirs = wds.shuffle(50, initial=20, rng=random.Random(7))(iter(data))
    assert [s["__key__"] for s in ours] == [s["__key__"] for s in theirs]


def test_the_buffer_stops_growing_at_the_byte_bound() -> None:
    data = _samples(200, 1000)
    held: list[int] = []
    out, seen, keys = [], 0, set()

    def counting():
        nonlocal seen
        for sample in data:
            seen += 1
            yield sample

    for sample in bounded_shuffle(counting(), 1000, 10_000, 500, random.Random(0)):
        out.append(sample)
        held.append(seen - len(out))  # samples read but not yet given out: the buffer
        keys.add(sample["__key__"])
    assert len(out) == 200 and len(keys) == 200  # nothing lost, nothing twice
    # 10 kB of 1 kB samples: about 10 in the buffer (one more may arrive with a pick), not 500.
    assert max(held) <= 11 and held[0] <= 11
    assert sample_bytes(data[0]) == 1000


def test_buffers_that_cannot_fit_in_memory_are_refused_at_start(monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    monkeypatch.setattr("os.sysconf", lambda name: {"SC_PAGE_SIZE": 4096}.get(name, 2**20))
    # 4 GiB of memory; 8 ranks x 2 workers x 1024 MB = 16 GiB of buffers.
    with pytest.raises(InputError, match=r"data.shuffle_buffer_mb: 1024 MB x 2 workers"):
        _shuffle_memory(DataConfig(num_workers=2))
    _shuffle_memory(DataConfig(num_workers=2, shuffle_buffer_mb=64))
