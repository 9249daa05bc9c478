"""Moving a batch onto the model's device in the engine's precision."""

from __future__ import annotations

from typing import Any

import torch


def to_device(batch: dict[str, Any], device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Tensors to `device`; floating tensors (audio) to `dtype`. uint8 video, ids and masks keep
    their types (video is normalised inside the model, in the weights' precision)."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if value.is_floating_point():
                value = value.to(dtype)
        out[key] = value
    return out
