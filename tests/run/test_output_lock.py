"""Two runs pointed at one output_dir: the second is refused in one line, and a lock left by a
killed run blocks nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from avtpretrain.lock import LOCK_NAME, FolderBusyError, lock_folder
from tests.run.conftest import REPO, pretrain_cmd

HOLD = "from avtpretrain.lock import lock_folder; import sys, time; lock_folder(sys.argv[1], 'x'); print('held', flush=True); time.sleep(600)"  # noqa: E501


def _holder(folder) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_holder_is_refused_naming_the_first(tmp_path) -> None:
    fd = lock_folder(tmp_path, "training run")
    try:
        with pytest.raises(FolderBusyError, match=rf"another training run .*\({os.getpid()}@"):
            lock_folder(tmp_path, "training run")
    finally:
        os.close(fd)
    os.close(lock_folder(tmp_path, "training run"))  # released: free again


def test_a_killed_holder_leaves_a_file_but_no_lock(tmp_path) -> None:
    proc = _holder(tmp_path)
    with pytest.raises(FolderBusyError, match=str(proc.pid)):
        lock_folder(tmp_path, "training run")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / LOCK_NAME).is_file()
    os.close(lock_folder(tmp_path, "training run"))


def test_pretraining_into_a_folder_another_run_holds_exits_2(corpus, tmp_path) -> None:
    proc = _holder(tmp_path)
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
