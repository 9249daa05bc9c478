"""The fusion started from a ViT checkpoint computes what the ViT's blocks compute."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel, ViTConfig, ViTForImageClassification, ViTModel

from avtpretrain.config.model import FusionConfig
from avtpretrain.models.fusion import Fusion
from avtpretrain.models.model import AVTModel
from tests.models.conftest import VOCAB

SHAPE = dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
TOWERS = {"text": 16, "audio": 24, "video": 20}


def _vit_config(**overrides) -> ViTConfig:
    shape = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    return ViTConfig(
        **{**shape, "image_size": 32, "patch_size": 8, "hidden_act": "gelu", **overrides}
    )


def _as_bin(folder: Path) -> None:
    """The older hub layout: the same tensors in pytorch_model.bin, no safetensors file."""
    state = load_file(str(folder / "model.safetensors"))
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()


def _save(folder: Path, layout: str, config: ViTConfig) -> ViTModel:
    """A random ViT saved as the hub lays it out; returns the ViTModel whose blocks it holds."""
    torch.manual_seed(0)
    model = ViTForImageClassification(config) if layout == "classifier" else ViTModel(config)
    # HF starts every LayerNorm at (1, 0) and every weight small: noise on all of them makes a
    # swapped norm or a q/k mix-up show in the outputs.
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    model.save_pretrained(str(folder))
    if layout == "classifier":
        return model.vit.eval()
    if layout == "bin":
        _as_bin(folder)
    return model.eval()


@pytest.fixture(scope="module", params=["safetensors", "bin", "classifier"])
def saved(request, tmp_path_factory) -> tuple[Path, ViTModel]:
    folder = tmp_path_factory.mktemp(request.param)
    return folder, _save(folder, request.param, _vit_config())


def _blocks(vit: ViTModel) -> torch.nn.ModuleList:
    # transformers 5 keeps the blocks at `layers`; 4.x at `encoder.layer`.
    return vit.layers if hasattr(vit, "layers") else vit.encoder.layer


def _out(result) -> torch.Tensor:
    return result[0] if isinstance(result, tuple) else result


def test_each_layer_and_the_final_norm_match_the_vit(saved) -> None:
    folder, vit = saved
    fusion = Fusion(FusionConfig(**SHAPE, pretrained=str(folder)), TOWERS)
    x = torch.randn(3, 7, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for i, block in enumerate(_blocks(vit)):
            want = _out(block(x))
            # train mode runs the layer's plain Python path, eval + no_grad its fused fast path.
            for mode in (True, False):
                got = fusion.layers[i].train(mode)(x)
                assert (got - want).abs().max() <= 1e-5, (i, mode)
        assert (fusion.norm(x) - vit.layernorm(x)).abs().max() <= 1e-5
    assert fusion.norm.eps == 1e-12
    assert all(layer.norm1.eps == layer.norm2.eps == 1e-12 for layer in fusion.layers)


def test_the_report_names_what_stays_new_and_what_is_ignored(saved) -> None:
    folder, _ = saved
    report = Fusion(FusionConfig(**SHAPE, pretrained=str(folder)), TOWERS).load_report
    assert report is not None and report.tower == "fusion" and report.source == str(folder)
    new = {name.split(".")[0] for name in report.fresh}
    assert new == {"inputs", "modality", "fused_token"}
    assert sorted(report.converted) == [
        f"layers.{i}.self_attn.in_proj_{kind}" for i in (0, 1) for kind in ("bias", "weight")
    ]
    assert len(report.loaded) == 2 * 10 + 2  # 5 weight+bias pairs per block, the final norm
    ignored = {name.removeprefix("vit.").split(".")[0] for name in report.ignored}
    # ViTForImageClassification has a classifier and no pooler; ViTModel the other way round.
    head = "classifier" if "classifier" in folder.name else "pooler"
    assert ignored == {"embeddings", head}
    text = "\n".join(report.lines())
    assert "freshly initialised: fused_token (1), inputs.audio (2)" in text
    ignored_line = next(line for line in report.lines() if "ignored:" in line)
    assert "embeddings" in ignored_line and head in ignored_line


@pytest.mark.parametrize(
    ("field", "ours", "theirs"),
    [
        ("num_layers", 3, 2),
        ("num_heads", 4, 2),
        ("hidden_size", 64, 32),
        ("intermediate_size", 128, 64),
    ],
)
def test_a_shape_mismatch_is_refused_naming_both_values(saved, field, ours, theirs) -> None:
    folder, _ = saved
    cfg = FusionConfig(**{**SHAPE, field: ours}, pretrained=str(folder))
    with pytest.raises(ValueError) as err:
        Fusion(cfg, TOWERS)
    message = str(err.value)
    assert "\n" not in message and f"fusion.{field}" in message
    assert f"says {ours}" in message and f"={theirs}" in message


def test_a_tanh_gelu_checkpoint_is_refused(tmp_path) -> None:
    _save(tmp_path, "safetensors", _vit_config(hidden_act="gelu_new"))
    with pytest.raises(
        ValueError, match=r"hidden_act=.gelu_new.; the fusion layers use exact GELU"
    ):
        Fusion(FusionConfig(**SHAPE, pretrained=str(tmp_path)), TOWERS)


def test_a_post_norm_checkpoint_is_refused(tmp_path) -> None:
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="model_type='bert'; only pre-norm ViT"):
        Fusion(FusionConfig(**SHAPE, pretrained=str(tmp_path)), TOWERS)


def test_a_folder_without_weights_is_refused(tmp_path) -> None:
    _vit_config().save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match=r"neither model\.safetensors nor pytorch_model\.bin"):
        Fusion(FusionConfig(**SHAPE, pretrained=str(tmp_path)), TOWERS)


def test_random_init_is_unchanged_without_a_checkpoint() -> None:
    fusion = Fusion(FusionConfig(**SHAPE), TOWERS)
    assert fusion.load_report is None and fusion.norm.eps == 1e-5
    assert all(layer.norm1.eps == 1e-5 for layer in fusion.layers)


def test_the_model_builds_its_fusion_from_the_config(tiny, tmp_path) -> None:
    f = tiny.fusion
    shape = _vit_config(
        hidden_size=f.hidden_size,
        num_hidden_layers=f.num_layers,
        num_attention_heads=f.num_heads,
        intermediate_size=f.intermediate_size,
    )
    _save(tmp_path, "safetensors", shape)
    model = AVTModel(replace(tiny, fusion=replace(f, pretrained=str(tmp_path))), VOCAB)
    assert model.fusion.load_report is not None
    stored = load_file(str(tmp_path / "model.safetensors"))
    last = f.num_layers - 1
    got = model.fusion.layers[last].linear2.weight
    assert torch.equal(got, stored[f"encoder.layer.{last}.output.dense.weight"])
