"""One make_shards run per output folder at a time (one per job index for --num_jobs runs).

Two runs into one folder rebuild the same groups and delete each other's temporary shards. A run
holds `.progress/lock` exclusively; the jobs of a --num_jobs run (a SLURM array, meant to share
the folder) hold it shared, plus `.progress/lock-job<I>` exclusively, so a single run and any job
exclude each other, jobs with different indices do not, and two copies of one job do. Jobs
sharing the folder take `.progress/lock-settings` in turn to check and record the settings.

The locks are flock(2) locks: the kernel drops them when the holder dies, however it dies, so a
lock file left by a killed run blocks nothing. The file only says who held it last (pid@host),
for the message. flock is per open file, and forked pool workers inherit it: they close their
copies (see avtpretrain.lock), or a worker outliving a killed parent would still hold it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from avtpretrain.lock import FolderBusyError, read_holder, release, try_lock
from avtpretrain.writer.shardwriter import PROGRESS_DIR

FOLDER_LOCK = "lock"


def _is_held(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _holders(out_dir: Path, tried: Path) -> str:
    """Who holds the lock `tried` could not get: live jobs, else the file's last writer."""
    progress = out_dir / PROGRESS_DIR
    jobs = [p for p in sorted(progress.glob(f"{FOLDER_LOCK}-job*")) if p != tried and _is_held(p)]
    if tried.name == FOLDER_LOCK and jobs:
        return ", ".join(f"{read_holder(p)} ({p.name[len(FOLDER_LOCK) + 1 :]})" for p in jobs)
    return read_holder(tried)


def _take(path: Path, shared: bool, out_dir: Path) -> int:
    fd = try_lock(path, shared)
    if fd is None:
        raise FolderBusyError(
            f"{out_dir} is in use by another make_shards.py run ({_holders(out_dir, path)}); "
            "wait for it to finish or use another --output_dir"
        )
    return fd


@contextmanager
def folder_lock(out_dir: Path, *, job_index: int = 0, num_jobs: int = 1) -> Iterator[None]:
    """Hold the output folder for this run (or job); raises FolderBusyError when another run
    has it."""
    progress = Path(out_dir) / PROGRESS_DIR
    progress.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for name, shared in _locks(job_index, num_jobs):
            stack.callback(release, _take(progress / name, shared, Path(out_dir)))
        yield


@contextmanager
def settings_lock(out_dir: Path) -> Iterator[None]:
    """Serialise the read-compare-write of the settings record among jobs sharing the folder."""
    fd = os.open(Path(out_dir) / PROGRESS_DIR / f"{FOLDER_LOCK}-settings", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocking: the other job holds it for a moment only
        yield
    finally:
        os.close(fd)


def _locks(job_index: int, num_jobs: int) -> list[tuple[str, bool]]:
    if num_jobs == 1:
        return [(FOLDER_LOCK, False)]
    return [(FOLDER_LOCK, True), (f"{FOLDER_LOCK}-job{job_index}", False)]
