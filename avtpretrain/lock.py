"""Exclusive (or shared) locks on files, that die with their process.

`fcntl.flock` is released by the kernel when the holding process exits, kill -9 included, so a
lock file left behind by a dead run never blocks the next one; the file only says who held it last
(pid@host), for the message.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

LOCK_NAME = ".lock"


class FolderBusyError(RuntimeError):
    """Another live process holds the folder's lock."""


def try_lock(path: Path, shared: bool = False) -> int | None:
    """An open descriptor holding `path`'s lock, or None when another process holds it. Closing
    the descriptor releases the lock. An exclusive holder writes its pid@host into the file."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
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
    holder. Keep the returned descriptor open for as long as the lock must be held."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = try_lock(folder / LOCK_NAME)
    if fd is None:
        raise FolderBusyError(
            f"{folder}: another {what} is using this folder ({read_holder(folder / LOCK_NAME)}); "
            "wait for it to end or choose another folder"
        )
    return fd
