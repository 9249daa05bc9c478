"""The audio tower started from ViT-MAE folders laid out as the hub has them.

Image checkpoints follow facebook/vit-mae-base's conventions (RGB, mask_ratio 0.75, a fixed sin-cos
table in MAE's layout, saved as ViTMAEForPreTraining with a decoder), shrunk to 32² images in 8²
patches; each is saved in both weight formats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import ViTMAEConfig, ViTMAEForPreTraining, ViTMAEModel
from transformers.models.vit_mae.modeling_vit_mae import build_2d_sinusoidal_position_embedding

from avtpretrain.config.model import AudioTowerConfig
from avtpretrain.models.convert.folder import PretrainedError
from avtpretrain.models.encoders.audio import AudioEncoder

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
DECODER = {
    "decoder_hidden_size": 16,
    "decoder_num_hidden_layers": 1,
    "decoder_num_attention_heads": 2,
    "decoder_intermediate_size": 32,
}
FORMATS = ["safetensors", "bin"]
KERNEL = "embeddings.patch_embeddings.projection.weight"
POSITIONS = "embeddings.position_embeddings"


def save_hub_folder(model: nn.Module, folder: Path, fmt: str) -> None:
    """config.json + model.safetensors, or + pytorch_model.bin as older uploads hold it."""
    model.save_pretrained(folder)
    if fmt == "bin":
        # transformers 5 writes safetensors even with safe_serialization=False; a hub .bin holds
        # the same (hub-named) keys, pickled by torch.save.
        weights = folder / "model.safetensors"
        torch.save(load_file(str(weights)), folder / "pytorch_model.bin")
        weights.unlink()


def mae_sincos(rows: int, cols: int, dim: int) -> torch.Tensor:
    """MAE's released get_2d_sincos_pos_embed, generalised to rows × cols: written out here,
    independently of the package, with its column-first layout and a zero [CLS] row."""

    def one_axis(width: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(width // 2, dtype=np.float64) / (width / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    # MAE meshes (w, h): its first half encodes the column, its second the row.
    grid = np.meshgrid(np.arange(cols, dtype=np.float64), np.arange(rows, dtype=np.float64))
    emb = np.concatenate([one_axis(dim // 2, grid[0]), one_axis(dim // 2, grid[1])], axis=1)
    return torch.from_numpy(np.concatenate([np.zeros((1, dim)), emb])).float()


def save_image_mae(
    folder: Path, *, pretraining: bool = True, fmt: str = "safetensors", learned: bool = False
) -> ViTMAEModel:
    """A tiny RGB ViT-MAE saved to `folder`; returns its encoder (ViTMAEModel) for reference."""
    torch.manual_seed(0)
    config = ViTMAEConfig(**TINY, **DECODER, image_size=32, patch_size=8, mask_ratio=0.75)
    model = (ViTMAEForPreTraining if pretraining else ViTMAEModel)(config).eval()
    vit = model.vit if pretraining else model
    table = torch.randn(17, 32) if learned else mae_sincos(4, 4, 32)
    with torch.no_grad():
        vit.embeddings.position_embeddings.copy_(table.unsqueeze(0))
    save_hub_folder(model, folder, fmt)
    return vit


def audio_cfg(folder: Path | None, frames: int, bins: int, **recipe: int) -> AudioTowerConfig:
    fields = {
        "family": "vit-mae-audio",
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 64,
        "target_frames": frames,
        "num_mel_bins": bins,
        "patch_size": 8,
        "pretrained": str(folder) if folder else None,
    }
    return AudioTowerConfig(**{**fields, **recipe})


def in_order(batch: int, patches: int) -> torch.Tensor:
    """ViT-MAE's `noise`: increasing, so that with mask ratio 0 it keeps every patch in order."""
    return torch.arange(patches, dtype=torch.float).expand(batch, -1)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pretraining", [True, False], ids=["ForPreTraining", "Model"])
