"""Reading the DeepSpeed JSON: the one home of micro-batch, accumulation, precision and ZeRO.

Checked in two passes, both before the first process group or file in the run folder exists:
  check_ds_config  standard library only, so the entry points run it before torch or deepspeed is
                   imported: every top-level key must be one DeepSpeed reads (a misspelt
                   `zero_optimisation` would silently run ZeRO-0), sections this project sets
                   elsewhere are refused, and the keys it reads have the right JSON types.
  read_ds_config   then hands the file to DeepSpeed's own config classes (pydantic models that
                   reject unknown keys and bad values inside a section), so what
                   `deepspeed.initialize` would refuse minutes later fails at start.
"""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pydantic
    import torch


class DSConfigError(ValueError):
    """A bad DeepSpeed JSON; one line naming the file, the key and what was expected."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The top-level keys deepspeed 0.19.8 reads (minus those it refuses as removed features).
# tests/config/test_dsconfig.py checks this list against the installed deepspeed.
DEEPSPEED_KEYS = _words(
    """
    activation_checkpointing aio autotuning bf16 bfloat16 checkpoint comet comms_logger
    communication_data_type compile csv_monitor data_efficiency data_types dataloader_drop_last
    datastates_ckpt disable_allgather disable_python_gc dump_state expert_parallel
    flops_profiler fp16 gradient_accumulation_steps gradient_allreduce_op gradient_clipping
    gradient_predivide_factor hybrid_engine log_level managed_gradient_accumulation
    memory_breakdown optimizer pipeline prescale_gradients scheduler
    seq_parallel_communication_data_type steps_per_print tensor_parallel tensorboard timers
    torch_autocast train_batch_size train_micro_batch_size_per_gpu
    use_data_before_expert_parallelism vocabulary_size wall_clock_breakdown wandb
    weight_quantization zero_allow_untested_optimizer zero_force_ds_cpu_optimizer
    zero_optimization
    """
)
# Keys whose value DeepSpeed parses as an object (given `true`, it crashes with a TypeError).
SECTIONS = _words(
    """
    activation_checkpointing aio autotuning bf16 bfloat16 checkpoint comet comms_logger compile
    csv_monitor data_efficiency data_types expert_parallel flops_profiler fp16 hybrid_engine
    optimizer pipeline scheduler tensor_parallel tensorboard timers torch_autocast wandb
    weight_quantization zero_optimization
    """
)
# Accepted by DeepSpeed, refused here; the value is the reason.
REFUSED = {
    "optimizer": "not used: the optimizer (AdamW) is built from the recipe's optim: section "
    "(learning_rate, betas, eps, weight_decay); remove it here",
    "scheduler": "not used: the LR schedule is built from the recipe's optim: section "
    "(warmup_ratio, lr_scheduler_type, min_lr_ratio); remove it here",
    "train_batch_size": "leave it out; it follows from the micro-batch, "
    "gradient_accumulation_steps and the number of ranks",
    # An alias DeepSpeed honours; the precision of the inputs is read from `bf16` only.
    "bfloat16": "write it as bf16",
}
# Keys DeepSpeed reads as booleans (it takes any value without complaint).
FLAGS = _words(
    """
    dataloader_drop_last disable_allgather dump_state managed_gradient_accumulation
    memory_breakdown prescale_gradients use_data_before_expert_parallelism wall_clock_breakdown
    zero_allow_untested_optimizer zero_force_ds_cpu_optimizer
    """
)
COUNTS = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "steps_per_print")
ZERO_STAGES = (0, 1, 2, 3)
# DeepSpeed's model for each section, so a pydantic error can name the section it is in.
_SECTION_OF_MODEL = {
    "DeepSpeedZeroConfig": "zero_optimization",
    "DeepSpeedFP16Config": "fp16",
    "DeepSpeedBF16Config": "bf16",
}


@dataclass(frozen=True)
class EngineSettings:
    raw: dict[str, Any]
    micro_batch: int
    grad_accum: int
    zero_stage: int
    dtype: torch.dtype

    @property
    def fp16(self) -> bool:
        import torch  # not at the top: check_ds_config runs before torch is imported

        return self.dtype == torch.float16


def _show(value: Any) -> str:
    return json.dumps(value, default=str)


def _expect(ok: bool, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise DSConfigError(f"{key}: expected {expected}, got {_show(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _parse(path: Path) -> dict[str, Any]:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DSConfigError(
                    f'"{key}" appears twice in one object (JSON keeps only the last)'
                )
            out[key] = value
        return out

    def no_constant(name: str) -> float:
        # Python's json reads NaN and Infinity, which JSON itself does not have.
        raise DSConfigError(f"{name} is not a number JSON allows; write a finite number")

    try:
        raw = json.loads(
            path.read_text(encoding="utf-8"), object_pairs_hook=unique, parse_constant=no_constant
        )
    except OSError as err:
        raise DSConfigError(f"cannot read DeepSpeed config ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise DSConfigError(
            f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    _expect(isinstance(raw, dict), "<top level>", "an object", raw)
    return raw


def _check_keys(raw: dict[str, Any]) -> None:
    for key, value in raw.items():
        if key in REFUSED:
            raise DSConfigError(f"{key}: {REFUSED[key]}")
        if key not in DEEPSPEED_KEYS:
            hint = _did_you_mean(key, DEEPSPEED_KEYS - REFUSED.keys())
            raise DSConfigError(f"{key}: not a key DeepSpeed reads (it would be ignored){hint}")
        if key in SECTIONS:
            _expect(isinstance(value, dict), key, 'an object such as {"enabled": true}', value)


def _check_types(raw: dict[str, Any]) -> None:
    for key in sorted(FLAGS):
        _expect(isinstance(raw.get(key, False), bool), key, "true or false", raw.get(key))
    for key in COUNTS:
        value = raw.get(key, 1)
        if key == "steps_per_print" and value is None:
            continue
        _expect(_is_int(value) and value >= 1, key, "an integer >= 1", value)
    clip = raw.get("gradient_clipping", 0.0)
    number = isinstance(clip, (int, float)) and not isinstance(clip, bool)
    _expect(number and clip >= 0, "gradient_clipping", "a number >= 0", clip)
    for key in ("fp16", "bf16"):
        enabled = raw.get(key, {}).get("enabled", False)
        _expect(isinstance(enabled, bool), f"{key}.enabled", "true or false", enabled)
    stage = raw.get("zero_optimization", {}).get("stage", 0)
    _expect(
        stage in ZERO_STAGES and _is_int(stage),
        "zero_optimization.stage",
        "an integer 0, 1, 2 or 3",
        stage,
    )
    if raw.get("fp16", {}).get("enabled") and raw.get("bf16", {}).get("enabled"):
        raise DSConfigError("fp16 and bf16 are both enabled; pick one")


def parse_ds_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path` (duplicate keys and NaN refused); errors name the file."""
    try:
        return _parse(path)
    except DSConfigError as err:
        raise DSConfigError(f"{path}: {err}") from None


