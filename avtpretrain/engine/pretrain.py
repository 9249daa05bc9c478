"""Pretraining wired together: data stream, task, DeepSpeed engine, checkpoints, logging."""

from __future__ import annotations

import math
import random
import shutil
import time
from pathlib import Path

import deepspeed
import numpy as np
import torch
import torch.distributed as dist

from avtpretrain.config import RecipeConfig, save_resolved, to_dict
from avtpretrain.data.loaders import stream_spec, train_stream
from avtpretrain.data.stream import DataState, eval_batches
from avtpretrain.data.tokenizer import load_tokenizer
from avtpretrain.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from avtpretrain.engine.distributed import init_distributed
from avtpretrain.engine.dsconfig import read_ds_config
from avtpretrain.engine.evaluate import zero_shot_retrieval
from avtpretrain.engine.logger import RunLogger
from avtpretrain.engine.loop import LoopHooks, TrainState, train
from avtpretrain.engine.optim import build_optimizer, build_scheduler
from avtpretrain.tasks.pretrain import PretrainTask


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def total_steps(cfg: RecipeConfig, batches_per_epoch: int, grad_accum: int) -> int:
    if cfg.run.max_steps > 0:
        return cfg.run.max_steps
    return max(1, math.ceil(cfg.run.num_train_epochs * batches_per_epoch / grad_accum))


def prepare_output_dir(cfg: RecipeConfig, is_main: bool) -> None:
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


def _resume_path(cfg: RecipeConfig) -> Path | None:
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


def run_pretraining(cfg: RecipeConfig, ds_path: str) -> int:
    settings = read_ds_config(ds_path)
    info, device = init_distributed(cfg.run.device)
    seed_everything(cfg.run.seed + info.rank)
    prepare_output_dir(cfg, info.is_main)
    tokenizer = load_tokenizer(cfg.data.tokenizer)
    # Same initial weights on every rank; then each rank its own random stream (dropout, etc.).
    torch.manual_seed(cfg.run.seed)
    task = PretrainTask(cfg.model, cfg.objectives, len(tokenizer))
    torch.manual_seed(cfg.run.seed + info.rank)
    resume = _resume_path(cfg)
    stream = train_stream(cfg.model, cfg.data, batch_size=settings.micro_batch, dist=info,
                          seed=cfg.run.seed, max_samples=cfg.run.max_train_samples)  # fmt: skip
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
    # Built once: every evaluation reads the same shards with the same tokenizer.
    eval_spec = (
        stream_spec(
            cfg.model,
            cfg.data,
            train=False,
            batch_size=settings.micro_batch,
            dist=info,
            seed=cfg.run.seed,
        )
        if cfg.data.val_shards
        else None
    )

    def save(step: int) -> None:
        client = _client_state(cfg_dict, state, stream.state)
        path = save_checkpoint(
            engine, cfg.run.output_dir, step, client, info, cfg.run.save_total_limit
        )
        logger.message(f"saved {path}")

    def evaluate(step: int) -> None:
        if eval_spec is None:
            return
        batches = eval_batches(eval_spec)
        metrics = zero_shot_retrieval(engine.module, batches, device, settings.dtype, info)
        logger.log(step, metrics)

    hooks = LoopHooks(log=logger.log, evaluate=evaluate, save=save, advance=logger.advance)
    started = time.perf_counter()
    state = train(engine, stream, total_steps=steps, state=state, device=device,
                  dtype=settings.dtype, world_size=info.world_size,
                  logging_steps=cfg.run.logging_steps, eval_steps=cfg.run.eval_steps,
                  save_steps=cfg.run.save_steps, hooks=hooks)  # fmt: skip
    if cfg.run.eval_steps == 0 or state.step % cfg.run.eval_steps:
        evaluate(state.step)
    summary = {"steps": state.step, "samples_seen": state.samples_seen,
               "seconds": round(time.perf_counter() - started, 1),
               "output_dir": cfg.run.output_dir}  # fmt: skip
    logger.close(summary)
    logger.message(f"done: {summary}")
    dist.barrier()
    # Tear the process group down explicitly: left to interpreter exit, its background threads
    # were seen to abort a rank ("terminate called without an active exception").
    dist.destroy_process_group()
    return 0
