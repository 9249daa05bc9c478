"""The video tower started from VideoMAE folders laid out as the hub has them.

Checkpoints follow MCG-NJU/videomae-base's conventions (saved as VideoMAEForPreTraining, keys under
`videomae.`, no mean pooling, fixed sin-cos positions), shrunk to 4 frames of 32² in 8² patches
and tubelets of 2; each is saved in both weight formats.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEModel, ViTMAEConfig

from avtpretrain.config.model import VideoTowerConfig
from avtpretrain.models.convert.folder import PretrainedError
from avtpretrain.models.encoders.video import VideoEncoder, normalize_video
from tests.models.test_pretrained_audio import DECODER, FORMATS, TINY, save_hub_folder

POSITIONS = "embeddings.position_embeddings"


def save_videomae(folder: Path, *, pretraining: bool = True, fmt: str = "safetensors"):
    """A tiny VideoMAE saved to `folder`; returns its encoder (VideoMAEModel) for reference."""
    torch.manual_seed(0)
    config = VideoMAEConfig(
        **TINY,
        **DECODER,
        image_size=32,
        patch_size=8,
        num_frames=4,
        tubelet_size=2,
        use_mean_pooling=False,
    )
    model = (VideoMAEForPreTraining if pretraining else VideoMAEModel)(config).eval()
    save_hub_folder(model, folder, fmt)
    return model.videomae if pretraining else model


def video_cfg(folder: Path | None, **recipe: int) -> VideoTowerConfig:
    fields = {
        "family": "videomae",
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 64,
        "num_frames": 4,
        "image_size": 32,
        "patch_size": 8,
        "tubelet_size": 2,
        "pretrained": str(folder) if folder else None,
    }
    return VideoTowerConfig(**{**fields, **recipe})


def sinusoid_1d(positions: int, dim: int) -> torch.Tensor:
    """VideoMAE's table over the flattened tube index, written out here independently."""
    pos = np.arange(positions, dtype=np.float64)[:, None]
    angle = pos / np.power(10000, 2 * (np.arange(dim) // 2) / dim)
    angle[:, 0::2], angle[:, 1::2] = np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])
    return torch.from_numpy(angle).float().unsqueeze(0)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pretraining", [True, False], ids=["ForPreTraining", "Model"])
def test_video_tower_equals_videomae(tmp_path: Path, pretraining: bool, fmt: str) -> None:
    reference = save_videomae(tmp_path, pretraining=pretraining, fmt=fmt)
    tower = VideoEncoder(video_cfg(tmp_path)).eval()
    clips = torch.randint(0, 256, (2, 4, 3, 32, 32), dtype=torch.uint8)
    mask = torch.zeros(2, 32, dtype=torch.bool)
    mask[:, ::3] = True
    with torch.no_grad():
        for hidden in (None, mask):
            theirs = reference(normalize_video(clips), bool_masked_pos=hidden).last_hidden_state
            ours = tower(clips, hidden)
            assert ours.shape == theirs.shape
            assert (ours - theirs).abs().max() <= 1e-5
    report = tower.load_report
    assert report.converted == {} and report.fresh == []
    assert len(report.loaded) == len(tower.hf.state_dict())
    if pretraining:
        heads = {name.split(".")[0] for name in report.ignored}
        assert heads == {"decoder", "encoder_to_decoder", "mask_token"}
    else:
        assert report.ignored == []


@pytest.mark.parametrize(
    ("recipe", "tubes"),
    [({"num_frames": 8}, (4, 4, 4)), ({"image_size": 48}, (2, 6, 6))],
    ids=["frames", "image_size"],
)
def test_a_different_grid_gets_the_rebuilt_table(
    tmp_path: Path, recipe: dict[str, int], tubes: tuple[int, int, int]
) -> None:
    reference = save_videomae(tmp_path, fmt="bin")
    tower = VideoEncoder(video_cfg(tmp_path, **recipe)).eval()
    table = tower.hf.embeddings.position_embeddings
    assert torch.allclose(table, sinusoid_1d(math.prod(tubes), 32), atol=1e-6)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(tower.hf.state_dict()[name], tensor), name
    frames, size = recipe.get("num_frames", 4), recipe.get("image_size", 32)
    with torch.no_grad():
        tokens = tower(torch.randn(1, frames, 3, size, size))
    assert tokens.shape == (1, math.prod(tubes), 32)
    how = tower.load_report.converted[POSITIONS]
    assert (
        how
        == f"fixed sin-cos table rebuilt for {'×'.join(map(str, tubes))} tubes (checkpoint: 2×4×4)"
    )


def test_more_frames_keep_the_checkpoints_positions_for_the_first_ones(tmp_path: Path) -> None:
    reference = save_videomae(tmp_path)
    tower = VideoEncoder(video_cfg(tmp_path, num_frames=8))
    # Time is the outer index of VideoMAE's flattened table: the first 2×4×4 rows are unchanged.
    first = tower.hf.embeddings.position_embeddings[:, :32]
    assert torch.equal(first, reference.embeddings.position_embeddings)


@pytest.mark.parametrize(
    ("recipe", "key", "theirs"),
    [({"patch_size": 16}, "patch_size", 8), ({"tubelet_size": 4}, "tubelet_size", 2)],
)
def test_a_different_kernel_is_refused(
    tmp_path: Path, recipe: dict[str, int], key: str, theirs: int
) -> None:
    save_videomae(tmp_path)
    with pytest.raises(PretrainedError) as err:
        VideoEncoder(video_cfg(tmp_path, **recipe))
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        f"video.{key}: the model config says {recipe[key]}, {tmp_path}/config.json says "
        f"{key}={theirs} (the patch kernel cannot change shape)"
    )


def test_a_different_width_is_refused(tmp_path: Path) -> None:
    save_videomae(tmp_path)
    want = "video.hidden_size: the model config says 64, .* says hidden_size=32"
    with pytest.raises(PretrainedError, match=want):
        VideoEncoder(video_cfg(tmp_path, hidden_size=64))


def test_another_model_type_is_refused(tmp_path: Path) -> None:
    ViTMAEConfig(**TINY).save_pretrained(tmp_path)
    want = "video.pretrained: .*config.json has model_type='vit_mae', expected 'videomae'"
    with pytest.raises(PretrainedError, match=want):
        VideoEncoder(video_cfg(tmp_path))


def test_random_init_is_unchanged() -> None:
    tower = VideoEncoder(video_cfg(None))
    assert tower.load_report is None
    assert torch.allclose(tower.hf.embeddings.position_embeddings, sinusoid_1d(32, 32))
