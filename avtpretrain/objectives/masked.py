"""Masked language modelling and MAE reconstruction losses, and the patch layouts they need."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812


def mlm_loss(
    project: Callable[[torch.Tensor], torch.Tensor], hidden: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over positions with a label (-100 elsewhere); returns (loss, accuracy).

    `project` (the vocabulary head) runs on those positions only: at a 128k vocabulary the
    projection of every padded position would be most of MLM's cost.
    """
    picked = labels != -100
    logits = project(hidden[picked]).float()
    target = labels[picked]
    loss = F.cross_entropy(logits, target)
    return loss, (logits.argmax(dim=-1) == target).float().mean()


def patchify_video(video: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """[B, T, C, H, W] → [B, (T/t)(H/p)(W/p), t·p·p·C] in VideoMAE's (time, height, width) order."""
    b, t, c, h, w = video.shape
    x = video.reshape(b, t // tubelet, tubelet, c, h // patch, patch, w // patch, patch)
    x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)
    return x.reshape(b, (t // tubelet) * (h // patch) * (w // patch), -1)


def patchify_audio(fbank: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, frames, bins] → [B, (frames/p)(bins/p), p·p] in row-major (frames outer) order."""
    b, f, m = fbank.shape
    x = fbank.reshape(b, f // patch, patch, m // patch, patch).permute(0, 1, 3, 2, 4)
    return x.reshape(b, (f // patch) * (m // patch), patch * patch)


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE on hidden patches against per-patch normalised targets (MAE's norm_pix_loss), in fp32:
    under bf16/fp16 the engine casts inputs to half precision, where a patch's variance of a
    near-flat spectrogram rounds to noise."""
    target = target.float()
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    target = (target - mean) / (var + 1e-6).sqrt()
    per_patch = ((pred.float() - target) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp(min=1)