def check_ds_config(path: str | Path) -> dict[str, Any]:
    """Parse the JSON and check its keys and types without importing deepspeed or torch."""
    path = Path(path)
    try:
        raw = _parse(path)
        if "train_micro_batch_size_per_gpu" not in raw:
            raise DSConfigError("train_micro_batch_size_per_gpu: required (an integer >= 1)")
        _check_keys(raw)
        _check_types(raw)
    except DSConfigError as err:
        raise DSConfigError(f"{path}: {err}") from None
    return raw


def _field_names(model: type[pydantic.BaseModel], parents: list[str]) -> list[str]:
    """Field names and aliases of the (nested) model at `parents`, for a did-you-mean."""
    import pydantic

    for name in parents:
        field = next((f for n, f in model.model_fields.items() if name in (n, f.alias)), None)
        if field is None:
            return []
        inner = (field.annotation, *typing.get_args(field.annotation))
        found = [t for t in inner if isinstance(t, type) and issubclass(t, pydantic.BaseModel)]
        if not found:
            return []
        model = found[0]
    return [n for name, f in model.model_fields.items() for n in (name, f.alias) if n]


def _pydantic_line(err: pydantic.ValidationError, model: type[pydantic.BaseModel] | None) -> str:
    first = err.errors()[0]
    section = _SECTION_OF_MODEL.get(err.title)
    loc = [str(p) for p in first["loc"]]
    where = ".".join([section, *loc] if section else loc) or err.title
    if first["type"] == "extra_forbidden":
        hint = _did_you_mean(loc[-1], _field_names(model, loc[:-1])) if model else ""
        return f"{where}: unknown key{hint}"
    return f"{where}: {first['msg']}, got {_show(first['input'])}"


def _deepspeed_check(raw: dict[str, Any]) -> None:
    """What DeepSpeed's own config classes refuse, as one line (they raise many kinds)."""
    import pydantic
    from deepspeed.runtime.config import DeepSpeedConfig, DeepSpeedConfigError
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    try:
        # The zero section first and on its own: its model is known, so a typo gets a hint.
        DeepSpeedZeroConfig(**raw.get("zero_optimization", {}))
    except pydantic.ValidationError as err:
        raise DSConfigError(_pydantic_line(err, DeepSpeedZeroConfig)) from None
    try:
        DeepSpeedConfig(dict(raw))
    except pydantic.ValidationError as err:
        raise DSConfigError(_pydantic_line(err, None)) from None
    except (DeepSpeedConfigError, ValueError, TypeError, AttributeError, AssertionError) as err:
        text = str(err).strip().splitlines()
        reason = text[0] if text else type(err).__name__
        raise DSConfigError(f"DeepSpeed refuses it: {reason}") from None


def read_ds_config(path: str | Path) -> EngineSettings:
    """Parse and check a DeepSpeed JSON (our checks, then DeepSpeed's); errors name file and key."""
    import torch

    raw = check_ds_config(path)
    try:
        _deepspeed_check(raw)
    except DSConfigError as err:
        raise DSConfigError(f"{path}: {err}") from None
    fp16 = raw.get("fp16", {}).get("enabled", False)
    bf16 = raw.get("bf16", {}).get("enabled", False)
    dtype = torch.float16 if fp16 else torch.bfloat16 if bf16 else torch.float32
    micro = raw["train_micro_batch_size_per_gpu"]
    accum = raw.get("gradient_accumulation_steps", 1)
    stage = raw.get("zero_optimization", {}).get("stage", 0)
    return EngineSettings(raw, micro, accum, stage, dtype)
