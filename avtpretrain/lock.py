"""Exclusive (or shared) locks on files, that die with their process.

`fcntl.flock` is released by the kernel when the holding process exits, kill -9 included, so a
lock file left behind by a dead run never blocks the next one; the file only says who held it last
(pid@host), for the message. The lock belongs to the open file, which a forked child (a DataLoader
or pool worker) shares: every forked child closes its copies at once, or a worker outliving a
killed parent would keep the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

LOCK_NAME = ".lock"
_HELD: set[int] = set()  # this process's lock descriptors


def _close_in_child() -> None:
    for fd in _HELD:
        # Already closed by the child's own code: nothing left to release.
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


def release(fd: int) -> None:
    """Give up a lock `try_lock` or `lock_folder` returned."""
    _HELD.discard(fd)
    os.close(fd)


class FolderBusyError(RuntimeError):
    """Another live process holds the folder's lock."""


def try_lock(path: Path, shared: bool = False) -> int | None:
    """An open descriptor holding `path`'s lock, or None when another process holds it; `release`
    gives it up. An exclusive holder writes its pid@host into the file."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    _HELD.add(fd)
    if not shared:  # shared holders would overwrite each other
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode(), 0)
    return fd


def read_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except (OSError, UnicodeDecodeError) as err:
        return f"unknown ({type(err).__name__})"


def lock_folder(folder: str | Path, what: str) -> int:
    """Hold `folder` (its `.lock` file) for this process or raise FolderBusyError naming the
    holder. Held until `release` or the end of the process."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = try_lock(folder / LOCK_NAME)
    if fd is None:
        raise FolderBusyError(
            f"{folder}: another {what} is using this folder ({read_holder(folder / LOCK_NAME)}); "
            "wait for it to end or choose another folder"
        )
    return fd
