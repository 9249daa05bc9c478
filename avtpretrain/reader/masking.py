"""Masks for the masked-modelling objectives, drawn uniformly and independently for every sample.

(The seed drew with `randn < r`, a Gaussian, and shared one mask across the batch; both are wrong.)
"""

from __future__ import annotations

import torch


def random_patch_mask(
    batch: int, num_patches: int, ratio: float, gen: torch.Generator
) -> torch.Tensor:
    """bool [batch, num_patches], exactly round(ratio * num_patches) True per row (MAE style)."""
    keep_out = round(ratio * num_patches)
    noise = torch.rand(batch, num_patches, generator=gen)
    ranks = noise.argsort(dim=1).argsort(dim=1)
    return ranks < keep_out


def tube_mask(
    batch: int, time_tubes: int, patches_per_frame: int, ratio: float, gen: torch.Generator
) -> torch.Tensor:
    """bool [batch, time_tubes * patches_per_frame]: one spatial mask repeated over time (VideoMAE).

    Token order is (time, height, width), as VideoMAE's patch embedding flattens a clip.
    """
    spatial = random_patch_mask(batch, patches_per_frame, ratio, gen)
    return spatial.repeat(1, time_tubes)


def mlm_mask(
    input_ids: torch.Tensor,
    special: torch.Tensor,
    probability: float,
    mask_id: int,
    vocab_size: int,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: (masked ids, labels with -100 where not predicted).

    Each non-special token is picked with `probability`; of those 80% become [MASK], 10% a random
    token and 10% stay. A row where nothing was picked gets one token, so every sample has a target.
    """
    eligible = ~special
    picked = (torch.rand(input_ids.shape, generator=gen) < probability) & eligible
    empty = ~picked.any(dim=1) & eligible.any(dim=1)
    if empty.any():
        noise = torch.rand(input_ids.shape, generator=gen).masked_fill(~eligible, -1.0)
        forced = torch.zeros_like(picked).scatter_(1, noise.argmax(dim=1, keepdim=True), True)
        picked |= forced & empty.unsqueeze(1)
    labels = input_ids.masked_fill(~picked, -100)
    roll = torch.rand(input_ids.shape, generator=gen)
    masked = input_ids.clone()
    masked[picked & (roll < 0.8)] = mask_id
    randomised = picked & (roll >= 0.8) & (roll < 0.9)
    masked[randomised] = torch.randint(vocab_size, input_ids.shape, generator=gen)[randomised]
    return masked, labels