def test_image_checkpoint_gives_the_rgb_model_on_three_copies(
    tmp_path: Path, pretraining: bool, fmt: str
) -> None:
    rgb = save_image_mae(tmp_path, pretraining=pretraining, fmt=fmt)
    tower = AudioEncoder(audio_cfg(tmp_path, frames=32, bins=32)).eval()
    rgb.config.mask_ratio = 0.0  # the reference keeps every patch, as the tower does
    fbank = torch.randn(2, 32, 32)
    with torch.no_grad():
        rgb_input = fbank.unsqueeze(1).expand(-1, 3, -1, -1)
        theirs = rgb(rgb_input, noise=in_order(2, 16)).last_hidden_state
        ours = tower(fbank)
    assert ours.shape == theirs.shape == (2, 17, 32)
    assert (ours - theirs).abs().max() <= 1e-5
    assert tower.hf.config.num_channels == 1 and tower.hf.config.mask_ratio == 0.0
    report = tower.load_report
    assert list(report.converted) == [KERNEL]
    assert "summed over its 3 input channels" in report.converted[KERNEL]
    assert POSITIONS in report.loaded and report.fresh == []
    assert len(report.loaded) + 1 == len(tower.hf.state_dict())
    if pretraining:
        assert report.ignored and all(n.startswith("decoder.") for n in report.ignored)
    else:
        assert report.ignored == []
    lines = report.lines()
    assert lines[0].startswith(f"audio: from {tmp_path}: {len(report.loaded)} tensors loaded")
    assert any(line.startswith(f"  converted {KERNEL}: summed") for line in lines)


@pytest.mark.parametrize("fmt", FORMATS)
def test_image_checkpoint_on_an_fbank_grid_gets_the_rebuilt_sincos_table(
    tmp_path: Path, fmt: str
) -> None:
    save_image_mae(tmp_path, fmt=fmt)
    tower = AudioEncoder(audio_cfg(tmp_path, frames=48, bins=24)).eval()  # 6 × 3 patches
    table = tower.hf.embeddings.position_embeddings[0]
    assert torch.allclose(table, mae_sincos(6, 3, 32), atol=1e-6)
    with torch.no_grad():
        tokens = tower(torch.randn(2, 48, 24))
    assert tokens.shape == (2, 19, 32) and torch.isfinite(tokens).all()
    how = tower.load_report.converted[POSITIONS]
    assert "sin-cos table (MAE layout) rebuilt from 4×4 to 6×3 patches" in how


