"""Reading the DeepSpeed JSON: the one home of micro-batch, accumulation, precision and ZeRO."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class EngineSettings:
    raw: dict[str, Any]
    micro_batch: int
    grad_accum: int
    zero_stage: int
    dtype: torch.dtype

    @property
    def fp16(self) -> bool:
        return self.dtype == torch.float16


def read_ds_config(path: str | Path) -> EngineSettings:
    """Parse and check a DeepSpeed JSON; errors name the file and the key."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read DeepSpeed config ({err})") from None
    micro = raw.get("train_micro_batch_size_per_gpu")
    if not isinstance(micro, int) or micro < 1:
        raise ValueError(
            f"{path}: train_micro_batch_size_per_gpu: expected an int >= 1, got {micro!r}"
        )
    accum = raw.get("gradient_accumulation_steps", 1)
    if not isinstance(accum, int) or accum < 1:
        raise ValueError(
            f"{path}: gradient_accumulation_steps: expected an int >= 1, got {accum!r}"
        )
    if "train_batch_size" in raw:
        raise ValueError(
            f"{path}: train_batch_size: leave it out; it follows from the micro-batch, "
            "gradient_accumulation_steps and the number of ranks"
        )
    fp16 = raw.get("fp16", {}).get("enabled", False)
    bf16 = raw.get("bf16", {}).get("enabled", False)
    if fp16 and bf16:
        raise ValueError(f"{path}: fp16 and bf16 are both enabled; pick one")
    dtype = torch.float16 if fp16 else torch.bfloat16 if bf16 else torch.float32
    stage = int(raw.get("zero_optimization", {}).get("stage", 0))
    return EngineSettings(raw, micro, accum, stage, dtype)
