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
import re
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

from avtpretrain.dist import DistInfo
from avtpretrain.engine.trust import safe_load
from avtpretrain.io import atomic_write_text

COMPLETE = "complete.json"
SUPERSEDED = "superseded"
_TAG = re.compile(r"^checkpoint-(\d+)$")


class CheckpointSaveError(RuntimeError):
    """Some rank could not write its part of a checkpoint."""


def step_of(path: Path) -> int:
    return int(_TAG.match(path.name).group(1))


def is_complete(path: Path) -> bool:
    return (path / COMPLETE).is_file()


def checkpoints(output_dir: str | Path, complete_only: bool = True) -> list[Path]:
    """Checkpoint folders sorted by step (oldest first)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _TAG.match(p.name)]
    if complete_only:
        found = [p for p in found if is_complete(p)]
    return sorted(found, key=step_of)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = checkpoints(output_dir)
    return found[-1] if found else None


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
    engine.checkpoint_engine = GuardedCheckpointEngine(engine._config, trust)


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
    if info.is_main and is_complete(path):
        # Rewriting a checkpoint (a rerun, a resume from further back): until every new file is
        # down, this folder must not claim to be complete.
        (path / COMPLETE).unlink()
        _fsync_dir(path)
    dist.barrier()
    engine.save_checkpoint(str(output_dir), tag=path.name, client_state=client_state)
    failures = _rank_failures(engine)
    if failures:
        raise CheckpointSaveError(f"{path}: save failed on " + "; ".join(failures))
    if info.is_main:
        _fsync_dir(path)
        atomic_write_text(path / COMPLETE, json.dumps({"step": step}))
        _fsync_dir(path)
        _prune(Path(output_dir), limit, keep=path)
    dist.barrier()
    return path


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
    if not is_complete(path):
        raise FileNotFoundError(f"{path}: incomplete checkpoint (no {COMPLETE}); refusing it")
    loaded, client_state = engine.load_checkpoint(
        str(path.parent), tag=path.name, load_optimizer_states=True, load_lr_scheduler_states=True
    )
    if loaded is None:
        raise RuntimeError(f"{path}: DeepSpeed could not load this checkpoint")
    return client_state
