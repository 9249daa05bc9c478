"""Video–text matching with hard negatives mined from the contrastive similarities (ALBEF)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812


def hard_negatives(sim: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """For each row of sim [N, N], a column ≠ the diagonal drawn with probability softmax(sim).

    Harder (more similar) negatives are likelier; the positive is never drawn. N must be ≥ 2.
    A non-finite similarity (an fp16 overflow the loss scaler is about to skip) must not reach
    torch.multinomial: on CUDA that is a device-side assert that kills the process, so it counts
    as 0 here.
    """
    if len(sim) < 2:
        raise ValueError(f"hard negatives need at least 2 rows, got {len(sim)}")
    eye = torch.eye(len(sim), dtype=torch.bool, device=sim.device)
    logits = torch.nan_to_num(sim.detach().float(), nan=0.0, posinf=0.0, neginf=0.0)
    weights = F.softmax(logits, dim=1).masked_fill(eye, 0) + 1e-8 * (~eye)
    return torch.multinomial(weights, 1, generator=gen).squeeze(1)


def matching_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the 2-way match head; returns (loss, accuracy)."""
    loss = F.cross_entropy(logits.float(), labels)  # softmax statistics in fp32 under bf16/fp16
    return loss, (logits.argmax(dim=1) == labels).float().mean()
