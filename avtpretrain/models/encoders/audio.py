"""Audio encoder: a ViT-MAE over the log-mel fbank "image" (frames × mel bins, one channel)."""

from __future__ import annotations

import torch
from transformers import ViTMAEConfig, ViTMAEModel
from transformers.models.vit_mae.modeling_vit_mae import build_2d_sinusoidal_position_embedding

from avtpretrain.config.model import AudioTowerConfig
from avtpretrain.models.convert.vit_mae import load_audio
from avtpretrain.models.encoders.base import Encoder, build, enable_checkpointing


class AudioEncoder(Encoder):
    """Runs ViTMAE's own modules, so that masking follows the batch's mask rather than ViTMAE's.

    With `cfg.pretrained`, an image ViT-MAE is converted to the fbank grid the AST way and an
    audio-native one is taken as it is (`convert/vit_mae.py`; `load_report` says what was done).
    """

    def __init__(self, cfg: AudioTowerConfig) -> None:
        super().__init__()
        self.grid = cfg.grid
        geometry = {
            "image_size": (cfg.target_frames, cfg.num_mel_bins),
            "patch_size": cfg.patch_size,
            "num_channels": 1,
            "mask_ratio": 0.0,
        }
        if cfg.pretrained:
            self.hf, self.load_report = load_audio(cfg, geometry)
        else:
            self.hf = build(ViTMAEModel, ViTMAEConfig, cfg, **geometry)
            # transformers 5 leaves the frozen sin-cos table at zero when building from a config
            # (and only knows square grids): fill it for the frames × bins grid.
            table = build_2d_sinusoidal_position_embedding(
                *self.grid, self.hf.config.hidden_size, cls_token=True
            )
            with torch.no_grad():
                self.hf.embeddings.position_embeddings.copy_(table.unsqueeze(0))
        enable_checkpointing(self.hf, cfg)
        self.hidden_size = self.hf.config.hidden_size
        self.num_patches = cfg.num_patches

    def forward(self, fbank: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """fbank [B, frames, bins] → [B, 1 + visible patches, hidden] ([CLS] first).

        `mask` [B, patches] (True = hidden) must hide the same number of patches in every row.
        """
        emb = self.hf.embeddings
        pixels = fbank.unsqueeze(1).to(emb.patch_embeddings.projection.weight.dtype)
        # Calling the embeddings module itself (not its tensors) keeps ZeRO-3's parameter
        # gathering working. With mask_ratio 0 and an increasing `noise`, ViTMAE keeps every
        # patch in order: [CLS] + patches, position embeddings added.
        noise = torch.arange(self.num_patches, device=fbank.device, dtype=torch.float)
        hidden = emb(pixels, noise=noise.expand(fbank.shape[0], -1))[0]
        if mask is not None:
            keep = (~mask).nonzero(as_tuple=True)[1].view(mask.shape[0], -1) + 1
            keep = torch.cat([torch.zeros_like(keep[:, :1]), keep], dim=1)  # [CLS] stays
            hidden = hidden.gather(1, keep.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        for layer in self.hf.layers:
            hidden = layer(hidden)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return self.hf.layernorm(hidden)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return tokens[:, 1:].mean(dim=1)  # mean of patch tokens, as AudioMAE pools
