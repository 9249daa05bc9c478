"""Start the video tower from a VideoMAE folder (MCG-NJU/videomae-base: 16 frames, 224², patch 16,
tubelet 2, saved as VideoMAEForPreTraining with its keys under `videomae.`).

The kernel's shape (patch, tubelet, channels) must match: there is no exact map between kernel
sizes. Frames and image size may differ: VideoMAE's position table is a fixed sin-cos function of
the flattened tube index, built from the config, never stored, so building the tower at the
recipe's grid rebuilds it exactly as VideoMAE itself would for that grid.
"""

from __future__ import annotations

from typing import Any

from transformers import VideoMAEConfig, VideoMAEModel

from avtpretrain.config.model import VideoTowerConfig
from avtpretrain.models.convert.folder import load_weights, open_checkpoint, tower_config
from avtpretrain.models.convert.image_to_audio import pair
from avtpretrain.models.loading import TowerLoad

POSITIONS = "embeddings.position_embeddings"
KERNEL_KEYS = ("patch_size", "tubelet_size", "num_channels")


def load_video(cfg: VideoTowerConfig, geometry: dict[str, Any]) -> tuple[VideoMAEModel, TowerLoad]:
    """A VideoMAEModel with the recipe's `geometry` whose weights come from `cfg.pretrained`, and
    the report of what was taken, rebuilt or left."""
    ckpt = open_checkpoint("video", cfg, VideoMAEConfig, "videomae")
    for key in KERNEL_KEYS:
        ckpt.require(key, geometry[key], key, "the patch kernel cannot change shape")
    model, info = load_weights(VideoMAEModel, ckpt, tower_config(ckpt, cfg, geometry))
    report = TowerLoad(
        tower="video",
        source=str(ckpt.folder),
        fresh=sorted(info["missing_keys"]),
        ignored=sorted(info["unexpected_keys"]),
    )
    report.loaded = [name for name in model.state_dict() if name not in info["missing_keys"]]
    old = _tubes(ckpt.config)
    new = _tubes(model.config)
    if old != new:
        report.converted[POSITIONS] = (
            f"fixed sin-cos table rebuilt for {_shape(new)} tubes (checkpoint: {_shape(old)})"
        )
    return model, report


def _tubes(config: VideoMAEConfig) -> tuple[int, int, int]:
    """(time, rows, columns) of tubes, VideoMAE's flattening order."""
    (height, width), (ph, pw) = pair(config.image_size), pair(config.patch_size)
    return config.num_frames // config.tubelet_size, height // ph, width // pw


def _shape(grid: tuple[int, int, int]) -> str:
    return "×".join(map(str, grid))
