import itertools
import random

import numpy as np
import pytest
import torch

from avtpretrain.models.encoders.video import normalize_video
from avtpretrain.reader.decode import (
    FbankTransform,
    VideoTransform,
    clip_offsets,
    fixed_length_wave,
    sample_frame_indices,
)


def test_frame_sampling_strategies() -> None:
    rng = random.Random(0)
    assert sample_frame_indices(16, 4, "uniform", rng) == [2, 6, 10, 14]
    rand = sample_frame_indices(16, 4, "rand", rng)
    assert all(4 * i <= f < 4 * (i + 1) for i, f in enumerate(rand))
    head_tail = sample_frame_indices(20, 4, "headtail", rng)
    assert all(f < 10 for f in head_tail[:2]) and all(f >= 10 for f in head_tail[2:])
    stride = sample_frame_indices(40, 4, "stride", rng, stride=3)
    assert [b - a for a, b in itertools.pairwise(stride)] == [3, 3, 3]
    assert sample_frame_indices(3, 8, "uniform", rng) == [0, 0, 0, 1, 1, 2, 2, 2]  # short clip
    with pytest.raises(ValueError, match="unknown frame sampling"):
        sample_frame_indices(10, 2, "nope", rng)


def test_clip_offsets_cover_the_video() -> None:
    assert clip_offsets(30, 3) == [(0, 10), (10, 10), (20, 10)]


def test_video_transform_shape_and_normalisation() -> None:
    frames = np.full((4, 48, 80, 3), 255, dtype=np.uint8)
    frames[:, :, :40] = 0  # left half black
    out = VideoTransform(image_size=32, train=False)(frames, random.Random(0))
    assert out.shape == (4, 3, 32, 32) and out.dtype == torch.uint8
    assert out[0, 0, 16, 0] == 0 and out[0, 0, 16, -1] == 255  # centre crop keeps both halves
    # white normalised by ImageNet statistics: (1 - mean) / std, per channel
    norm = normalize_video(out)
    assert norm.dtype == torch.float32
    assert torch.allclose(
        norm[0, :, 16, -1],
        torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]),
        atol=1e-4,
    )
    train = VideoTransform(image_size=32, train=True)(frames, random.Random(0))
    assert train.shape == (4, 3, 32, 32)


def test_fbank_crops_pads_and_normalises() -> None:
    tf = FbankTransform(num_mel_bins=64, target_frames=100, mean=0.0, std=1.0, train=False)
    rate = 16000
    tone = torch.sin(2 * torch.pi * 440 * torch.arange(rate * 2) / rate)
    long = tf(tone, rate, random.Random(0))
    short = tf(tone[: rate // 4], rate, random.Random(0))
    assert long.shape == short.shape == (100, 64)
    assert (short[30:] == 0).all()  # padded frames (short clip has ~23)
    # 440 Hz lands in a low mel bin: the loudest bin of a frame is near the bottom
    assert long[50].argmax().item() < 20


def test_spec_augment_zeroes_bands_only_in_training() -> None:
    tf = FbankTransform(64, 100, 0.0, 1.0, train=True, freq_mask=20, time_mask=30)
    wave = torch.randn(32000)
    outs = [tf(wave, 16000, random.Random(s)) for s in range(5)]
    assert any((o == 0).all(dim=0).any() or (o == 0).all(dim=1).any() for o in outs)


def test_waveform_path_is_fixed_length() -> None:
    wave = torch.arange(10.0)
    assert fixed_length_wave(wave, 4, random.Random(0), train=False).tolist() == [0, 1, 2, 3]
    assert fixed_length_wave(wave, 12, random.Random(0), train=True)[-2:].tolist() == [0, 0]
