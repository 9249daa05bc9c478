"""The one training loop, blind to modality and stage: batches in, optimizer steps out.

The DeepSpeed engine owns gradient accumulation: every micro-batch goes through backward and
step, and an optimizer step happens only at its accumulation boundary.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from avtpretrain.config import RunConfig
from avtpretrain.engine.batches import to_device
from avtpretrain.engine.mfu import FlopMeter
from avtpretrain.engine.stream import Stream


@dataclass
class TrainState:
    step: int = 0  # optimizer steps
    micro_steps: int = 0
    samples_seen: int = 0  # over all ranks

    def to_dict(self) -> dict[str, int]:
        return {
            "step": self.step,
            "micro_steps": self.micro_steps,
            "samples_seen": self.samples_seen,
        }


@dataclass
class LoopHooks:
    log: Callable[[int, dict[str, float]], None]
    evaluate: Callable[[int], None]
    save: Callable[[int], None]
    advance: Callable[[], None]


class _Window:
    """Sums of per-step numbers between two log lines."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor | float] = defaultdict(float)
        self.steps = 0
        self.micro = 0
        self.tokens = 0
        self.wait = 0.0
        self.started = time.perf_counter()

    def add(self, metrics: dict[str, torch.Tensor], loss: torch.Tensor) -> None:
        # Summed as tensors on the device: a float() here would sync the GPU every micro-step.
        self.sums["train/loss"] += loss.detach().float()
        for name, value in metrics.items():
            self.sums[f"train/{name}"] += value.detach().float()
        self.micro += 1


def _engine_scalars(engine: Any) -> dict[str, float]:
    # Groups are named "<tower>/decay" and "<tower>/no_decay" (optim.param_groups); both of a
    # tower share its rate. DeepSpeed's ZeRO and fp16 wrappers expose the client's groups.
    towers: dict[str, float] = {}
    for group in engine.optimizer.param_groups:
        tower = str(group.get("name", "")).rpartition("/")[0]
        if tower:
            towers.setdefault(tower, float(group["lr"]))
    # train/lr is the base rate: heads train at optim.learning_rate times the schedule, while a
    # tower's rate is also scaled by optim.lr_scale. No heads group: the first group's rate.
    base = towers.get("heads", float(engine.get_lr()[0]))
    out = {"train/lr": base} | {f"train/lr/{t}": lr for t, lr in sorted(towers.items())}
    norm = engine.get_global_grad_norm()
    if norm is not None:
        out["train/grad_norm"] = float(norm)
    if engine.fp16_enabled():
        out["train/loss_scale"] = loss_scale(engine.optimizer)
        out["train/skipped_steps"] = float(engine.skipped_steps)
    return out


def loss_scale(optimizer: Any) -> float:
    """The fp16 loss scale of any DeepSpeed optimizer: ZeRO-1/2/3 expose `cur_scale`; the stage-0
    FP16_Optimizer / FP16_UnfusedOptimizer expose `loss_scale` (and keep `cur_scale` in their
    `loss_scale_config`)."""
    for owner, name in ((optimizer, "cur_scale"), (optimizer, "loss_scale")):
        value = getattr(owner, name, None)
        if isinstance(value, (int, float, torch.Tensor)):
            return float(value)
    config = getattr(optimizer, "loss_scale_config", None)
    if config is not None and hasattr(config, "cur_scale"):
        return float(config.cur_scale)
    raise AttributeError(f"{type(optimizer).__name__}: no loss scale found")


@dataclass(frozen=True)
class Where:
    """Where the loop runs: the engine's device and precision, and how many ranks share it."""

    device: torch.device
    dtype: torch.dtype
    world_size: int


def train(
    engine: Any,
    stream: Stream,
    *,
    total_steps: int,
    state: TrainState,
    where: Where,
    run: RunConfig,
    hooks: LoopHooks,
) -> TrainState:
    """Run until `total_steps` optimizer steps; logs, evaluates and saves at run's intervals and
    saves at the end."""
    window, last_saved = _Window(), state.step
    device, dtype, world_size = where.device, where.dtype, where.world_size
    meter = FlopMeter(device, dtype)
    while state.step < total_steps:
        fetched = time.perf_counter()
        for raw in stream:
            window.wait += time.perf_counter() - fetched
            batch = to_device(raw, device, dtype)
            loss, metrics = meter.forward(partial(engine, batch), len(raw["keys"]))
            engine.backward(loss)
            boundary = engine.is_gradient_accumulation_boundary()
            engine.step()
            state.micro_steps += 1
            state.samples_seen += len(raw["keys"]) * world_size
            window.add(metrics, loss)
            window.tokens += int(raw["attention_mask"].sum()) * world_size
            if boundary:
                state.step += 1
                hooks.advance()
                if state.step % run.logging_steps == 0 or state.step == total_steps:
                    report = _report(window, engine, stream, len(raw["keys"]), world_size)
                    report |= meter.scalars(report["perf/samples_per_s"], world_size)
                    hooks.log(state.step, report)
                    window = _Window()
                if run.eval_steps and state.step % run.eval_steps == 0:
                    hooks.evaluate(state.step)
                if state.step % run.save_steps == 0:
                    hooks.save(state.step)
                    last_saved = state.step
                if state.step >= total_steps:
                    break
            fetched = time.perf_counter()
    if last_saved != state.step:
        hooks.save(state.step)
    return state


def _report(window: _Window, engine: Any, stream: Stream, micro_batch: int, world: int) -> dict:
    elapsed = max(time.perf_counter() - window.started, 1e-9)
    scalars = {k: float(v) / max(window.micro, 1) for k, v in window.sums.items()}
    scalars |= _engine_scalars(engine)
    scalars["perf/samples_per_s"] = window.micro * micro_batch * world / elapsed
    scalars["perf/tokens_per_s"] = window.tokens / elapsed
    scalars["perf/data_wait_fraction"] = window.wait / elapsed
    for name, value in stream.counters().items():
        if name.startswith("skipped/") or name in ("samples_read", "shards_opened"):
            scalars[f"data/{name}"] = float(value)
    return scalars
