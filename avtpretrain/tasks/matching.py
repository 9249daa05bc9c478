"""Video–text matching through the fusion encoder: the training step and pair scoring. With
`audio` (token states [N, M, H], presence [N]) each clip is fused with its sound too."""

from __future__ import annotations

import torch
from torch import nn

from avtpretrain.contract.batch import Batch
from avtpretrain.models.model import AVTModel
from avtpretrain.objectives.matching import hard_negatives, matching_loss


def matching_step(
    model: AVTModel,
    head: nn.Module,
    text: torch.Tensor,
    video: torch.Tensor,
    keep_t: torch.Tensor,
    keep_v: torch.Tensor,
    sim: torch.Tensor,
    audio: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positives plus one hard negative video per text and one hard negative text per video.

    text/video are token states [N, L, H], keep_t [N, L] and keep_v [N] their masks, sim [N, N]
    the (detached) text–video similarities that pick the negatives. Returns (loss, accuracy).
    """
    n = len(text)
    if n < 2:  # no negative to draw (a micro-batch of 1): nothing to learn, the graph kept
        zero = head(model.fuse_text_video(text, keep_t, video, keep_v, audio)).sum() * 0
        return zero, torch.ones((), device=zero.device)
    neg_v = hard_negatives(sim)
    neg_t = hard_negatives(sim.t())
    texts = torch.cat([text, text, text[neg_t]])
    videos = torch.cat([video, video[neg_v], video])
    sounds = None
    if audio is not None:  # a clip's sound goes where its video goes
        sounds = tuple(torch.cat([a, a[neg_v], a]) for a in audio)
    fused = model.fuse_text_video(
        texts,
        torch.cat([keep_t, keep_t, keep_t[neg_t]]),
        videos,
        torch.cat([keep_v, keep_v[neg_v], keep_v]),
        sounds,
    )
    labels = torch.zeros(3 * n, dtype=torch.long, device=fused.device)
    labels[:n] = 1
    return matching_loss(head(fused), labels)


def match_scores(
    model: AVTModel,
    head: nn.Module,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    video: torch.Tensor,
    audio: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Matching logit margin (match − no match) of aligned text/video token rows → [N]."""
    fused = model.fuse_text_video(text, text_mask, video, audio=audio)
    logits = head(fused).float()
    return logits[:, 1] - logits[:, 0]


def batch_matching(
    model: AVTModel,
    head: nn.Module,
    text: torch.Tensor,
    video: torch.Tensor,
    batch: Batch,
    emb_text: torch.Tensor,
    emb_video: torch.Tensor,
    audio: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`matching_step` on a batch: negatives picked by its (detached) embedding similarities."""
    with torch.no_grad():
        sim = emb_text @ emb_video.t()
    return matching_step(
        model, head, text, video, batch["attention_mask"], batch["video_present"], sim, audio
    )
