"""The DeepSpeed engine for a task: optimizer, schedule, and the client state a checkpoint carries.

The rest of a training run (what to train on, what to evaluate) is the composition root's.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import deepspeed
import torch
import torch.distributed as dist
from torch import nn

from avtpretrain.config import OptimConfig, RunConfig
from avtpretrain.engine.checkpoint import guard, load_checkpoint
from avtpretrain.engine.dsconfig import EngineSettings
from avtpretrain.engine.folders import latest_checkpoint, resolve_resume
from avtpretrain.engine.loop import TrainState
from avtpretrain.engine.optim import build_optimizer, build_scheduler, offloads_optimizer
from avtpretrain.engine.stream import Stream


def total_steps(run: RunConfig, batches_per_epoch: int, grad_accum: int) -> int:
    if run.max_steps > 0:
        return run.max_steps
    return max(1, math.ceil(run.num_train_epochs * batches_per_epoch / grad_accum))


def build_engine(
    task: nn.Module, optim: OptimConfig, settings: EngineSettings, steps: int, trust: bool = False
) -> Any:
    """DeepSpeed's engine around `task`, with our AdamW groups and LR schedule, and checkpoint
    files that are fsynced when saved and loaded without unpickling code (unless `trust`)."""
    optimizer = build_optimizer(task, optim, offloads_optimizer(settings.raw))
    scheduler = build_scheduler(optimizer, steps, optim)
    engine, _, _, _ = deepspeed.initialize(
        model=task, optimizer=optimizer, lr_scheduler=scheduler, config=settings.raw
    )
    guard(engine, trust)
    return engine


def resume_path(run: RunConfig) -> Path | None:
    """The checkpoint this run continues from, or None for a fresh start."""
    if run.resume_from_checkpoint:
        return resolve_resume(run.resume_from_checkpoint)
    if run.overwrite_output_dir:
        return None
    return latest_checkpoint(run.output_dir)


def client_state(cfg_dict: dict, state: TrainState, stream: Stream) -> dict:
    """Per-rank data positions and RNG states, gathered: DeepSpeed saves client_state once."""
    mine = {"data": stream.state_dict(), "torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        # Dropout and the hard-negative draw use the CUDA generators on a GPU.
        mine["cuda_rng"] = torch.cuda.get_rng_state_all()
    ranks = [None] * dist.get_world_size()
    dist.all_gather_object(ranks, mine)
    return {"train": state.to_dict(), "ranks": ranks, "config": cfg_dict}


def restore(engine: Any, path: Path, stream: Stream, rank: int) -> TrainState:
    """Model, optimizer, schedule, this rank's data position and RNG from a checkpoint."""
    client = load_checkpoint(engine, path)
    mine = client["ranks"][rank]
    stream.load_state_dict(mine["data"])
    torch.set_rng_state(mine["torch_rng"])
    if "cuda_rng" in mine and torch.cuda.is_available():
        if len(mine["cuda_rng"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(mine["cuda_rng"])
        else:
            warnings.warn(
                f"{path}: saved with {len(mine['cuda_rng'])} CUDA devices per process, resumed "
                f"with {torch.cuda.device_count()}: CUDA random streams start afresh",
                stacklevel=2,
            )
    return TrainState(**client["train"])
