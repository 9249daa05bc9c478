"""InfoNCE between modalities, with features gathered across ranks *with* gradients."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F  # noqa: N812


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


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from every rank in rank order; gradients flow back to each owner.

    Every rank then computes the same global loss; the engine's gradient averaging across ranks
    turns the summed gradients of the all-gather back into exactly the single-process gradient.
    Every rank must hold the same number of rows (the training stream guarantees it).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x)
    return torch.cat(parts, dim=0)


def info_nce(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, valid: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE for aligned rows of unit vectors a [N, D] and b [N, D].

    Row i of a matches row i of b (the labels are the diagonal, in both directions). `valid` [N]
    drops samples lacking a modality, as queries and as candidates. `scale` multiplies the
    cosine similarities (CLIP's learned exp(logit_scale)). Returns (loss, accuracy).
    """
    if valid is not None:
        a, b = a[valid], b[valid]
    if a.shape[0] < 2:  # no negatives: nothing to contrast
        zero = a.sum() * 0 + scale * 0
        return zero, torch.ones((), device=a.device)
    logits = scale * a @ b.t()
    labels = torch.arange(a.shape[0], device=a.device)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return loss, accuracy
