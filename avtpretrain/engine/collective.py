"""Keeping ranks in step: evaluation batches, per-rank results, and work only rank 0 does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


class RankFailedError(RuntimeError):
    """Work rank 0 did for every rank failed; every rank raises this, naming it."""


def main_does(
    is_main: bool, work: Callable[[], T], what: str, keep: tuple[type[Exception], ...] = ()
) -> T | None:
    """`work()` on rank 0 only (None elsewhere). If it raises, every rank raises too, instead of
    the others waiting forever at the next collective: an exception of a `keep` type as itself,
    any other as RankFailedError naming `what` and the error."""
    result, failure, error = None, [None], None
    if is_main:
        try:
            result = work()
        except Exception as e:  # noqa: BLE001 - re-raised below, on every rank
            error = e
            failure = [(type(e).__name__, str(e))]
    dist.broadcast_object_list(failure, src=0)
    if failure[0] is None:
        return result
    name, message = failure[0]
    same = next((k for k in keep if k.__name__ == name), None)
    if same is not None:
        raise same(message) from error
    raise RankFailedError(f"{what} failed on rank 0: {name}: {message}") from error


def max_over_ranks(value: int, device: torch.device) -> int:
    # On the engine's device: nccl only reduces CUDA tensors.
    count = torch.tensor([value], device=device)
    dist.all_reduce(count, op=dist.ReduceOp.MAX)
    return int(count.item())


def lockstep(
    batches: Iterable[Any],
    count: int,
    fn: Callable[[Any], Any],
    device: torch.device,
    is_empty: Callable[[Any], bool] = lambda b: False,
) -> list[Any]:
    """fn over this rank's `count` batches, called equally often on every rank.

    Under ZeRO-3 every forward gathers parameters collectively, so a rank with fewer (or emptied)
    batches repeats its last real one and drops the result.
    """
    most = max_over_ranks(count, device)
    results, last, it = [], None, iter(batches)
    for i in range(most):
        batch = next(it) if i < count else None
        real = batch is not None and not is_empty(batch)
        if real:
            last = batch
        if last is None:
            raise RuntimeError(
                "this rank has no evaluation items to keep in step with the others; "
                "evaluate with fewer ranks than items"
            )
        out = fn(last)
        if real:
            results.append(out)
    return results


def gather_to_all(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (CPU objects, pickled)."""
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
