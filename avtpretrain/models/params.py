"""Parameter counts per tower for any model config, built on the meta device (no weights)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from avtpretrain.config import load_model_config
from avtpretrain.config.model import MODALITIES, ModelConfig
from avtpretrain.models.model import AVTModel


def count_parameters(cfg: ModelConfig, vocab_size: int) -> dict[str, int]:
    """{"text", "audio", "video", "fusion", "heads", "total"}: parameters, nothing allocated."""
    with torch.device("meta"):
        model = AVTModel(cfg, vocab_size)
    counts = {m: sum(p.numel() for p in getattr(model, m).parameters()) for m in MODALITIES}
    counts["fusion"] = sum(p.numel() for p in model.fusion.parameters())
    counts["heads"] = sum(p.numel() for p in model.proj.parameters()) + 1  # + logit scale
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="count_params.py", description=__doc__.split("\n")[0])
    p.add_argument("model", help="model_configs name (tiny, small, base) or a YAML path")
    p.add_argument("--vocab_size", type=int, default=30522, help="used unless the config fixes one")
    args = p.parse_args(argv)
    cfg = load_model_config(args.model, Path.cwd() / "pretrain" / "x.yaml")
    counts = count_parameters(cfg, args.vocab_size)
    families = {"text": cfg.text.family, "audio": cfg.audio.family, "video": cfg.video.family}
    print(f"{'part':<8}{'family':<16}{'parameters':>16}")
    for part, n in counts.items():
        print(f"{part:<8}{families.get(part, ''):<16}{n:>16,}  ({n / 1e6:.1f}M)")
    return 0
