"""Checkpoints are never resumed from torn, never pruned wrongly, and a failing save on one rank
fails every rank instead of leaving the others waiting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from avtpretrain.config import RunConfig
from avtpretrain.engine.checkpoint import (
    SUPERSEDED,
    CheckpointSaveError,
    _prune,
    save_checkpoint,
    tidy_before_resume,
)
from avtpretrain.engine.folders import COMPLETE, checkpoints
from avtpretrain.engine.training import resume_path
from tests.engine.spawned import run_ranks

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


def _save_twice(info, out: str, fail_rank: int, fail_on: str) -> None:
    engine = _engine()
    save_checkpoint(engine, out, 1, {"train": {}}, info, limit=None)
    if info.rank == fail_rank:
        _failing_save(engine, fail_on)
    try:
        save_checkpoint(engine, out, 1, {"train": {}}, info, limit=None)
    except CheckpointSaveError as e:
        Path(out, f"error-{info.rank}.txt").write_text(str(e))


@pytest.mark.parametrize("fail_on", ["optim_states", "model_states"])
def test_a_failing_save_on_one_rank_fails_every_rank_and_leaves_no_marker(
    tmp_path, fail_on
) -> None:
    # Rank 1 writes only its optimizer partition; rank 0 writes the model states too.
    fail_rank = 1 if fail_on == "optim_states" else 0
    # Before the fix, the healthy rank waited at DeepSpeed's barrier forever.
    run_ranks(_save_twice, str(tmp_path), fail_rank, fail_on, world=2)
    for rank in (0, 1):
        error = (tmp_path / f"error-{rank}.txt").read_text()
        assert f"rank {fail_rank}: " in error and DISK_FULL in error, error
    # The rewrite of checkpoint-1 failed: it must not look complete any more.
    assert not (tmp_path / "checkpoint-1" / COMPLETE).exists()


def _save_recording_order(info, out: str) -> None:
    import avtpretrain.engine.checkpoint as ckpt

    events: list[str] = []
    real_save, real_mark = ckpt.GuardedCheckpointEngine.save, ckpt.atomic_write_text

    def save(self, state_dict, path) -> None:
        real_save(self, state_dict, path)
        events.append(f"file {Path(path).name} on disk: {Path(path).is_file()}")

    def mark(path, text):
        events.append(f"marker after {len(events)} files")
        return real_mark(path, text)

    ckpt.GuardedCheckpointEngine.save, ckpt.atomic_write_text = save, mark
    save_checkpoint(_engine(), out, 3, {"train": {}}, info, limit=1)
    Path(out, "events.json").write_text(json.dumps(events))


def test_save_writes_the_marker_after_the_files(tmp_path) -> None:
    run_ranks(_save_recording_order, str(tmp_path))
    path = tmp_path / "checkpoint-3"
    assert json.loads((path / COMPLETE).read_text()) == {"step": 3}
    files = sorted(p.name for p in path.iterdir() if p.suffix == ".pt")
    assert len(files) == 2 and not (tmp_path / "latest").exists()
    events = json.loads((tmp_path / "events.json").read_text())
    assert events == [f"file {n} on disk: True" for n in files] + ["marker after 2 files"]
