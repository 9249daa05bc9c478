"""The original recipe's quick test, flag for flag, through the launchers its users have; and the
Trainer conventions: no prefix matching, --local-rank, a default recipe and DeepSpeed JSON."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from avtpretrain.engine.distributed import free_port
from avtpretrain.run.cli import DEFAULT_DS, DEFAULT_PRETRAIN_RECIPE, parse_args
from tests.run.conftest import REPO, losses, read_log

# The original README's quick test (after the launcher and the script). The suite runs on the
# CPU, where DeepSpeed refuses fp16: bf16 stands in (--bf16 True, the same flag form).
ORIGINAL = (
    "--output_dir out --max_train_samples 4 --max_eval_samples 4 --num_train_epochs 2.0 "
    "--logging_steps 1 --per_device_train_batch_size 2 --per_device_eval_batch_size 2 "
    "--fp16 True --learning_rate 2e-5 --warmup_ratio 0.1 --lr_scheduler_type cosine "
    "--logging_strategy steps"
)
QUICK_TEST = shlex.split(ORIGINAL.replace("--fp16", "--bf16"))


def _tiny_recipe(corpus: dict, path: Path) -> Path:
    """The demo recipe pointed at the test corpus: the only adaptation besides the script."""
    recipe = yaml.safe_load((REPO / "pretrain" / "demo.yaml").read_text())
    recipe["data"] |= {
        "train_shards": [str(corpus["train"])],
        "val_shards": [str(corpus["val"])],
        "tokenizer": str(corpus["tokenizer"]),
        "shuffle_buffer": 8,
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.distributed
@pytest.mark.parametrize("launcher", ["torch.distributed.launch", "torch.distributed.run"])
def test_the_original_quick_test_runs_under_each_launcher(corpus, tmp_path, launcher) -> None:
    out = tmp_path / "out"  # --output_dir out, run from tmp_path
    cmd = [sys.executable, "-m", launcher, "--nproc_per_node", "2", f"--master_port={free_port()}"]
    cmd += [str(REPO / "launch" / "pretrain.py")]
    cmd += ["--config", str(_tiny_recipe(corpus, tmp_path / "tiny.yaml"))]
    cmd += [*QUICK_TEST]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 4 samples / (2 ranks x 2) = one step an epoch, two epochs; evaluation on 4 samples.
    log = read_log(out)
    assert sorted(losses(log)) == [1, 2]
    assert any(r.get("val/samples") == 4 for r in log)
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    expected = {
        "max_train_samples": 4,
        "max_eval_samples": 4,
        "num_train_epochs": 2.0,
        "logging_steps": 1,
        "eval_batch_size": 2,
        "logging_strategy": "steps",
    }
    assert {key: cfg["run"][key] for key in expected} == expected
    assert cfg["optim"]["learning_rate"] == 2e-5 and cfg["optim"]["warmup_ratio"] == 0.1
    assert cfg["optim"]["lr_scheduler_type"] == "cosine"
    ds = json.loads((out / "ds_config.json").read_text())
    assert ds["train_micro_batch_size_per_gpu"] == 2
    assert ds["bf16"]["enabled"] is True


def test_abbreviated_flags_are_refused(capsys) -> None:
    with pytest.raises(SystemExit) as code:
        parse_args(["--max_step", "5"], "pretrain.py")
    assert code.value.code == 2
    assert "unrecognized arguments: --max_step" in capsys.readouterr().err


def test_launcher_rank_flags_and_the_defaults() -> None:
    for flag in ("--local-rank=1", "--local_rank=1"):
        _, args = parse_args([flag], "pretrain.py")
        assert args.local_rank == 1
    assert args.config == DEFAULT_PRETRAIN_RECIPE and args.deepspeed == str(DEFAULT_DS)
    _, args = parse_args(["--fp16", "--bf16", "false"], "pretrain.py")
    assert (args.fp16, args.bf16) == (True, False)


def test_config_names_set_a_towers_shape_and_model_paths_its_folder(tmp_path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 4})
    )
    flags = ["--video_config_name", str(tmp_path), "--text_model_name_or_path", "weights/bert"]
    _, args = parse_args(flags, "pretrain.py")
    assert {"model.video.hidden_size=96", "model.video.num_layers=3"} <= set(args.overrides)
    assert "model.text.pretrained=weights/bert" in args.overrides
