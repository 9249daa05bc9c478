"""Zero-shot probes of every tower pair: audio pairs rank only the samples that have audio."""

from __future__ import annotations

import pytest
import torch

from avtpretrain.eval.loops.zero_shot import pair_metrics


def test_audio_pairs_rank_only_samples_with_audio() -> None:
    eye = torch.eye(4)
    # Text and video match sample for sample; audio matches for samples 0 and 2 (1 has none, 3's
    # audio looks like sample 0's).
    audio = torch.stack([eye[0], torch.zeros(4), eye[2], eye[0]])
    present = torch.tensor([True, False, True, True])
    m = pair_metrics({"text": eye, "video": eye, "audio": audio}, present)
    assert m["val/text2video_r1"] == m["val/video2text_r1"] == 100.0
    assert m["val/samples"] == 4 and m["val/samples_with_audio"] == 3
    # Over samples 0, 2, 3: text 0 and 2 find their audio; text 3's row is orthogonal to all.
    assert m["val/text2audio_r1"] == m["val/audio2video_r1"] == pytest.approx(100 * 2 / 3)
    assert {"val/audio2text_r5", "val/video2audio_medianR"} <= set(m)


def test_without_audio_only_text_video_is_reported() -> None:
    eye = torch.eye(3)
    m = pair_metrics({"text": eye, "video": eye, "audio": eye}, torch.zeros(3, dtype=torch.bool))
    assert m["val/text2video_r1"] == 100.0 and m["val/samples_with_audio"] == 0
    assert not any("audio2" in k or "2audio" in k for k in m)
