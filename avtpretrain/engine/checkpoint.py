"""DeepSpeed checkpoints that are only ever resumed from when complete.

`<output_dir>/checkpoint-<step>/` is written by every rank (DeepSpeed shards it by rank); rank 0
adds `complete.json` only after all ranks finished, so a run killed mid-save never resumes from
a half-written checkpoint. Older complete checkpoints beyond `save_total_limit` are removed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch.distributed as dist

from avtpretrain.dist import DistInfo
from avtpretrain.io import atomic_write_text

COMPLETE = "complete.json"
_TAG = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(output_dir: str | Path, complete_only: bool = True) -> list[Path]:
    """Checkpoint folders sorted by step (oldest first)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _TAG.match(p.name)]
    if complete_only:
        found = [p for p in found if (p / COMPLETE).is_file()]
    return sorted(found, key=lambda p: int(_TAG.match(p.name).group(1)))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = checkpoints(output_dir)
    return found[-1] if found else None


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
    engine.save_checkpoint(str(output_dir), tag=path.name, client_state=client_state)
    dist.barrier()
    if info.is_main:
        atomic_write_text(path / COMPLETE, json.dumps({"step": step}))
        _prune(Path(output_dir), limit, keep=path)
    dist.barrier()
    return path


def _prune(output_dir: Path, limit: int | None, keep: Path) -> None:
    done = checkpoints(output_dir)
    stale = [p for p in checkpoints(output_dir, complete_only=False) if p not in done and p != keep]
    old = done[:-limit] if limit else []
    for path in stale + old:
        shutil.rmtree(path, ignore_errors=False)


def load_checkpoint(engine: Any, path: Path) -> dict:
    """Restore model, optimizer, scheduler and return our client state."""
    loaded, client_state = engine.load_checkpoint(
        str(path.parent), tag=path.name, load_optimizer_states=True, load_lr_scheduler_states=True
    )
    if loaded is None:
        raise RuntimeError(f"{path}: DeepSpeed could not load this checkpoint")
    return client_state
