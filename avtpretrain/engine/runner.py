"""One training run, whatever the task: process group, engine, resume, loop, checkpoints, logs.

Pretraining and every finetuning entry point hand this a task module, a training stream and an
evaluation function; the loop, checkpointing and logging are the same code for all of them.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deepspeed
import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from avtpretrain.config import save_resolved, to_dict
from avtpretrain.data.stream import DataState
from avtpretrain.dist import DistInfo
from avtpretrain.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from avtpretrain.engine.distributed import init_distributed
from avtpretrain.engine.dsconfig import EngineSettings, read_ds_config
from avtpretrain.engine.logger import RunLogger
from avtpretrain.engine.loop import LoopHooks, TrainState, train
from avtpretrain.engine.optim import build_optimizer, build_scheduler

# Runs on every rank with the unwrapped task; returns metrics on rank 0 ({} elsewhere).
Evaluate = Callable[[nn.Module], dict[str, float]]


@dataclass(frozen=True)
class Context:
    info: DistInfo
    device: torch.device
    settings: EngineSettings


@dataclass
class Trained:
    engine: Any
    state: TrainState
    logger: RunLogger
    seconds: float

    def summary(self, output_dir: str) -> dict[str, Any]:
        return {"steps": self.state.step, "samples_seen": self.state.samples_seen,
                "seconds": round(self.seconds, 1), "output_dir": output_dir}  # fmt: skip


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def total_steps(cfg: Any, batches_per_epoch: int, grad_accum: int) -> int:
    if cfg.run.max_steps > 0:
        return cfg.run.max_steps
    return max(1, math.ceil(cfg.run.num_train_epochs * batches_per_epoch / grad_accum))


def prepare_output_dir(cfg: Any, is_main: bool) -> None:
    """--overwrite_output_dir: drop earlier checkpoints and logs; then save the resolved config."""
    out = Path(cfg.run.output_dir)
    if cfg.run.overwrite_output_dir and is_main and out.is_dir():
        for path in out.glob("checkpoint-*"):
            shutil.rmtree(path)
        shutil.rmtree(out / "tensorboard", ignore_errors=True)
        (out / "log.jsonl").unlink(missing_ok=True)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_resolved(cfg, out)
    dist.barrier()


def start(cfg: Any, ds_path: str, prepare: bool = True) -> Context:
    """Read the engine settings, join the process group, seed, prepare the output folder."""
    settings = read_ds_config(ds_path)
    info, device = init_distributed(cfg.run.device)
    seed_everything(cfg.run.seed + info.rank)
    if prepare:
        prepare_output_dir(cfg, info.is_main)
    return Context(info, device, settings)


def build_same_everywhere(cfg: Any, ctx: Context, build: Callable[[], nn.Module]) -> nn.Module:
    """The task with the same initial weights on every rank; then each rank its own random
    stream (dropout, negatives)."""
    torch.manual_seed(cfg.run.seed)
    task = build()
    torch.manual_seed(cfg.run.seed + ctx.info.rank)
    return task


def resume_path(cfg: Any) -> Path | None:
    """The checkpoint this run continues from, or None for a fresh start."""
    if cfg.run.resume_from_checkpoint:
        path = Path(cfg.run.resume_from_checkpoint)
        if path.name == "latest" or (path.is_dir() and not path.name.startswith("checkpoint-")):
            path = latest_checkpoint(path.parent if path.name == "latest" else path)
        if path is None or not path.is_dir():
            raise FileNotFoundError(f"--resume_from_checkpoint: no complete checkpoint at {path}")
        return path
    if cfg.run.overwrite_output_dir:
        return None
    return latest_checkpoint(cfg.run.output_dir)


def _client_state(cfg_dict: dict, state: TrainState, data_state: DataState) -> dict:
    """Per-rank data positions and RNG states, gathered: DeepSpeed saves client_state once."""
    mine = {"data": data_state.to_dict(), "torch_rng": torch.get_rng_state()}
    ranks = [None] * dist.get_world_size()
    dist.all_gather_object(ranks, mine)
    return {"train": state.to_dict(), "ranks": ranks, "config": cfg_dict}


def fit(cfg: Any, ctx: Context, task: nn.Module, stream: Any,
        evaluate: Evaluate | None) -> Trained:  # fmt: skip
    """Train `task` on `stream` under DeepSpeed, resuming from the output folder when it can."""
    info, settings = ctx.info, ctx.settings
    resume = resume_path(cfg)
    steps = total_steps(cfg, stream.batches_per_epoch, settings.grad_accum)
    optimizer = build_optimizer(task, cfg.optim)
    scheduler = build_scheduler(optimizer, steps, cfg.optim)
    engine, _, _, _ = deepspeed.initialize(
        model=task, optimizer=optimizer, lr_scheduler=scheduler, config=settings.raw
    )
    state = TrainState()
    if resume is not None:
        client = load_checkpoint(engine, resume)
        state = TrainState(**client["train"])
        mine = client["ranks"][info.rank]
        stream.restore(DataState.from_dict(mine["data"]))
        torch.set_rng_state(mine["torch_rng"])
    logger = RunLogger(cfg.run.output_dir, info, steps, state.step)
    if resume is not None:
        logger.message(f"resumed from {resume} at step {state.step}")
    cfg_dict = to_dict(cfg)

    def save(step: int) -> None:
        client = _client_state(cfg_dict, state, stream.state)
        path = save_checkpoint(
            engine, cfg.run.output_dir, step, client, info, cfg.run.save_total_limit
        )
        logger.message(f"saved {path}")

    def run_eval(step: int) -> None:
        if evaluate is not None:
            logger.log(step, evaluate(engine.module))

    hooks = LoopHooks(log=logger.log, evaluate=run_eval, save=save, advance=logger.advance)
    started = time.perf_counter()
    state = train(engine, stream, total_steps=steps, state=state, device=ctx.device,
                  dtype=settings.dtype, world_size=info.world_size,
                  logging_steps=cfg.run.logging_steps, eval_steps=cfg.run.eval_steps,
                  save_steps=cfg.run.save_steps, hooks=hooks)  # fmt: skip
    return Trained(engine, state, logger, time.perf_counter() - started)


def finish(trained: Trained | None, summary: dict[str, Any]) -> int:
    """Write the summary (when a run trained), then tear the process group down on every rank."""
    if trained is not None:
        trained.logger.close(summary)
        trained.logger.message(f"done: {summary}")
    dist.barrier()
    # Tear the process group down explicitly: left to interpreter exit, its background threads
    # were seen to abort a rank ("terminate called without an active exception").
    dist.destroy_process_group()
    return 0
