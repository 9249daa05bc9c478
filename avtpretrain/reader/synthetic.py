"""A batch in the reader's format without reading anything: for tests and benchmarks.

Built from the model config (its patch grids and text length), so it always fits the model.
"""

from __future__ import annotations

import torch

from avtpretrain.config import ModelConfig
from avtpretrain.contract.batch import Batch
from avtpretrain.reader.masking import random_patch_mask, tube_mask

PAD, CLS, MASK = 0, 2, 4
FIRST_WORD = 5  # ids below are special tokens


def synthetic_batch(
    cfg: ModelConfig,
    n: int = 4,
    *,
    vocab_size: int = 120,
    seed: int = 0,
    video_present: torch.Tensor | None = None,
    audio_present: torch.Tensor | None = None,
    video_ratio: float = 0.75,
    audio_ratio: float = 0.3,
    padded: bool = True,
    caption_tokens: int | None = None,
    pad_to_max: bool = False,
) -> Batch:
    """n samples whose captions name their clip: each clip has its own brightness and word 1 of
    its caption says which, as real captions name what is on screen (without a relation between
    text and video, matching could only memorise arbitrary pairs). `padded`: the second half of
    every caption is padding; or, with `caption_tokens`, captions that long padded as the reader
    pads them (to a multiple of 8; to max_length with `pad_to_max`, as it did before). The mask
    ratios are those of the masked-modelling objectives."""
    g = torch.Generator().manual_seed(seed)
    v, a = cfg.video, cfg.audio
    order = torch.randperm(n, generator=g)
    if caption_tokens is None:
        ids, attention = _captions(cfg.text.max_length, n, vocab_size, g, padded)
    else:
        ids, attention = _sized_captions(cfg.text.max_length, n, vocab_size, g, caption_tokens)
        if not pad_to_max:
            width = min(-(-caption_tokens // 8) * 8, cfg.text.max_length)
            ids, attention = ids[:, :width].contiguous(), attention[:, :width].contiguous()
    ids[:, 1] = FIRST_WORD + order % (vocab_size - FIRST_WORD)
    shape = (n, v.num_frames, 3, v.image_size, v.image_size)
    brightness = (order * (220 // n) + 10).clamp(max=255).to(torch.uint8)
    mlm_labels = torch.full_like(ids, -100)
    mlm_labels[:, 1:4] = ids[:, 1:4]
    mlm_ids = ids.clone()
    mlm_ids[:, 1:4] = MASK
    every = torch.ones(n, dtype=torch.bool)
    return {
        "keys": [f"sample{i:04d}" for i in range(n)],
        "input_ids": ids,
        "attention_mask": attention,
        "video": brightness.view(n, 1, 1, 1, 1).expand(shape).clone(),
        "video_present": every.clone() if video_present is None else video_present,
        "audio": torch.randn(n, a.target_frames, a.num_mel_bins, generator=g),
        "audio_present": every.clone() if audio_present is None else audio_present,
        "mlm_input_ids": mlm_ids,
        "mlm_labels": mlm_labels,
        "video_mask": tube_mask(n, v.grid[0], v.patches_per_frame, video_ratio, g),
        "audio_mask": random_patch_mask(n, a.num_patches, audio_ratio, g),
    }


def _captions(
    length: int, n: int, vocab_size: int, g: torch.Generator, padded: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids, [CLS] first, the second half padding when `padded`."""
    ids = torch.randint(FIRST_WORD, vocab_size, (n, length), generator=g)
    attention = torch.ones(n, length, dtype=torch.long)
    if padded:
        attention[:, length // 2 :] = 0
    ids[:, 0] = CLS
    ids[attention == 0] = PAD
    return ids, attention


def _sized_captions(
    length: int, n: int, vocab_size: int, g: torch.Generator, tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    ids, attention = _captions(length, n, vocab_size, g, padded=False)
    attention[:, min(tokens, length) :] = 0
    ids[attention == 0] = PAD
    return ids, attention
