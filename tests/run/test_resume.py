"""kill -9 in the middle of a run, rerun: it resumes from the last complete checkpoint and the
losses after the resume equal an uninterrupted run's."""

import os
import signal
import subprocess
import time

import pytest

from tests.run.conftest import REPO, losses, pretrain_cmd, read_log, run_pretrain

ARGS = ["--max_steps", "8", "--save_steps", "2"]


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory) -> dict[int, float]:
    return losses(run_pretrain(corpus, tmp_path_factory.mktemp("full"), "zero2_fp32", *ARGS))


def test_kill_and_resume_matches_uninterrupted(corpus, tmp_path, uninterrupted) -> None:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    cmd = pretrain_cmd(corpus, tmp_path, "zero2_fp32", *ARGS)
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not (tmp_path / "checkpoint-4" / "complete.json").exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = max(losses(read_log(tmp_path)))
    assert killed_at < 8
    # A checkpoint folder without complete.json (a save cut short) must never be resumed from.
    (tmp_path / "checkpoint-7").mkdir(exist_ok=True)
    resumed = losses(run_pretrain(corpus, tmp_path, "zero2_fp32", *ARGS))
    log_text = (tmp_path / "log.jsonl").read_text()
    assert sorted(resumed) == list(range(1, 9))
    for step in range(1, 9):
        assert resumed[step] == pytest.approx(uninterrupted[step], abs=1e-6), step
    assert not (tmp_path / "checkpoint-7").exists()  # the stale folder was cleaned up
    assert '"step": 8' in log_text
