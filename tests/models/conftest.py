from pathlib import Path

import pytest
import torch

from avtpretrain.config import load_model_config, load_recipe

REPO = Path(__file__).resolve().parents[2]
VOCAB = 120


@pytest.fixture(scope="session")
def tiny():
    return load_model_config("tiny", REPO / "pretrain" / "demo.yaml")


@pytest.fixture(scope="session")
def recipe():
    return load_recipe(REPO / "pretrain" / "demo.yaml")


def make_batch(cfg, n: int = 4, seed: int = 0, audio_present=None, video_present=None) -> dict:
    """A random batch in the data pipeline's format (see avtpretrain.data.samples.Collator)."""
    g = torch.Generator().manual_seed(seed)
    length = cfg.text.max_length
    ids = torch.randint(5, VOCAB, (n, length), generator=g)
    attention = torch.ones(n, length, dtype=torch.long)
    attention[:, length // 2 :] = 0
    ids[:, 0], ids[attention == 0] = 2, 0
    v, a = cfg.video, cfg.audio
    video_tokens = (v.num_frames // v.tubelet_size) * (v.image_size // v.patch_size) ** 2
    audio_tokens = (a.target_frames // a.patch_size) * (a.num_mel_bins // a.patch_size)
    mlm_labels = torch.full_like(ids, -100)
    mlm_labels[:, 1:4] = ids[:, 1:4]
    mlm_ids = ids.clone()
    mlm_ids[:, 1:4] = 4
    video_mask = torch.zeros(n, video_tokens, dtype=torch.bool)
    video_mask[:, : int(0.75 * video_tokens)] = True
    audio_mask = torch.zeros(n, audio_tokens, dtype=torch.bool)
    audio_mask[:, : int(0.3 * audio_tokens)] = True
    # Each clip has its own brightness (uniform or noise clips look alike to an untrained
    # encoder)...
    shape = (n, v.num_frames, 3, v.image_size, v.image_size)
    order = torch.randperm(n, generator=g)
    video = (order * (220 // n) + 10).view(n, 1, 1, 1, 1).expand(shape).to(torch.uint8).clone()
    # ...and a caption word that names it, as real captions name what is on screen: without a
    # relation between text and video, matching could only memorise arbitrary pairs.
    ids[:, 1] = 5 + order
    return {
        "input_ids": ids,
        "attention_mask": attention,
        "video": video,
        "audio": torch.randn(n, a.target_frames, a.num_mel_bins, generator=g),
        "video_present": torch.ones(n, dtype=torch.bool)
        if video_present is None
        else video_present,
        "audio_present": torch.ones(n, dtype=torch.bool)
        if audio_present is None
        else audio_present,
        "mlm_input_ids": mlm_ids,
        "mlm_labels": mlm_labels,
        "video_mask": video_mask[:, torch.randperm(video_tokens, generator=g)],
        "audio_mask": audio_mask[:, torch.randperm(audio_tokens, generator=g)],
    }
