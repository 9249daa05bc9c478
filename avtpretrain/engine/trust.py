"""Loading checkpoint files without running code from them.

`torch.load(weights_only=False)` unpickles anything, and a pickle can call any function: a crafted
checkpoint runs code the moment it is resumed, exported or used as `init_from`. Here every file is
loaded with `weights_only=True`, which admits tensors, plain containers and the few DeepSpeed
classes its optimizer states hold; a file that needs anything else is refused, naming what it asked
for, unless the user says they trust it (`--trust_checkpoint`).
"""

from __future__ import annotations

import importlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

# (module, name) of each class a DeepSpeed checkpoint written by this project pickles (ZeRO
# stage enum, loss scalers, the bf16 optimizer's fragment addresses). They only carry numbers.
_DEEPSPEED_CLASSES = (
    ("deepspeed.runtime.zero.config", "ZeroStageEnum"),
    ("deepspeed.runtime.fp16.loss_scaler", "LossScaler"),
    ("deepspeed.runtime.fp16.loss_scaler", "DynamicLossScaler"),
    ("deepspeed.utils.tensor_fragment", "fragment_address"),
)


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint file that would need arbitrary unpickling to load."""


def allowed_classes() -> list[type]:
    return [getattr(importlib.import_module(m), n) for m, n in _DEEPSPEED_CLASSES]


def safe_load(
    path: str | Path, map_location: Any = "cpu", trust: bool = False, mmap: bool = False
) -> Any:
    """`torch.load` that refuses to run code from `path` unless `trust` is set. `mmap` leaves
    tensor data on disk: enough to vet a file without reading it."""
    if trust:
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(allowed_classes()):
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise UntrustedCheckpointError(
            f"{path}: refused to load, it holds more than weights ({_reason(e)}); if you trust "
            "where this file came from, pass --trust_checkpoint"
        ) from None


def _reason(error: Exception) -> str:
    """The line of torch's page-long message that names what the file asked for."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or "Unsupported" in line]
    return (named or lines or ["unreadable pickle"])[0][:300]


def verify_folder(folder: Path, trust: bool = False) -> None:
    """Load every `*.pt` in a checkpoint folder safely, so that code which can only call
    `torch.load(weights_only=False)` on it (DeepSpeed's ZeRO merge) reads vetted files."""
    if trust:
        return
    for path in sorted(folder.glob("*.pt")):
        # torch can only mmap its zip format; `checkpoint_serialization: false` writes the old one.
        safe_load(path, map_location="cpu", mmap=zipfile.is_zipfile(path))
