"""The DeepSpeed JSON of one run: the file, the Trainer-style flags that override its values, and
`"auto"` values filled the way the Hugging Face Trainer fills them. Standard library only: the
entry points resolve it before torch or deepspeed is imported.

Each knob keeps one home: micro-batch, accumulation, clipping and precision live in the JSON; a
flag overrides the JSON's value for this run, and the resolved JSON is saved with the run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from avtpretrain.engine.dsconfig import DSConfigError, parse_ds_json

# Flag -> the JSON key it sets (dots: nested), and the Trainer's default for an "auto" value.
FLAG_KEYS = {
    "per_device_train_batch_size": ("train_micro_batch_size_per_gpu", 8),
    "gradient_accumulation_steps": ("gradient_accumulation_steps", 1),
    "max_grad_norm": ("gradient_clipping", 1.0),
    "fp16": ("fp16.enabled", False),
    "bf16": ("bf16.enabled", False),
}
# ZeRO's bucket sizes the Trainer derives from the model's hidden size.
_BUCKETS = {
    "zero_optimization.reduce_bucket_size": lambda h: h * h,
    "zero_optimization.stage3_prefetch_bucket_size": lambda h: int(0.9 * h * h),
    "zero_optimization.stage3_param_persistence_threshold": lambda h: 10 * h,
}


def _get(raw: dict, key: str) -> Any:
    for part in key.split(".")[:-1]:
        raw = raw.get(part) or {}
    return raw.get(key.split(".")[-1])


def _set(raw: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        raw = raw.setdefault(part, {})
    raw[last] = value


def _autos(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [k for key, v in node.items() for k in _autos(v, f"{prefix}{key}.")]
    return [prefix[:-1]] if node == "auto" else []


def resolve(raw: dict[str, Any], flags: dict[str, Any], hidden_size: int) -> dict[str, Any]:
    """A copy of `raw` with the flags applied and every "auto" filled; an "auto" this cannot
    fill is an error naming the key."""
    out = json.loads(json.dumps(raw))
    for flag, value in flags.items():
        key, _ = FLAG_KEYS[flag]
        _set(out, key, value)
        if flag in ("fp16", "bf16") and value:  # one half precision at a time
            other = "bf16" if flag == "fp16" else "fp16"
            if _get(out, f"{other}.enabled") not in (None, False):
                _set(out, f"{other}.enabled", False)
    fill = {key: default for key, default in FLAG_KEYS.values()}
    for key in _autos(out):
        if key in fill:
            _set(out, key, fill[key])
        elif key in _BUCKETS:
            _set(out, key, _BUCKETS[key](hidden_size))
        elif key == "train_batch_size":
            world = int(os.environ.get("WORLD_SIZE", "1"))
            micro = _get(out, "train_micro_batch_size_per_gpu")
            accum = _get(out, "gradient_accumulation_steps") or 1
            _set(out, key, int(micro) * int(accum) * world)
        else:
            known = sorted([*fill, *_BUCKETS, "train_batch_size"])
            raise DSConfigError(f'{key}: "auto" is filled only for {", ".join(known)}')
    return out


def resolved_path(path: str, flags: dict[str, Any], hidden_size: int) -> str:
    """`path` itself when nothing changes it; else a resolved copy in a fresh temporary folder
    (each rank resolves its own, the same way)."""
    raw = parse_ds_json(Path(path))
    if not flags and not _autos(raw):
        return path
    try:
        out = resolve(raw, flags, hidden_size)
    except DSConfigError as err:
        raise DSConfigError(f"{path}: {err}") from None
    folder = Path(tempfile.mkdtemp(prefix="avt-ds-"))
    target = folder / Path(path).name
    target.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return str(target)
