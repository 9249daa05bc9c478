"""run.compile: the transformer blocks compiled, the same losses as uncompiled; not with ZeRO-3."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.run.conftest import REPO, STEPS, losses, pretrain_cmd, read_log


def test_compiled_blocks_train_to_the_same_losses(corpus, fp32_runs, tmp_path) -> None:
    # aot_eager: dynamo's graphs and autograd tracing without inductor's C++ build (slow on CPU).
    flags = ["--set", "run.compile=true", "--set", "run.compile_backend=aot_eager"]
    cmd = pretrain_cmd(corpus, tmp_path, "zero2_fp32", *STEPS, *flags)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 2 text + 2 audio + 2 video + 2 fusion layers, and one layer in each MAE decoder.
    assert "compiled 10 transformer blocks (aot_eager)" in proc.stdout + proc.stderr
    reference = losses(fp32_runs[2][0])
    compiled = losses(read_log(tmp_path))
    assert compiled.keys() == reference.keys()
    for step, loss in compiled.items():
        assert loss == pytest.approx(reference[step], abs=1e-5), step


def test_compile_with_zero3_is_refused_before_the_run_starts(corpus, tmp_path) -> None:
    cmd = pretrain_cmd(corpus, tmp_path, "zero3_fp32", *STEPS, "--set", "run.compile=true")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "run.compile: not with ZeRO-3" in proc.stderr
    assert not (tmp_path / "config.yaml").exists()