def test_a_learned_table_is_interpolated_bilinearly(tmp_path: Path) -> None:
    rgb = save_image_mae(tmp_path, pretraining=False, fmt="bin", learned=True)
    stored = rgb.embeddings.position_embeddings[0].detach()
    tower = AudioEncoder(audio_cfg(tmp_path, frames=48, bins=24))
    patches = stored[1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    want = torch.nn.functional.interpolate(
        patches, size=(6, 3), mode="bilinear", align_corners=False
    )
    table = tower.hf.embeddings.position_embeddings[0]
    assert torch.equal(table[0], stored[0])  # [CLS] row kept
    assert torch.allclose(table[1:], want.permute(0, 2, 3, 1).reshape(18, 32), atol=1e-6)
    assert "bilinearly interpolated from 4×4 to 6×3" in tower.load_report.converted[POSITIONS]


def test_audio_native_checkpoint_is_taken_as_it_is(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = ViTMAEConfig(**TINY, image_size=(32, 24), patch_size=8, num_channels=1)
    native = ViTMAEModel(config).eval()
    with torch.no_grad():
        native.embeddings.position_embeddings.normal_()
    save_hub_folder(native, tmp_path, "safetensors")
    tower = AudioEncoder(audio_cfg(tmp_path, frames=32, bins=24)).eval()
    fbank = torch.randn(2, 32, 24)
    native.config.mask_ratio = 0.0
    with torch.no_grad():
        theirs = native(fbank.unsqueeze(1), noise=in_order(2, 12)).last_hidden_state
        assert (tower(fbank) - theirs).abs().max() <= 1e-6
    report = tower.load_report
    assert report.converted == {} and report.fresh == [] and report.ignored == []
    assert len(report.loaded) == len(tower.hf.state_dict())


def test_an_exported_tower_starts_again_and_keeps_its_table_layout(tmp_path: Path) -> None:
    torch.manual_seed(0)
    first = AudioEncoder(audio_cfg(None, frames=32, bins=24)).eval()
    first.save_hf(tmp_path)
    again = AudioEncoder(audio_cfg(tmp_path, frames=32, bins=24)).eval()
    fbank = torch.randn(2, 32, 24)
    with torch.no_grad():
        assert torch.equal(first(fbank), again(fbank))
    # On another grid a random-init tower's table (transformers' layout) is rebuilt as such.
    longer = AudioEncoder(audio_cfg(tmp_path, frames=48, bins=24))
    fresh = AudioEncoder(audio_cfg(None, frames=48, bins=24))
    assert torch.allclose(
        longer.hf.embeddings.position_embeddings, fresh.hf.embeddings.position_embeddings
    )
    assert "transformers layout" in longer.load_report.converted[POSITIONS]


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("hidden_size", 64, "hidden_size"),
        ("num_layers", 3, "num_hidden_layers"),
        ("num_heads", 4, "num_attention_heads"),
        ("intermediate_size", 128, "intermediate_size"),
    ],
)
def test_a_shape_mismatch_is_refused_naming_both_values(
    tmp_path: Path, field: str, value: int, key: str
) -> None:
    save_image_mae(tmp_path)
    with pytest.raises(PretrainedError) as err:
        AudioEncoder(audio_cfg(tmp_path, frames=32, bins=32, **{field: value}))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"audio.{field}: the model config says {value}, {tmp_path}")
    assert f"config.json says {key}={getattr(ViTMAEConfig(**TINY), key)}" in message


def test_a_different_patch_size_is_refused(tmp_path: Path) -> None:
    save_image_mae(tmp_path)
    want = "audio.patch_size: the model config says 16, .* says patch_size=8"
    with pytest.raises(PretrainedError, match=want):
        AudioEncoder(audio_cfg(tmp_path, frames=32, bins=32, patch_size=16))


def test_a_folder_without_weights_is_refused(tmp_path: Path) -> None:
    ViTMAEConfig(**TINY, image_size=32, patch_size=8).save_pretrained(tmp_path)
    with pytest.raises(PretrainedError, match=r"audio.pretrained: .* holds none of"):
        AudioEncoder(audio_cfg(tmp_path, frames=32, bins=32))


class _Payload:
    """Unpickling this runs Path.touch: proof that code ran, if it ever does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_a_bin_is_read_weights_only(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    save_image_mae(folder, fmt="bin")
    weights = torch.load(folder / "pytorch_model.bin", weights_only=True)
    weights["payload"] = _Payload(tmp_path / "ran")
    torch.save(weights, folder / "pytorch_model.bin")
    with pytest.raises(PretrainedError, match=r"pytorch_model\.bin holds more than tensors"):
        AudioEncoder(audio_cfg(folder, frames=32, bins=32))
    assert not (tmp_path / "ran").exists()


def test_random_init_is_unchanged() -> None:
    tower = AudioEncoder(audio_cfg(None, frames=48, bins=24))
    assert tower.load_report is None
    table = build_2d_sinusoidal_position_embedding(6, 3, 32, cls_token=True)
    assert torch.equal(tower.hf.embeddings.position_embeddings[0], table)


def test_a_converted_tower_exports_as_an_audio_native_folder(tmp_path: Path) -> None:
    save_image_mae(tmp_path / "rgb", fmt="bin")
    converted = AudioEncoder(audio_cfg(tmp_path / "rgb", frames=48, bins=24)).eval()
    converted.save_hf(tmp_path / "export")
    again = AudioEncoder(audio_cfg(tmp_path / "export", frames=48, bins=24)).eval()
    fbank = torch.randn(2, 48, 24)
    with torch.no_grad():
        assert torch.equal(converted(fbank), again(fbank))
    assert again.load_report.converted == {} and again.load_report.ignored == []
