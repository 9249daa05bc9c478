"""A pretrained tower folder as the hub lays it out (config.json + weights), checked then read.

Shape policy: the recipe must match the checkpoint. Width and depth (hidden_size, num_layers,
num_heads, intermediate_size) are recipe fields that other parts are sized from (fusion inputs,
MAE decoders, parameter counts), so letting the folder win would change them behind the recipe's
back; a mismatch is refused naming both values. Facts the recipe does not state (LayerNorm eps,
activation, q/k/v biases) come from the folder's config.json, and the recipe's `options` are
applied over them.
"""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch
from transformers import PretrainedConfig, PreTrainedModel

from avtpretrain.config.model import TowerConfig

# Either format, whole or sharded; transformers prefers safetensors when both are there.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

# Recipe field -> the checkpoint's config.json key.
SHAPE_KEYS = {
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
}


class PretrainedError(ValueError):
    """A folder this tower cannot start from; one line naming the field, folder and values."""


@dataclass(frozen=True)
class Checkpoint:
    """A checked folder: which tower it starts (for messages), where it is, its own config."""

    tower: str
    folder: Path
    config: PretrainedConfig

    def refuse(self, field: str, ours: Any, key: str, why: str) -> NoReturn:
        theirs = getattr(self.config, key, None)
        raise PretrainedError(
            f"{self.tower}.{field}: the model config says {ours}, "
            f"{self.folder}/config.json says {key}={theirs} ({why})"
        )

    def require(self, field: str, ours: Any, key: str, why: str) -> None:
        if ours != getattr(self.config, key, None):
            self.refuse(field, ours, key, why)


def open_checkpoint(
    tower: str, cfg: TowerConfig, config_cls: type[PretrainedConfig], model_type: str
) -> Checkpoint:
    """Check `cfg.pretrained` before any weight is read: a folder, its config.json of the right
    model type and shape, and a weights file."""
    folder = Path(str(cfg.pretrained))
    field = f"{tower}.pretrained"
    if not folder.is_dir():
        raise PretrainedError(f"{field}: {folder} is not a folder (expected a local HF folder)")
    if not (folder / "config.json").is_file():
        raise PretrainedError(f"{field}: {folder} has no config.json (expected a local HF folder)")
    kind = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    if kind != model_type:
        raise PretrainedError(
            f"{field}: {folder}/config.json has model_type={kind!r}, expected {model_type!r}"
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise PretrainedError(f"{field}: {folder} holds none of {', '.join(WEIGHT_FILES)}")
    ckpt = Checkpoint(tower, folder, config_cls.from_pretrained(str(folder), local_files_only=True))
    for ours, theirs in SHAPE_KEYS.items():
        ckpt.require(
            ours, getattr(cfg, ours), theirs, "a pretrained tower must match its checkpoint"
        )
    return ckpt


def tower_config(ckpt: Checkpoint, cfg: TowerConfig, geometry: dict[str, Any]) -> PretrainedConfig:
    """The folder's config with the recipe's options, then the tower's own geometry, on top."""
    config = copy.deepcopy(ckpt.config)
    for key, value in {**cfg.options, **geometry}.items():
        setattr(config, key, value)
    return config


def load_weights(
    model_cls: type[PreTrainedModel], ckpt: Checkpoint, config: PretrainedConfig
) -> tuple[PreTrainedModel, dict[str, Any]]:
    """`model_cls` built from `config` with the folder's weights, and transformers' loading info.

    transformers reads either format, strips a *ForPreTraining prefix (`vit.`, `videomae.`) and
    renames the hub's older key names; a .bin is read weights-only (torch.load(weights_only=True)),
    which refuses pickled code. float32: the engine decides the training precision, not the file.
    """
    try:
        return model_cls.from_pretrained(
            str(ckpt.folder),
            config=config,
            local_files_only=True,
            weights_only=True,
            dtype=torch.float32,
            output_loading_info=True,
        )
    except pickle.UnpicklingError:
        raise PretrainedError(
            f"{ckpt.tower}.pretrained: {ckpt.folder}/pytorch_model.bin holds more than tensors "
            "(refused: it is read weights-only, as unpickling anything else can run code)"
        ) from None
