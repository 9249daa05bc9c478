"""kill -9 at any moment, then a rerun: the dataset equals an uninterrupted run's, byte for byte."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avtpretrain.writer.make_shards import main
from tests.factory import seed_args, seed_dataset

REPO = Path(__file__).resolve().parents[2]


def dataset_files(out: Path) -> dict[str, bytes]:
    names = [p for p in out.iterdir() if p.is_file() and p.name != "stats.json"]
    return {p.name: p.read_bytes() for p in sorted(names)}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = seed_dataset(tmp_path_factory.mktemp("resume"), 12).parent
    reference = root / "reference"
    assert main(seed_args(root, reference, "--samples_per_shard", "2")) == 0
    return root, dataset_files(reference)


def wait_until_mid_shard(proc: subprocess.Popen, out: Path, done_groups: int) -> None:
    """Return once `done_groups` groups are marked done and the next shard is half written."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        progress = out / ".progress"
        markers = list(progress.glob("train-*.json")) if progress.is_dir() else []
        if len(markers) >= done_groups and any(out.glob(".train-*.tmp")):
            return
        time.sleep(0.002)
    raise AssertionError("the run finished before it could be interrupted")


@pytest.mark.parametrize(
    ("workers", "done_groups", "kill_group"),
    [("1", 0, True), ("1", 2, True), ("2", 1, True), ("2", 1, False)],
    ids=["1w-first-shard", "1w-third-shard", "2w-all", "2w-parent-only"],
)
def test_kill_then_rerun_equals_uninterrupted(
    source: tuple[Path, dict[str, bytes]],
    tmp_path: Path,
    workers: str,
    done_groups: int,
    kill_group: bool,
) -> None:
    root, reference = source
    out = tmp_path / "out"
    args = seed_args(root, out, "--samples_per_shard", "2", "--workers", workers)
    proc = subprocess.Popen(
        [sys.executable, "tools/make_shards.py", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_until_mid_shard(proc, out, done_groups)
    # Killing only the parent leaves pool workers orphaned: they must die with it, not race the
    # rerun on the same shard.
    if kill_group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()
    proc.wait()
    assert not (out / "sizes.json").exists()
    assert main(args) == 0
    assert dataset_files(out) == reference
    assert not list(out.glob(".*.tmp"))
