"""The layout of a run's checkpoint folders, readable without torch or deepspeed (the input
checks run before either is imported)."""

from __future__ import annotations

import re
from pathlib import Path

COMPLETE = "complete.json"
_TAG = re.compile(r"checkpoint-(\d+)")


def is_checkpoint_name(name: str) -> bool:
    return _TAG.fullmatch(name) is not None


def step_of(path: Path) -> int:
    return int(_TAG.fullmatch(path.name).group(1))


def is_complete(path: Path) -> bool:
    return (path / COMPLETE).is_file()


def checkpoints(output_dir: str | Path, complete_only: bool = True) -> list[Path]:
    """Checkpoint folders sorted by step (oldest first)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and is_checkpoint_name(p.name)]
    if complete_only:
        found = [p for p in found if is_complete(p)]
    return sorted(found, key=step_of)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = checkpoints(output_dir)
    return found[-1] if found else None


def resolve_resume(given: str | Path) -> Path:
    """The complete checkpoint `--resume_from_checkpoint` names: a checkpoint-N folder, a run
    folder (its newest complete one) or `<run folder>/latest`. Raises FileNotFoundError."""
    given = Path(given)
    path: Path | None = given
    if given.name == "latest" or (given.is_dir() and not is_checkpoint_name(given.name)):
        path = latest_checkpoint(given.parent if given.name == "latest" else given)
    if path is None or not path.is_dir():
        raise FileNotFoundError(f"--resume_from_checkpoint {given}: no complete checkpoint")
    if not is_complete(path):
        raise FileNotFoundError(
            f"--resume_from_checkpoint {path}: incomplete (a save that did not finish: no "
            f"{COMPLETE}); choose a complete checkpoint"
        )
    return path
