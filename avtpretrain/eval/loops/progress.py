"""Progress bars for the evaluation loops: rank 0 only, on stderr, gone when their phase ends."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def eval_bar(
    desc: str, is_main: bool, total: int | None = None, items: Iterable[T] | None = None
) -> tqdm:
    """A bar for one phase of an evaluation (`items`: iterate through it, else `update()` it).

    Rank 0 only: the ranks run in lockstep, so one bar tells the story and one per rank would
    interleave on a shared terminal. On stderr, so stdout stays parseable. Cleared when done, so
    the results table after it, and the training bar it may sit under, stay readable.
    """
    return tqdm(
        items,
        total=total,
        desc=desc,
        unit="batch",
        leave=False,
        disable=not is_main,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def counted(bar: tqdm, fn: Callable[[T], R]) -> Callable[[T], R]:
    """`fn`, advancing `bar` after each call: lockstep calls it once per batch, so the bar counts
    batches done, not batches fetched."""

    def step(item: T) -> R:
        out = fn(item)
        bar.update()
        return out

    return step
