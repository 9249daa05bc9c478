"""Checkpoints are never resumed from torn, never pruned wrongly, and a failing save on one rank
fails every rank instead of leaving the others waiting."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from avtpretrain.config import RunConfig
from avtpretrain.dist import DistInfo
from avtpretrain.engine.checkpoint import (
    COMPLETE,
    SUPERSEDED,
    CheckpointSaveError,
    _prune,
    checkpoints,
    save_checkpoint,
    tidy_before_resume,
)
from avtpretrain.engine.distributed import free_port
from avtpretrain.engine.training import resume_path

DS_CONFIG = {
    "train_micro_batch_size_per_gpu": 2,
    "gradient_accumulation_steps": 1,
    "zero_optimization": {"stage": 2},
    "steps_per_print": 10**6,
}
DISK_FULL = "No space left on device"


def _fake(root: Path, step: int, complete: bool = True) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "mp_rank_00_model_states.pt").write_bytes(b"x")
    if complete:
        (path / COMPLETE).write_text(json.dumps({"step": step}))
    return path


def _steps(root: Path, complete_only: bool = True) -> list[int]:
    return [int(p.name.split("-")[1]) for p in checkpoints(root, complete_only)]


def test_prune_after_resuming_from_an_older_step_keeps_what_it_just_wrote(tmp_path) -> None:
    for step in (800, 850, 900, 1000):
        _fake(tmp_path, step)
    _fake(tmp_path, 860, complete=False)  # another save still being written
    _prune(tmp_path, limit=1, keep=tmp_path / "checkpoint-850")
    assert _steps(tmp_path, complete_only=False) == [850, 860, 900, 1000]


def test_prune_keeps_the_limit_counting_the_new_one(tmp_path) -> None:
    for step in (100, 200, 300, 400):
        _fake(tmp_path, step)
    _prune(tmp_path, limit=2, keep=tmp_path / "checkpoint-400")
    assert _steps(tmp_path) == [300, 400]


def test_resume_from_older_step_moves_newer_aside_and_removes_torn(tmp_path) -> None:
    for step in (850, 900, 1000):
        _fake(tmp_path, step)
    _fake(tmp_path, 950, complete=False)
    lines = tidy_before_resume(tmp_path, tmp_path / "checkpoint-850")
    assert _steps(tmp_path, complete_only=False) == [850]
    aside = sorted(p.name.split(".")[0] for p in (tmp_path / SUPERSEDED).iterdir())
    assert aside == ["checkpoint-1000", "checkpoint-900"]
    assert len(lines) == 3 and any("incomplete" in line for line in lines)


def test_explicit_resume_refuses_an_incomplete_checkpoint(tmp_path) -> None:
    torn = _fake(tmp_path, 7, complete=False)
    run = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint=str(torn))
    with pytest.raises(FileNotFoundError, match="incomplete"):
        resume_path(run)
    _fake(tmp_path, 5)
    complete = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint=str(tmp_path))
    assert resume_path(complete) == tmp_path / "checkpoint-5"


def _engine() -> object:
    import deepspeed

    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    engine, *_ = deepspeed.initialize(
        model=model, optimizer=torch.optim.AdamW(model.parameters()), config=DS_CONFIG
    )
    from avtpretrain.engine.checkpoint import guard

    guard(engine, trust=False)
    return engine


def _failing_save(engine: object, fail_on: str) -> None:
    """Make this rank's writes of files whose name contains `fail_on` hit a full disk."""
    real = torch.save

    def save(obj: object, f: object, *args: object, **kwargs: object) -> None:
        if fail_on in getattr(f, "name", str(f)):
            raise OSError(28, DISK_FULL)
        real(obj, f, *args, **kwargs)

    torch.save = save


def _rank(rank: int, port: int, out: str, fail_rank: int, fail_on: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1")
    os.environ.update(MASTER_PORT=str(port), DS_ACCELERATOR="cpu")
    from avtpretrain.engine.distributed import init_distributed

    info, _ = init_distributed("cpu")
    engine = _engine()
    save_checkpoint(engine, out, 1, {"train": {}}, info, limit=None)
    if rank == fail_rank:
        _failing_save(engine, fail_on)
    try:
        save_checkpoint(engine, out, 1, {"train": {}}, info, limit=None)
    except CheckpointSaveError as e:
        Path(out, f"error-{rank}.txt").write_text(str(e))


@pytest.mark.parametrize("fail_on", ["optim_states", "model_states"])
def test_a_failing_save_on_one_rank_fails_every_rank_and_leaves_no_marker(
    tmp_path, fail_on
) -> None:
    # Rank 1 writes only its optimizer partition; rank 0 writes the model states too.
    fail_rank = 1 if fail_on == "optim_states" else 0
    ctx = mp.start_processes(
        _rank,
        args=(free_port(), str(tmp_path), fail_rank, fail_on),
        nprocs=2,
        join=False,
        start_method="spawn",
    )
    # Before the fix, the healthy rank waited at DeepSpeed's barrier forever.
    deadline = time.monotonic() + 300
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail("a rank was still waiting 300 s after the other's save failed")
    for rank in (0, 1):
        error = (tmp_path / f"error-{rank}.txt").read_text()
        assert f"rank {fail_rank}: " in error and DISK_FULL in error, error
    # The rewrite of checkpoint-1 failed: it must not look complete any more.
    assert not (tmp_path / "checkpoint-1" / COMPLETE).exists()


def test_save_writes_the_marker_after_the_files(tmp_path, monkeypatch) -> None:
    import torch.distributed as dist

    from avtpretrain.engine.distributed import init_distributed

    world_of_one = dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1")
    for name, value in {**world_of_one, "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    init_distributed("cpu")
    try:
        engine = _engine()
        path = save_checkpoint(engine, tmp_path, 3, {"train": {}}, DistInfo(), limit=1)
        marker = json.loads((path / COMPLETE).read_text())
        files = [p for p in path.iterdir() if p.suffix == ".pt"]
        assert marker == {"step": 3} and len(files) == 2
        assert all(p.stat().st_mtime_ns <= (path / COMPLETE).stat().st_mtime_ns for p in files)
    finally:
        dist.destroy_process_group()
