"""Two runs pointed at one output_dir: the second is refused in one line, and a lock left by a
killed run blocks nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from avtpretrain.lock import LOCK_NAME, FolderBusyError, lock_folder, release
from tests.run.conftest import REPO, pretrain_cmd

# Takes the lock, optionally forks a child that lives on (as a DataLoader worker does), says so.
HOLD = """
import os, sys, time
from avtpretrain.lock import lock_folder
lock_folder(sys.argv[1], "x")
child = os.fork() if sys.argv[2] == "fork" else -1
if child == 0:
    time.sleep(600)
    os._exit(0)
print("held", child, flush=True)
time.sleep(600)
"""


def _holder(folder, fork: bool = False) -> tuple[subprocess.Popen, int]:
    """The holding process, and its forked child's pid (-1 without one)."""
    args = [sys.executable, "-c", HOLD, str(folder), "fork" if fork else "no"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True)
    said, child = proc.stdout.readline().split()
    assert said == "held"
    return proc, int(child)


def test_second_holder_is_refused_naming_the_first(tmp_path) -> None:
    fd = lock_folder(tmp_path, "training run")
    try:
        with pytest.raises(FolderBusyError, match=rf"another training run .*\({os.getpid()}@"):
            lock_folder(tmp_path, "training run")
    finally:
        release(fd)
    release(lock_folder(tmp_path, "training run"))  # released: free again


@pytest.mark.parametrize("fork", [False, True])
def test_a_killed_holder_leaves_a_file_but_no_lock(tmp_path, fork) -> None:
    proc, child = _holder(tmp_path, fork)
    with pytest.raises(FolderBusyError, match=str(proc.pid)):
        lock_folder(tmp_path, "training run")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / LOCK_NAME).is_file()
    try:
        # A forked child still running (a worker that has not noticed yet) holds no lock.
        release(lock_folder(tmp_path, "training run"))
    finally:
        if child > 0:
            os.kill(child, signal.SIGKILL)


def test_pretraining_into_a_folder_another_run_holds_exits_2(corpus, tmp_path) -> None:
    proc, _ = _holder(tmp_path)
    try:
        env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
        cmd = pretrain_cmd(corpus, tmp_path, "zero2_fp32", "--max_steps", "2")
        run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        proc.kill()
        proc.wait()
    assert run.returncode == 2, run.stderr[-2000:]
    assert f"another training run is using this folder ({proc.pid}@" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "config.yaml").exists() and not (tmp_path / "log.jsonl").exists()
