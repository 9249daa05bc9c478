"""Feature gathering across ranks for the contrastive losses; tasks receive these as functions.

Objectives stay pure (tensors in, loss out): the composition root hands a task `gather_with_grad`
and `gather_no_grad`, and a task built without them (a test, a single process) gathers nothing.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


class _GatherWithGrad(torch.autograd.Function):
    """all_gather forward; backward sums every rank's gradient for this rank's slice.

    (torch.distributed.nn.functional.all_gather does the same but is deprecated.)
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def _single() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from every rank in rank order; gradients flow back to each owner.

    Every rank then computes the same global loss; the engine's gradient averaging across ranks
    turns the summed gradients of the all-gather back into exactly the single-process gradient.
    Every rank must hold the same number of rows (the training stream guarantees it).
    """
    return x if _single() else _GatherWithGrad.apply(x)


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    if _single():
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x)
    return torch.cat(parts, dim=0)
