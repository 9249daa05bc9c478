"""Video encoder: VideoMAE over uint8 clips [B, T, 3, H, W], normalised on the model's device."""

from __future__ import annotations

import functools

import torch
from transformers import VideoMAEConfig, VideoMAEModel

from avtpretrain.config.model import VideoTowerConfig
from avtpretrain.models.convert.videomae import load_video
from avtpretrain.models.encoders.base import Encoder, build, enable_checkpointing

# ImageNet statistics, as VideoMAE was pretrained with.
VIDEO_MEAN = (0.485, 0.456, 0.406)
VIDEO_STD = (0.229, 0.224, 0.225)


def normalize_video(video: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [..., 3, H, W] → float normalised by the video encoder's (ImageNet) statistics.

    On the model side: the reader keeps frames uint8 (a quarter of the bytes through the worker
    queues) and the model normalises them on its own device, in its own precision.
    """
    mean, std = _statistics(video.device)
    return ((video.float() - mean) / std).to(dtype)


@functools.cache
def _statistics(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Made once per device: a host-to-device copy at every step would stall the GPU queue."""
    shape = (3, 1, 1)
    mean = torch.tensor(VIDEO_MEAN, device=device).view(shape) * 255
    std = torch.tensor(VIDEO_STD, device=device).view(shape) * 255
    return mean, std


class VideoEncoder(Encoder):
    """VideoMAE; with `cfg.pretrained` started from a VideoMAE folder at the recipe's frames and
    image size (`convert/videomae.py`; `load_report` says what was done)."""

    def __init__(self, cfg: VideoTowerConfig) -> None:
        super().__init__()
        geometry = {
            "image_size": cfg.image_size,
            "patch_size": cfg.patch_size,
            "num_channels": 3,
            "num_frames": cfg.num_frames,
            "tubelet_size": cfg.tubelet_size,
            "use_mean_pooling": False,
        }
        if cfg.pretrained:
            self.hf, self.load_report = load_video(cfg, geometry)
        else:
            self.hf = build(VideoMAEModel, VideoMAEConfig, cfg, **geometry)
        enable_checkpointing(self.hf, cfg)
        self.hidden_size = self.hf.config.hidden_size
        self.num_patches = cfg.num_patches

    def forward(self, video: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """uint8/float video → [B, visible tubes, hidden]; `mask` True = hidden, equal per row."""
        if video.dtype == torch.uint8:
            video = normalize_video(
                video, dtype=self.hf.embeddings.patch_embeddings.projection.weight.dtype
            )
        return self.hf(pixel_values=video, bool_masked_pos=mask).last_hidden_state
