"""Model FLOPs utilisation and peak memory for the training log.

MFU = achieved model FLOP/s per device / the device's dense peak for the run's dtype. Model FLOPs
are counted once, on the first micro-batch's forward (x3 for forward + backward, as in
avtpretrain.tasks.flops), so recomputation by activation checkpointing does not inflate them.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import TypeVar

import torch
from torch.utils.flop_counter import FlopCounterMode

T = TypeVar("T")
BACKWARD_FACTOR = 3

# Dense (no sparsity) peak TFLOP/s per GPU from the vendors' data sheets; fp32 without TF32,
# which torch leaves off by default. First match of the device name wins: more specific first.
PEAK_TFLOPS: tuple[tuple[str, dict[torch.dtype, float]], ...] = (
    ("H200", {torch.bfloat16: 989.0, torch.float16: 989.0, torch.float32: 67.0}),
    ("H100 PCIe", {torch.bfloat16: 756.0, torch.float16: 756.0, torch.float32: 51.0}),
    ("H100", {torch.bfloat16: 989.0, torch.float16: 989.0, torch.float32: 67.0}),
    ("A100", {torch.bfloat16: 312.0, torch.float16: 312.0, torch.float32: 19.5}),
    ("L40S", {torch.bfloat16: 362.0, torch.float16: 362.0, torch.float32: 91.6}),
    ("V100", {torch.float16: 125.0, torch.float32: 15.7}),
)


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    """The device's dense peak FLOP/s for `dtype`, or None when the table does not know it."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peaks in PEAK_TFLOPS:
        if key in name:
            return peaks[dtype] * 1e12 if dtype in peaks else None
    return None


def counted(fn: Callable[[], T]) -> tuple[T, int]:
    """fn()'s result and the FLOPs its forward ran (matmuls, convolutions, attention)."""
    with FlopCounterMode(display=False) as counter:
        result = fn()
    return result, counter.get_total_flops()


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory so far: allocated device memory on CUDA, the process's resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


class FlopMeter:
    """Counts model FLOPs per sample on the first forward it runs; then reports utilisation."""

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device = device
        self.peak = peak_flops(device, dtype)
        self.per_sample: float | None = None

    def forward(self, fn: Callable[[], T], samples: int) -> T:
        if self.per_sample is not None:
            return fn()
        result, flops = counted(fn)
        self.per_sample = BACKWARD_FACTOR * flops / samples
        return result

    def scalars(self, samples_per_s: float, world: int) -> dict[str, float]:
        """perf/*: model TFLOP/s per device, MFU when the peak is known, peak memory."""
        out = {"perf/peak_memory_gb": peak_memory_gb(self.device)}
        if self.per_sample:
            achieved = self.per_sample * samples_per_s / world
            out["perf/model_tflops_per_device"] = achieved / 1e12
            if self.peak:
                out["perf/mfu"] = achieved / self.peak
        return out
