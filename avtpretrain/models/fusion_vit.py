"""Start the fusion layers from a Google ViT checkpoint (google/vit-base-patch16-224-in21k layout).

A ViT block and torch's `nn.TransformerEncoderLayer(norm_first=True)` are the same computation given
the same LayerNorm eps and exact GELU, so the blocks map tensor for tensor; only q, k and v change
form, stacked into `self_attn.in_proj_weight` / `in_proj_bias` in that order. The ViT's input side
(patch projection, position table, [CLS]), its pooler and any classifier have no counterpart: the
fusion's inputs are tower tokens, so its input projections, modality embeddings and [FUSED] token
stay freshly initialised.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from avtpretrain.config.model import FusionConfig
from avtpretrain.models.convert.folder import PretrainedError
from avtpretrain.models.loading import TowerLoad

# Fusion field -> the checkpoint's config.json key. A mismatch is refused, never cut or padded:
# a silently truncated stack would train a model nobody asked for.
SHAPE_KEYS = {
    "num_layers": "num_hidden_layers",
    "hidden_size": "hidden_size",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
}

# Fusion layer module -> ViT block module; both hold a weight and a bias taken as they are.
BLOCK = {
    "self_attn.out_proj": "attention.output.dense",
    "linear1": "intermediate.dense",
    "linear2": "output.dense",
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
}

# ViTModel saves its keys bare; ViTForImageClassification (and the other heads) under `vit.`.
PREFIX = "vit."


@dataclass(frozen=True)
class ViTCheckpoint:
    """A checked ViT folder: its LayerNorm eps and its tensors keyed without the `vit.` prefix."""

    folder: str
    layer_norm_eps: float
    tensors: dict[str, torch.Tensor]
    stored_names: dict[str, str]  # unprefixed key -> the key as the file holds it


def read_vit(cfg: FusionConfig) -> ViTCheckpoint:
    """Read `cfg.pretrained` (a local folder, never the hub), refusing a checkpoint that cannot
    map onto the fusion layers before any weight is read."""
    folder = Path(str(cfg.pretrained))
    if not (folder / "config.json").is_file():
        raise PretrainedError(f"fusion.pretrained: {folder} has no config.json")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    _check_config(cfg, folder, config)
    stored = _weights(folder)
    return ViTCheckpoint(
        folder=str(folder),
        layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        tensors={k.removeprefix(PREFIX): v for k, v in stored.items()},
        stored_names={k.removeprefix(PREFIX): k for k in stored},
    )


def _check_config(cfg: FusionConfig, folder: Path, config: dict[str, Any]) -> None:
    where = f"{folder}/config.json"
    kind = config.get("model_type")
    if kind != "vit":
        # BERT-style post-norm blocks (and anything else) compute something different from the
        # fusion's norm_first layers, so no tensor mapping would make them equal.
        raise PretrainedError(
            f"fusion.pretrained: {where} has model_type={kind!r}; only pre-norm ViT checkpoints "
            "(model_type 'vit', layernorm_before/after) map onto the fusion layers"
        )
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise PretrainedError(
            f"fusion.pretrained: {where} has hidden_act={act!r}; the fusion layers use exact "
            "GELU ('gelu')"
        )
    if not config.get("qkv_bias", True):
        raise PretrainedError(
            f"fusion.pretrained: {where} has qkv_bias=false; the fusion's q/k/v have biases"
        )
    for ours, theirs in SHAPE_KEYS.items():
        if getattr(cfg, ours) != config.get(theirs):
            raise PretrainedError(
                f"fusion.{ours}: the model config says {getattr(cfg, ours)}, "
                f"{where} says {theirs}={config.get(theirs)}"
            )


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    if (folder / "model.safetensors").is_file():
        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").is_file():
        # weights_only: unpickling a full pickle can run any code; a checkpoint needs only tensors.
        try:
            return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise PretrainedError(
                f"fusion.pretrained: {folder}/pytorch_model.bin holds more than tensors (refused)"
            ) from None
    raise PretrainedError(
        f"fusion.pretrained: {folder} holds neither model.safetensors nor pytorch_model.bin"
    )


def _plan(num_layers: int) -> dict[str, tuple[str, ...]]:
    """Fusion tensor -> the checkpoint tensors it is made from (three: q, k, v to stack)."""
    plan = {"norm.weight": ("layernorm.weight",), "norm.bias": ("layernorm.bias",)}
    for i in range(num_layers):
        block = f"encoder.layer.{i}"
        for kind in ("weight", "bias"):
            for ours, theirs in BLOCK.items():
                plan[f"layers.{i}.{ours}.{kind}"] = (f"{block}.{theirs}.{kind}",)
            plan[f"layers.{i}.self_attn.in_proj_{kind}"] = tuple(
                f"{block}.attention.attention.{part}.{kind}" for part in ("query", "key", "value")
            )
    return plan


def _take(
    ckpt: ViTCheckpoint, ours: str, theirs: tuple[str, ...], want: torch.Size
) -> torch.Tensor:
    for name in theirs:
        if name not in ckpt.tensors:
            raise PretrainedError(
                f"fusion.pretrained: {ckpt.folder} lacks {name} "
                "(expected a pre-norm ViT checkpoint)"
            )
    tensor = torch.cat([ckpt.tensors[name] for name in theirs], dim=0)
    if tensor.shape != want:
        raise PretrainedError(
            f"fusion.pretrained: {theirs[0]} gives {ours} shape {tuple(tensor.shape)}, "
            f"the fusion has {tuple(want)}"
        )
    return tensor


def load_vit(fusion: nn.Module, ckpt: ViTCheckpoint) -> TowerLoad:
    """Copy the checkpoint's blocks and final LayerNorm into `fusion` (built with the checkpoint's
    eps); every other fusion tensor keeps its fresh initialisation."""
    report = TowerLoad(tower="fusion", source=ckpt.folder)
    params = dict(fusion.named_parameters())
    plan = _plan(len(fusion.layers))
    with torch.no_grad():
        for ours, theirs in plan.items():
            params[ours].copy_(_take(ckpt, ours, theirs, params[ours].shape))
            if len(theirs) == 1:
                report.loaded.append(ours)
            else:
                query = ckpt.stored_names[theirs[0]]
                parts = query.replace(".query.", ".{query,key,value}.")
                report.converted[ours] = f"stacked in q, k, v order from {parts}"
    used = {name for theirs in plan.values() for name in theirs}
    report.fresh = [name for name in params if name not in plan]
    report.ignored = sorted(ckpt.stored_names[k] for k in ckpt.tensors if k not in used)
    return report
