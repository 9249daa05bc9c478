"""InfoNCE between modalities over features the caller gathered (see `engine.gather`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812

Gather = Callable[[torch.Tensor], torch.Tensor]


def local(x: torch.Tensor) -> torch.Tensor:
    """The gather of a single process: nothing to bring in."""
    return x


@dataclass(frozen=True)
class Gathers:
    """How a task brings in the other ranks' rows before a contrastive loss.

    `with_grad` for features (gradients flow back to their owners), `no_grad` for flags. The
    default is a single process; a distributed run passes `engine.gather`'s functions.
    """

    with_grad: Gather = local
    no_grad: Gather = local


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
    # fp32: DeepSpeed runs the module in bf16/fp16 without autocast, and half-precision cosines
    # times a scale of up to 100 would be off by whole logits.
    logits = scale.float() * a.float() @ b.float().t()
    labels = torch.arange(a.shape[0], device=a.device)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return loss, accuracy
