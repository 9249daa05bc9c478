import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import AutoModel

from avtpretrain.config import load_recipe
from avtpretrain.config.model import MODALITIES
from avtpretrain.models.model import AVTModel
from tests.run.conftest import REPO, STEPS, losses, pretrain_cmd, read_log, run_pretrain


def test_zero_stages_give_the_same_fp32_loss_trajectory(fp32_runs) -> None:
    reference = losses(fp32_runs[0][0])
    assert sorted(reference) == [1, 2, 3, 4]
    assert reference[4] < reference[1]
    for stage in (1, 2, 3):
        other = losses(fp32_runs[stage][0])
        assert other.keys() == reference.keys()
        for step, loss in reference.items():
            assert other[step] == pytest.approx(loss, abs=1e-5), (stage, step)


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_exported_checkpoint_loads_strictly(fp32_runs, stage, tmp_path) -> None:
    out = fp32_runs[stage][1]
    code = subprocess.run(
        [sys.executable, "tools/export_checkpoint.py", str(out), "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert code.returncode == 0, code.stderr[-2000:]
    cfg = load_recipe(out / "config.yaml")
    weights = load_file(str(tmp_path / "model.safetensors"))
    model = AVTModel(cfg.model, weights["text.hf.embeddings.word_embeddings.weight"].shape[0])
    model.load_state_dict(weights, strict=True)
    for tower in MODALITIES:
        _, info = AutoModel.from_pretrained(tmp_path / tower, output_loading_info=True)
        assert not any(info.values()), (tower, info)


@pytest.mark.distributed
@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_two_process_runs(corpus, tmp_path, stage) -> None:
    log = run_pretrain(
        corpus, tmp_path, f"zero{stage}", "--max_steps", "3", "--save_steps", "3", nproc=2
    )
    assert sorted(losses(log)) == [1, 2, 3]
    assert (tmp_path / "checkpoint-3" / "complete.json").is_file()
    assert any("val/text2video_r1" in r for r in log)


def scalar_tags(out) -> set[str]:
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    return set(events.Tags()["scalars"]), [e.step for e in events.Scalars("train/loss")]


def test_tensorboard_has_the_scalars(corpus, tmp_path) -> None:
    run_pretrain(corpus, tmp_path, "zero2", "--max_steps", "3", "--save_steps", "100")
    tags, steps = scalar_tags(tmp_path)
    expected = {
        "train/loss",
        "train/loss/contrastive",
        "train/loss/matching",
        "train/loss/mlm",
        "train/loss/mvm",
        "train/loss/mam",
        "train/lr",
        "train/grad_norm",
        "train/temperature",
        "perf/samples_per_s",
        "perf/tokens_per_s",
        "perf/data_wait_fraction",
        "perf/model_tflops_per_device",
        "perf/peak_memory_gb",
        "data/samples_read",
        "data/shards_opened",
        "val/text2video_r1",
        "val/text2video_r5",
        "val/text2video_r10",
        "val/text2audio_r1",
        "val/audio2text_r1",
        "val/audio2video_r1",
        "val/video2audio_r1",
    }
    assert expected <= tags, expected - tags
    assert steps == [1, 2, 3]


@pytest.mark.gpu  # DeepSpeed refuses fp16 on the CPU
def test_fp16_logs_loss_scale_and_skipped_steps(corpus, tmp_path) -> None:
    run_pretrain(corpus, tmp_path, "zero2_fp16", "--max_steps", "3", "--save_steps", "100")
    tags, _ = scalar_tags(tmp_path)
    assert {"train/loss_scale", "train/skipped_steps"} <= tags


def test_same_seed_same_numbers_with_deterministic_kernels(corpus, tmp_path) -> None:
    """Every logged number of two runs agrees bit for bit, with the machine's own thread count
    (the other tests pin one thread, which hides summation-order differences)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"} | {
        "DS_ACCELERATOR": "cpu"
    }
    logs = []
    for name in ("a", "b"):
        cmd = pretrain_cmd(
            corpus, tmp_path / name, "zero2_fp32", *STEPS, "--set", "run.deterministic=true"
        )
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        numbers = [
            {k: v for k, v in r.items() if k.startswith(("train/", "val/"))}
            for r in read_log(tmp_path / name)
        ]
        logs.append([n for n in numbers if n])
    assert logs[0] and logs[0] == logs[1]
