"""The interface every encoder family implements, and helpers for Hugging Face backed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from avtpretrain.config.model import TowerConfig
from avtpretrain.models.loading import TowerLoad


class Encoder(nn.Module):
    """Wraps one Hugging Face model (`self.hf`) so the tower exports as a plain HF folder.

    `forward` returns token states [B, N, hidden]; `pool` turns them into one vector per sample.
    `load_report` says what a start from a pretrained folder did; None for random init.
    """

    hf: nn.Module
    hidden_size: int
    load_report: TowerLoad | None = None

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return tokens.mean(dim=1)
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def save_hf(self, out_dir: str | Path) -> Path:
        """config.json + model.safetensors that `transformers.AutoModel.from_pretrained` loads."""
        self.hf.save_pretrained(str(out_dir))
        return Path(out_dir)


def hf_kwargs(cfg: TowerConfig) -> dict[str, Any]:
    """The shape arguments every HF transformer config shares, plus the family's own options."""
    return {
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "intermediate_size": cfg.intermediate_size,
        **cfg.options,
    }


def build(model_cls, config_cls, cfg: TowerConfig, **overrides: Any) -> nn.Module:
    """Random init from the recipe alone; `overrides` (the tower's geometry) win over `options`."""
    return model_cls(config_cls(**{**hf_kwargs(cfg), **overrides}))


def load_or_build(model_cls, config_cls, cfg: TowerConfig, **overrides: Any) -> nn.Module:
    """From `cfg.pretrained` (a local folder, never the hub) when set, else random init."""
    if cfg.pretrained:
        if not Path(cfg.pretrained).is_dir():
            raise ValueError(f"{cfg.family}: pretrained folder {cfg.pretrained} does not exist")
        model = model_cls.from_pretrained(cfg.pretrained, local_files_only=True)
    else:
        model = build(model_cls, config_cls, cfg, **overrides)
    enable_checkpointing(model, cfg)
    return model


def enable_checkpointing(model: nn.Module, cfg: TowerConfig) -> None:
    if cfg.gradient_checkpointing:
        # transformers 5 renamed the switch; 4.x only has the old name.
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)()
