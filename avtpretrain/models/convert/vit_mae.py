"""Start the audio tower from a ViT-MAE folder: an image checkpoint (facebook/vit-mae-base: RGB,
224², patch 16) converted the AST way, or an audio-native one (1 channel) taken as it is.

The checkpoint's mask_ratio is dropped: the batch's mask decides what the tower sees, and the
tower itself always runs ViT-MAE with mask ratio 0.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import ViTMAEConfig, ViTMAEModel

from avtpretrain.config.model import AudioTowerConfig
from avtpretrain.models.convert.folder import (
    Checkpoint,
    PretrainedError,
    load_weights,
    open_checkpoint,
    tower_config,
)
from avtpretrain.models.convert.image_to_audio import fit_table, pair, patch_grid, sum_channels
from avtpretrain.models.loading import TowerLoad

KERNEL = "embeddings.patch_embeddings.projection.weight"
POSITIONS = "embeddings.position_embeddings"


def load_audio(cfg: AudioTowerConfig, geometry: dict[str, Any]) -> tuple[ViTMAEModel, TowerLoad]:
    """A ViTMAEModel with the recipe's `geometry` (fbank grid, 1 channel, mask ratio 0) whose
    weights come from `cfg.pretrained`, and the report of what was taken, converted or left."""
    ckpt = open_checkpoint("audio", cfg, ViTMAEConfig, "vit_mae")
    # Summing channels keeps the kernel's spatial size; a different patch size has no exact map.
    if pair(ckpt.config.patch_size) != (cfg.patch_size, cfg.patch_size):
        ckpt.refuse("patch_size", cfg.patch_size, "patch_size", "the patch kernel cannot resize")
    # Read at the checkpoint's own geometry, then moved across tensor by tensor.
    source, info = load_weights(ViTMAEModel, ckpt, ckpt.config)
    target = ViTMAEModel(tower_config(ckpt, cfg, geometry))
    report = TowerLoad(
        tower="audio", source=str(ckpt.folder), ignored=sorted(info["unexpected_keys"])
    )
    theirs = {k: v for k, v in source.state_dict().items() if k not in info["missing_keys"]}
    state = target.state_dict()
    for name in state:
        if name not in theirs:
            report.fresh.append(name)  # keeps the tower's own initialisation
            continue
        state[name], how = _convert(ckpt, name, theirs[name], state[name], cfg.grid)
        if how:
            report.converted[name] = how
        else:
            report.loaded.append(name)
    # Only reachable when the recipe's options drop a tensor (e.g. qkv_bias: false).
    report.ignored += [name for name in theirs if name not in state]
    target.load_state_dict(state, strict=True)
    report.ignored.sort()
    return target, report


def _convert(
    ckpt: Checkpoint, name: str, theirs: torch.Tensor, ours: torch.Tensor, grid: tuple[int, int]
) -> tuple[torch.Tensor, str]:
    """The checkpoint's tensor in the tower's shape, and how it was changed ('' when it wasn't)."""
    if name == KERNEL and theirs.shape[1] != ours.shape[1]:
        channels = theirs.shape[1]
        return sum_channels(theirs), (
            f"summed over its {channels} input channels (AST: 1-channel x gives what "
            f"the {channels}-channel model gave for x repeated)"
        )
    if name == POSITIONS:
        old = patch_grid(ckpt.config.image_size, ckpt.config.patch_size)
        if old != grid:
            table, how = fit_table(theirs[0], old, grid)
            return table.unsqueeze(0), how
    if theirs.shape != ours.shape:
        # Not expected after the folder's checks; a clear refusal beats a failing matmul later.
        raise PretrainedError(
            f"audio.pretrained: {ckpt.folder} holds {name} of shape {tuple(theirs.shape)}, "
            f"the tower needs {tuple(ours.shape)}"
        )
    return theirs, ""
