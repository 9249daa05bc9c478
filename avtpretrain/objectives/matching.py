"""Video–text matching with hard negatives mined from the contrastive similarities (ALBEF)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812


def hard_negatives(sim: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """For each row of sim [N, N], a column ≠ the diagonal drawn with probability softmax(sim).

    Harder (more similar) negatives are likelier; the positive is never drawn.
    """
    weights = F.softmax(sim.float().detach(), dim=1)
    weights = weights.masked_fill(torch.eye(len(sim), dtype=torch.bool, device=sim.device), 0)
    weights = weights + 1e-8 * (~torch.eye(len(sim), dtype=torch.bool, device=sim.device))
    return torch.multinomial(weights, 1, generator=gen).squeeze(1)


def matching_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the 2-way match head; returns (loss, accuracy)."""
    loss = F.cross_entropy(logits, labels)
    return loss, (logits.argmax(dim=1) == labels).float().mean()
