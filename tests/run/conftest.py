"""A small demo corpus (shards + tokenizer) and a helper that runs launch/pretrain.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avtpretrain.engine.distributed import free_port
from tests.conftest import cpu_pinned

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from avtpretrain.demo.generate import main as make_demo
    from avtpretrain.reader.tokenizer import shard_captions, train_wordpiece
    from avtpretrain.writer.make_shards import main as make_shards

    root = tmp_path_factory.mktemp("corpus")
    assert (
        make_demo(
            [
                "--out",
                str(root / "raw"),
                "--num_clips",
                "40",
                "--seconds",
                "1",
                "--val_fraction",
                "0.2",
                "--test_fraction",
                "0.1",
            ]
        )
        == 0
    )
    shards = {}
    for split, manifest in (("train", "train.csv"), ("val", "validation.csv")):
        shards[split] = root / "shards" / split
        args = [
            "--manifest",
            str(root / "raw" / manifest),
            "--output_dir",
            str(shards[split]),
            "--video_root",
            str(root / "raw/videos"),
            "--audio_root",
            str(root / "raw/audio"),
            "--text_root",
            str(root / "raw/text"),
            "--samples_per_shard",
            "4",
            "--workers",
            "1",
        ]
        assert make_shards(args) == 0
    tokenizer = train_wordpiece(shard_captions([str(shards["train"])]), 300, root / "tokenizer")
    return {
        "train": shards["train"],
        "val": shards["val"],
        "tokenizer": tokenizer,
        "raw": root / "raw",
    }


def pretrain_cmd(corpus: dict, out: Path, ds: str, *extra: str, nproc: int = 1) -> list[str]:
    args = [
        "launch/pretrain.py",
        "--config",
        "pretrain/demo.yaml",
        "--deepspeed",
        f"ds_configs/{ds}.json",
        "--output_dir",
        str(out),
        "--logging_steps",
        "1",
        "--seed",
        "3",
        "--set",
        f"data.train_shards=[{corpus['train']}]",
        "--set",
        f"data.val_shards=[{corpus['val']}]",
        "--set",
        f"data.tokenizer={corpus['tokenizer']}",
        "--set",
        "data.num_workers=1",
        "--set",
        "data.shuffle_buffer=8",
        *extra,
    ]
    if nproc == 1:
        return [sys.executable, *args]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        f"--master_port={free_port()}",
        *args,
    ]


def run_pretrain(corpus: dict, out: Path, ds: str, *extra: str, nproc: int = 1) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if cpu_pinned():
        env["DS_ACCELERATOR"] = "cpu"
    proc = subprocess.run(
        pretrain_cmd(corpus, out, ds, *extra, nproc=nproc),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_log(out)


def read_log(out: Path) -> list[dict]:
    lines = (out / "log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def losses(log: list[dict]) -> dict[int, float]:
    """train/loss per step (a resumed run's later entries win)."""
    return {r["step"]: r["train/loss"] for r in log if "train/loss" in r}


STEPS = ["--max_steps", "4", "--save_steps", "100"]


@pytest.fixture(scope="session")
def fp32_runs(corpus, tmp_path_factory) -> dict[int, tuple[list[dict], Path]]:
    """Four-step fp32 pretraining runs under ZeRO-0..3 (their logs and output folders)."""
    runs = {}
    for stage in (0, 1, 2, 3):
        out = tmp_path_factory.mktemp(f"z{stage}")
        runs[stage] = (run_pretrain(corpus, out, f"zero{stage}_fp32", *STEPS), out)
    return runs
