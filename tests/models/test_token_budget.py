"""The fusion's token budget: all tower tokens, or each patch / mel band pooled over time."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from avtpretrain.config.loader import FieldError
from avtpretrain.models.model import AVTModel


def _model(tiny, video_tokens: str, audio_tokens: str) -> AVTModel:
    # Two time tubes, so that pooling over time has something to pool.
    video = dataclasses.replace(tiny.video, num_frames=4, tubelet_size=2)
    fusion = dataclasses.replace(tiny.fusion, video_tokens=video_tokens, audio_tokens=audio_tokens)
    torch.manual_seed(0)
    return AVTModel(dataclasses.replace(tiny, video=video, fusion=fusion), 50).eval()


def _fusion_inputs(model: AVTModel) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}
    model.fusion.register_forward_hook(lambda _m, args, _o: seen.update(args[0]))
    g = torch.Generator().manual_seed(0)
    tokens = {
        "text": torch.randn(2, 5, 64, generator=g),
        "video": torch.randn(2, model.cfg.video.num_patches, 64, generator=g),
        "audio": torch.randn(2, 1 + model.cfg.audio.num_patches, 64, generator=g),
    }
    keep = {"text": torch.ones(2, 5), "video": torch.ones(2, dtype=torch.bool)}
    keep["audio"] = keep["video"]
    with torch.no_grad():
        model.fuse(tokens, keep)
    return {"in": tokens, "seen": seen}


def test_time_pooled_video_is_the_mean_over_time_of_each_patch(tiny) -> None:
    model = _model(tiny, "time_pooled", "all")
    io = _fusion_inputs(model)
    video, per_frame = io["in"]["video"], model.cfg.video.patches_per_frame
    expected = (video[:, :per_frame] + video[:, per_frame:]) / 2
    torch.testing.assert_close(io["seen"]["video"], expected)
    assert io["seen"]["audio"] is io["in"]["audio"] and io["seen"]["text"] is io["in"]["text"]


def test_time_pooled_audio_keeps_cls_and_one_token_per_mel_band(tiny) -> None:
    model = _model(tiny, "all", "time_pooled")
    io = _fusion_inputs(model)
    audio, (frames, bands) = io["in"]["audio"], model.cfg.audio.grid
    seen = io["seen"]["audio"]
    assert seen.shape == (2, 1 + bands, 64)
    torch.testing.assert_close(seen[:, 0], audio[:, 0])
    torch.testing.assert_close(seen[:, 1 + 2], audio[:, 1 + 2 :: bands].mean(1))
    assert io["seen"]["video"].shape[1] == model.cfg.video.num_patches == 2 * 16 and frames > 1


def test_an_unknown_budget_is_refused_naming_the_field(tiny) -> None:
    with pytest.raises(FieldError, match="video_tokens: must be one of"):
        dataclasses.replace(tiny.fusion, video_tokens="pooled")
