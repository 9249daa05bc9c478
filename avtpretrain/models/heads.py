"""Pretraining heads: MLM over fused text tokens, video–text matching, MAE decoders."""

from __future__ import annotations

import torch
from torch import nn


class MLMHead(nn.Module):
    def __init__(self, hidden: int, vocab_size: int) -> None:
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.decoder = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(tokens))


class MAEDecoder(nn.Module):
    """Visible encoder tokens + mask tokens at hidden positions → predicted patches (MAE)."""

    def __init__(self, in_dim: int, dim: int, layers: int, heads: int, patches: int, out: int):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, patches, dim))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, heads, dim * 4, 0.0, "gelu", batch_first=True, norm_first=True
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, visible: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """visible [B, V, in_dim] in patch order; mask [B, N] (True = hidden) → [B, N, out]."""
        b, n = mask.shape
        full = self.mask_token.expand(b, n, -1).clone()
        full[~mask] = self.embed(visible).reshape(-1, full.shape[-1]).to(full.dtype)
        x = full + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class QAHead(nn.Module):
    """ALPRO's answer classifier on the fused [CLS]: Linear → ReLU → Linear."""

    def __init__(self, hidden: int, mult: int, num_answers: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(hidden, hidden * mult), nn.ReLU(), nn.Linear(hidden * mult, num_answers)
        )

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.mlp(fused)
