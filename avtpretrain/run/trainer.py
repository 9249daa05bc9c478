"""One training run, whatever the task: engine, resume, loop, checkpoints, logs.

Pretraining and every finetuning entry point hand this a task module, a training stream and an
evaluation function; the loop, checkpointing and logging are the same code for all of them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from torch import nn

from avtpretrain.config import RunConfig, to_dict
from avtpretrain.engine.checkpoint import save_checkpoint, tidy_before_resume
from avtpretrain.engine.collective import main_does
from avtpretrain.engine.logger import RunLogger
from avtpretrain.engine.loop import LoopHooks, TrainState, Where, train
from avtpretrain.engine.session import AnyRecipe, Context
from avtpretrain.engine.session import finish as close_session
from avtpretrain.engine.stream import Stream
from avtpretrain.engine.training import build_engine, client_state, restore, resume_path
from avtpretrain.engine.training import total_steps as count_steps
from avtpretrain.models.compile import compile_blocks

# Runs on every rank with the unwrapped task; returns metrics on rank 0 ({} elsewhere).
Evaluate = Callable[[nn.Module], dict[str, float]]


@dataclass
class Trained:
    engine: Any
    state: TrainState
    logger: RunLogger
    seconds: float

    def summary(self, output_dir: str) -> dict[str, Any]:
        return {
            "steps": self.state.step,
            "samples_seen": self.state.samples_seen,
            "seconds": round(self.seconds, 1),
            "output_dir": output_dir,
        }


def fit(
    cfg: AnyRecipe, ctx: Context, task: nn.Module, stream: Stream, evaluate: Evaluate | None
) -> Trained:
    """Train `task` on `stream` under DeepSpeed, resuming from the output folder when it can."""
    run, info, settings = cfg.run, ctx.info, ctx.settings
    resume = resume_path(run)
    tidy = partial(tidy_before_resume, Path(run.output_dir), resume)
    tidied = main_does(info.is_main, tidy, "tidying checkpoints before the start") or []
    steps = count_steps(run, stream.batches_per_epoch, settings.grad_accum)
    engine = build_engine(task, cfg.optim, settings, steps, trust=run.trust_checkpoint)
    state = TrainState() if resume is None else restore(engine, resume, stream, info.rank)
    cfg_dict = to_dict(cfg)
    logger = RunLogger(run, info, steps, state.step, cfg_dict)
    if run.compile:  # after the engine: DeepSpeed wraps and casts the module first
        blocks = compile_blocks(engine.module, run.compile_backend)
        logger.message(f"compiled {blocks} transformer blocks ({run.compile_backend})")
    for line in tidied:
        logger.message(line)
    if resume is not None:
        logger.message(f"resumed from {resume} at step {state.step}")

    def save(step: int) -> None:
        client = client_state(cfg_dict, state, stream)
        path = save_checkpoint(engine, run.output_dir, step, client, info, run.save_total_limit)
        logger.message(f"saved {path}")

    def run_eval(step: int) -> None:
        if evaluate is not None:
            logger.log(step, evaluate(engine.module))

    hooks = LoopHooks(log=logger.log, evaluate=run_eval, save=save, advance=logger.advance)
    hooks, run = with_strategies(
        hooks, run, math.ceil(stream.batches_per_epoch / settings.grad_accum)
    )
    where = Where(ctx.device, settings.dtype, info.world_size)
    started = time.perf_counter()
    state = train(engine, stream, total_steps=steps, state=state, where=where, run=run, hooks=hooks)
    return Trained(engine, state, logger, time.perf_counter() - started)


def with_strategies(hooks: LoopHooks, run: RunConfig, steps_per_epoch: int) -> tuple:
    """run.logging_strategy / save_strategy as the loop's intervals: "epoch" logs / saves every
    epoch's worth of steps, "no" never (no checkpoint at all, as in transformers)."""
    changes: dict[str, int] = {}
    for kind, hook in (("logging", "log"), ("save", "save")):
        strategy = getattr(run, f"{kind}_strategy")
        if strategy == "epoch":
            changes[f"{kind}_steps"] = max(1, steps_per_epoch)
        elif strategy == "no":
            hooks = replace(hooks, **{hook: _nothing})
    return hooks, replace(run, **changes)


def _nothing(*_: Any) -> None:
    return None


def finish(trained: Trained | None, summary: dict[str, Any]) -> int:
    """Write the summary (when a run trained), then tear the process group down on every rank."""
    if trained is not None:
        trained.logger.close(summary)
        trained.logger.message(f"done: {summary}")
    close_session()
    return 0
