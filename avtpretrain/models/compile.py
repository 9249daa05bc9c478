"""torch.compile for the transformer blocks: each block compiled on its own (small graphs that
compile fast and that the towers' Python around them does not break)."""

from __future__ import annotations

from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

# The fusion's and MAE decoders' layers, and every transformers encoder layer (BERT, DeBERTa-v2,
# ViT-MAE, VideoMAE all derive from GradientCheckpointingLayer).
BLOCKS = (nn.TransformerEncoderLayer, GradientCheckpointingLayer)


def compile_blocks(module: nn.Module, backend: str) -> int:
    """Compile every transformer block of `module` in place; returns how many."""
    blocks = [m for m in module.modules() if isinstance(m, BLOCKS)]
    for block in blocks:
        block.compile(backend=backend)
    return len(blocks)
