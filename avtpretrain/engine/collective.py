"""Evaluation helpers that keep ranks in step and bring per-rank results together."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.distributed as dist


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
