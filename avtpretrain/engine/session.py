"""The start of every run: engine settings, process group, seeds and the output folder."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from avtpretrain.config import FinetuneConfig, RecipeConfig, RunConfig, save_resolved
from avtpretrain.dist import DistInfo
from avtpretrain.engine.collective import main_does
from avtpretrain.engine.distributed import init_distributed
from avtpretrain.engine.dsconfig import EngineSettings, read_ds_config
from avtpretrain.io import atomic_write_text
from avtpretrain.lock import FolderBusyError, lock_folder

AnyRecipe = RecipeConfig | FinetuneConfig
M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class Context:
    """Who this process is, where it computes, and the DeepSpeed JSON's settings."""

    info: DistInfo
    device: torch.device
    settings: EngineSettings
    # Rank 0's hold on the output folder's lock: released when the process ends.
    lock: int | None = None

    def message(self, text: str) -> None:
        if self.info.is_main:
            print(text, flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_deterministic() -> None:
    """Kernels that give the same bits every run (e.g. accumulating index backward on the CPU
    was seen to differ in the last bit between two runs of the same command)."""
    # cuBLAS reads this when it starts; it must be set before the first CUDA matmul.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op with no deterministic kernel (some CUDA ones) warns, naming itself,
    # rather than stopping the run.
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Determinism does not need torch.empty to fill memory with NaN (its default then): that
    # made a CPU run of the demo 3x slower.
    torch.utils.deterministic.fill_uninitialized_memory = False


def prepare_output_dir(cfg: AnyRecipe, is_main: bool, ds_raw: dict | None = None) -> None:
    """--overwrite_output_dir: drop earlier checkpoints and logs; then save the resolved config
    (config.yaml) and the DeepSpeed JSON as this run used it (ds_config.json: flags applied,
    "auto" values filled)."""
    out = Path(cfg.run.output_dir)
    if cfg.run.overwrite_output_dir and is_main and out.is_dir():
        for path in out.glob("checkpoint-*"):
            shutil.rmtree(path)
        shutil.rmtree(out / "tensorboard", ignore_errors=True)
        (out / "log.jsonl").unlink(missing_ok=True)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_resolved(cfg, out)
        if ds_raw is not None:
            atomic_write_text(out / "ds_config.json", json.dumps(ds_raw, indent=2) + "\n")
    dist.barrier()


def start(cfg: AnyRecipe, ds_path: str, prepare: bool = True) -> Context:
    """Read the engine settings, join the process group, seed, prepare the output folder."""
    settings = read_ds_config(ds_path)
    if cfg.run.deterministic:
        make_deterministic()
    info, device = init_distributed(cfg.run.device)
    seed_everything(cfg.run.seed + info.rank)
    lock = None
    if prepare:
        lock = lock_output_dir(cfg.run.output_dir, info.is_main)
        prepare_output_dir(cfg, info.is_main, settings.raw)
    return Context(info, device, settings, lock)


def lock_output_dir(output_dir: str, is_main: bool) -> int | None:
    """Rank 0 takes the output folder's lock; if another run holds it (or the folder cannot be
    made), every rank stops."""
    lock = partial(lock_folder, output_dir, "training run")
    return main_does(is_main, lock, f"locking {output_dir}", keep=(FolderBusyError,))


def build_same_everywhere(run: RunConfig, info: DistInfo, build: Callable[[], M]) -> M:
    """The task with the same initial weights on every rank; then each rank its own random
    stream (dropout, negatives)."""
    torch.manual_seed(run.seed)
    task = build()
    torch.manual_seed(run.seed + info.rank)
    return task


def finish() -> None:
    """Tear the process group down on every rank."""
    dist.barrier()
    # Explicitly: left to interpreter exit, its background threads were seen to abort a rank
    # ("terminate called without an active exception").
    dist.destroy_process_group()
