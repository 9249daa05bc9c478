"""DeepSpeed checkpoints that are only ever resumed from when complete.

`<output_dir>/checkpoint-<step>/` is written by every rank (DeepSpeed shards it by rank). Its
`complete.json` is removed before any file in it is rewritten, and written (and fsynced) by rank 0
only after every rank has fsynced its own files: a save that dies half-way never looks complete.
A rank whose write fails does not stop half-way through DeepSpeed's collectives (the others would
wait forever); its error is collected and every rank then fails naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

from avtpretrain.dist import DistInfo
from avtpretrain.engine.collective import main_does
from avtpretrain.engine.folders import COMPLETE, checkpoints, is_complete, step_of
from avtpretrain.engine.trust import safe_load
from avtpretrain.io import atomic_write_text

SUPERSEDED = "superseded"


class CheckpointSaveError(RuntimeError):
    """Some rank could not write its part of a checkpoint."""


class GuardedCheckpointEngine(TorchCheckpointEngine):
    """DeepSpeed's torch engine, but files are fsynced, write errors are kept for the end of the
    save instead of raised mid-collective, and loads never unpickle code unless trusted."""

    def __init__(self, config_params: Any, trust: bool) -> None:
        super().__init__(config_params)
        self.trust = trust
        self.failures: list[str] = []

    def save(self, state_dict: Any, path: str) -> None:
        try:
            with Path(path).open("wb") as f:
                torch.save(state_dict, f, _use_new_zipfile_serialization=self.zipfile_serialization)
                f.flush()
                os.fsync(f.fileno())
        except (OSError, RuntimeError) as e:
            self.failures.append(f"{path}: {type(e).__name__}: {e}")

    def load(self, path: str, map_location: Any = None) -> Any:
        return safe_load(path, map_location=map_location, trust=self.trust)


def guard(engine: Any, trust: bool) -> None:
    """Give `engine` the guarded checkpoint engine (call once, right after initialize)."""
    guarded = GuardedCheckpointEngine(engine._config, trust)
    engine.checkpoint_engine = guarded
    copy_scripts = engine._copy_recovery_script

    def copy_or_record(save_path: str) -> None:
        # DeepSpeed's one write on rank 0 that bypasses the checkpoint engine, mid-collective.
        try:
            copy_scripts(save_path)
        except OSError as e:
            guarded.failures.append(f"{save_path}: recovery scripts: {type(e).__name__}: {e}")

    engine._copy_recovery_script = copy_or_record


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rank_failures(engine: Any) -> list[str]:
    mine = list(engine.checkpoint_engine.failures)
    engine.checkpoint_engine.failures.clear()
    ranks: list[list[str] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(ranks, mine)
    return [f"rank {r}: {msg}" for r, msgs in enumerate(ranks) for msg in msgs or []]


def save_checkpoint(
    engine: Any,
    output_dir: str | Path,
    step: int,
    client_state: dict,
    info: DistInfo,
    limit: int | None,
) -> Path:
    """Every rank must call this (ZeRO state is saved per rank)."""
    path = Path(output_dir) / f"checkpoint-{step}"
    # Rewriting a checkpoint (a rerun, a resume from further back): until every new file is
    # down, this folder must not claim to be complete.
    main_does(info.is_main, partial(_unmark, path), f"{path}: removing {COMPLETE}")
    # save_latest off: DeepSpeed's `latest` file is not read here, and rank 0 would write it
    # outside the checkpoint engine, mid-collective.
    engine.save_checkpoint(
        str(output_dir), tag=path.name, client_state=client_state, save_latest=False
    )
    failures = _rank_failures(engine)
    if failures:
        raise CheckpointSaveError(f"{path}: save failed on " + "; ".join(failures))
    main_does(info.is_main, partial(_mark, path, step, limit), f"{path}: finishing the save")
    return path


def _unmark(path: Path) -> None:
    if is_complete(path):
        (path / COMPLETE).unlink()
        _fsync_dir(path)


def _mark(path: Path, step: int, limit: int | None) -> None:
    _fsync_dir(path)
    atomic_write_text(path / COMPLETE, json.dumps({"step": step}))
    _fsync_dir(path)
    _prune(path.parent, limit, keep=path)


def _prune(output_dir: Path, limit: int | None, keep: Path) -> None:
    """Keep `limit` complete checkpoints, counting `keep`; only older ones are removed."""
    if not limit:
        return
    older = [p for p in checkpoints(output_dir) if step_of(p) < step_of(keep)]
    for path in older[: max(0, len(older) - (limit - 1))]:
        shutil.rmtree(path)


def tidy_before_resume(output_dir: Path, resume: Path | None) -> list[str]:
    """Rank 0, under the output folder's lock (so no other run is writing here): remove
    checkpoint folders a killed save left incomplete, and move checkpoints newer than the one
    resumed from into `superseded/`: this run's future replaces theirs, and keeping them in place
    would let `latest` and pruning mix two histories. Returns what was done, one line each."""
    done = []
    for path in checkpoints(output_dir, complete_only=False):
        if not is_complete(path):
            shutil.rmtree(path)
            done.append(f"removed {path}: incomplete (a save that did not finish)")
        elif resume is not None and step_of(path) > step_of(resume):
            aside = output_dir / SUPERSEDED / f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}"
            aside.parent.mkdir(exist_ok=True)
            path.rename(aside)
            done.append(f"moved {path} to {aside}: newer than {resume.name}, resumed from")
    return done


def load_checkpoint(engine: Any, path: Path) -> dict:
    """Restore model, optimizer, scheduler and return our client state."""
    loaded, client_state = engine.load_checkpoint(
        str(path.parent), tag=path.name, load_optimizer_states=True, load_lr_scheduler_states=True
    )
    if loaded is None:
        raise RuntimeError(f"{path}: DeepSpeed could not load this checkpoint")
    return client_state
