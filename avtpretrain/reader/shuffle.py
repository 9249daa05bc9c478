"""The training shuffle buffer, bounded in samples and in bytes.

webdataset's shuffle bounds the buffer by a sample count only, and raw samples vary from kilobytes
to megabytes: the base recipe's 5,000 samples per worker could hold tens of GB per rank. This is
the same algorithm (the same random draws, so the same order while under the byte bound), with the
buffer also stopping to grow at `max_bytes` of raw sample bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

from webdataset.filters import pick


def sample_bytes(sample: dict) -> int:
    return sum(len(v) for v in sample.values() if isinstance(v, bytes | bytearray))


def bounded_shuffle(
    samples: Iterable[dict], max_samples: int, max_bytes: int, initial: int, rng: random.Random
) -> Iterator[dict]:
    """Shuffled `samples` through a buffer of at most `max_samples` samples and (about) `max_bytes`
    bytes; the first sample leaves after `initial` samples, or once the bytes bound is reached."""
    data = iter(samples)
    initial = min(initial, max_samples)
    buf: list[dict] = []
    held = 0
    for sample in data:
        buf.append(sample)
        held += sample_bytes(sample)
        if len(buf) < max_samples and held < max_bytes:
            following = next(data, None)
            if following is not None:
                buf.append(following)
                held += sample_bytes(following)
        if len(buf) >= initial or held >= max_bytes:
            out = pick(buf, rng)
            held -= sample_bytes(out)
            yield out
    while buf:
        yield pick(buf, rng)
