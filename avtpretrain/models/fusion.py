"""The cross-modal transformer ("crossformer") over the three towers' token sequences."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from avtpretrain.config.model import MODALITIES, FusionConfig
from avtpretrain.models.fusion_vit import load_vit, read_vit
from avtpretrain.models.loading import TowerLoad

# torch's LayerNorm default: what a randomly initialised fusion has always used.
RANDOM_INIT_EPS = 1e-5


class Fusion(nn.Module):
    """[FUSED] + projected text, audio and video tokens, each with a modality embedding, through a
    pre-norm transformer. Padding and absent modalities are excluded by the key padding mask.

    With `cfg.pretrained` the layers and final norm start from a ViT checkpoint (`load_report`
    says what was taken); otherwise everything is random and `load_report` is None."""

    def __init__(self, cfg: FusionConfig, tower_sizes: dict[str, int]) -> None:
        super().__init__()
        h = cfg.hidden_size
        # Read (and vet) the checkpoint first: its eps is part of the architecture being built.
        source = read_vit(cfg) if cfg.pretrained else None
        eps = source.layer_norm_eps if source else RANDOM_INIT_EPS
        self.inputs = nn.ModuleDict({m: nn.Linear(tower_sizes[m], h) for m in MODALITIES})
        self.modality = nn.Embedding(len(MODALITIES), h)
        self.fused_token = nn.Parameter(torch.zeros(1, 1, h))
        layer_args = dict(
            d_model=h,
            nhead=cfg.num_heads,
            dim_feedforward=cfg.intermediate_size,
            dropout=0.0,
            activation="gelu",
            layer_norm_eps=eps,
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(**layer_args) for _ in range(cfg.num_layers)
        )
        self.norm = nn.LayerNorm(h, eps=eps)
        self.gradient_checkpointing = cfg.gradient_checkpointing
        # BERT-style small init: nn.Embedding's default N(0, 1) (norm ~sqrt(hidden)) would swamp
        # the projected tokens at the start of training.
        nn.init.normal_(self.modality.weight, std=0.02)
        nn.init.normal_(self.fused_token, std=0.02)
        self.load_report: TowerLoad | None = load_vit(self, source) if source else None

    def forward(
        self, tokens: dict[str, torch.Tensor], keep: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """tokens[m] [B, N_m, H_m]; keep[m] [B, N_m] bool (False = padding / absent).

        Returns the fused vector [B, H] and each modality's fused token states.
        """
        parts, masks, sizes = (
            [self.fused_token.expand(len(next(iter(tokens.values()))), -1, -1)],
            [],
            [],
        )
        masks.append(torch.ones(parts[0].shape[:2], dtype=torch.bool, device=parts[0].device))
        for i, m in enumerate(MODALITIES):
            if m not in tokens:
                continue
            kind = torch.full((1, 1), i, device=tokens[m].device)
            parts.append(self.inputs[m](tokens[m]) + self.modality(kind))
            masks.append(keep[m])
            sizes.append((m, tokens[m].shape[1]))
        hidden = torch.cat(parts, dim=1)
        padding = ~torch.cat(masks, dim=1)
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                hidden = checkpoint(layer, hidden, None, padding, use_reentrant=False)
            else:
                hidden = layer(hidden, src_key_padding_mask=padding)
        hidden = self.norm(hidden)
        out, start = {}, 1
        for m, n in sizes:
            out[m] = hidden[:, start : start + n]
            start += n
        return hidden[:, 0], out
