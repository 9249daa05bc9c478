"""Pretraining that starts every part from folders laid out as the original recipe's four hub
checkpoints: it trains, says what each part loaded, and exports towers and tokenizer that plain
transformers reloads without guessing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from transformers import AutoModel, AutoTokenizer

from avtpretrain.reader.tokenizer import load_tokenizer
from tests.pretrained_folders import (
    SENTENCES,
    deberta_folder,
    tiny_widths,
    videomae_folder,
    vit_folder,
    vit_mae_folder,
)
from tests.run.conftest import REPO, losses, read_log

STEPS = 12


def _model_yaml(path: Path, vocab: int) -> Path:
    shape = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}
    assert shape["hidden_size"] == tiny_widths()["hidden_size"]
    model = {
        "embed_dim": 32,
        "text": {
            **shape,
            "family": "deberta-v2",
            "max_length": 32,
            "options": {"vocab_size": vocab, "max_position_embeddings": 64},
        },
        "audio": {
            **shape,
            "family": "vit-mae-audio",
            "num_mel_bins": 64,
            "target_frames": 192,
            "patch_size": 16,
        },
        "video": {
            **shape,
            "family": "videomae",
            "num_frames": 4,
            "image_size": 64,
            "patch_size": 16,
            "tubelet_size": 4,
        },
        "fusion": shape,
    }
    path.write_text(yaml.safe_dump(model))
    return path


@pytest.fixture(scope="module")
def started(corpus, tmp_path_factory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("pretrained")
    text = deberta_folder(root / "microsoft/deberta-v2-xlarge")
    vocab = json.loads((text / "config.json").read_text())["vocab_size"]
    recipe = {
        "model": str(_model_yaml(root / "tiny_pretrained.yaml", vocab)),
        "pretrained": {
            "text": str(text),
            "audio": str(vit_mae_folder(root / "facebook/vit-mae-base")),
            "video": str(videomae_folder(root / "MCG-NJU/videomae-base", 4, 64, 4)),
            "fusion": str(vit_folder(root / "google/vit-base-patch16-224-in21k")),
        },
        "data": {
            "train_shards": [str(corpus["train"])],
            "val_shards": [str(corpus["val"])],
            "tokenizer": str(text),
            "num_workers": 1,
            "shuffle_buffer": 8,
        },
        "run": {
            "output_dir": str(root / "run"),
            "max_steps": STEPS,
            "save_steps": STEPS,
            "logging_steps": 1,
            "seed": 0,
        },
        "optim": {"learning_rate": 1.0e-3, "warmup_ratio": 0.0},
    }
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "launch/pretrain.py", "--config", str(root / "recipe.yaml")]
    cmd += ["--deepspeed", "ds_configs/zero2_fp32.json"]
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    export = root / "export"
    cmd = [sys.executable, "tools/export_checkpoint.py", str(root / "run"), "--out", str(export)]
    exported = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr[-3000:]
    return root, text, run.stdout + run.stderr


def test_it_says_what_each_part_started_from(started) -> None:
    root, _, output = started
    for part, hub in (("text", "microsoft"), ("audio", "facebook"), ("video", "MCG-NJU")):
        assert f"{part}: from {root / hub}" in output
    assert f"fusion: from {root / 'google'}" in output
    assert "converted embeddings.patch_embeddings.projection.weight" in output  # RGB → 1 channel


def test_the_loss_falls(started) -> None:
    curve = losses(read_log(started[0] / "run"))
    assert sorted(curve) == list(range(1, STEPS + 1))
    first, last = [curve[s] for s in (1, 2, 3)], [curve[s] for s in (STEPS - 2, STEPS - 1, STEPS)]
    assert sum(last) < sum(first), curve


@pytest.mark.parametrize("tower", ["text", "video"])
def test_exported_towers_reload_with_plain_transformers(started, tower) -> None:
    folder = started[0] / "export" / tower
    _, info = AutoModel.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"], info


def test_the_exported_tokenizer_reloads_and_tokenises_as_the_runs(started) -> None:
    root, text, _ = started
    theirs = AutoTokenizer.from_pretrained(root / "export" / "text")
    ours = load_tokenizer(str(text))
    for sentence in SENTENCES:
        assert theirs(sentence)["input_ids"] == ours(sentence)["input_ids"], sentence


def test_the_export_rebuilds_the_whole_model_here(started) -> None:
    import torch
    from safetensors.torch import load_file

    from avtpretrain.config import load_model_config
    from avtpretrain.models.model import AVTModel

    export = started[0] / "export"
    state = load_file(str(export / "model.safetensors"))
    vocab = state["text.hf.embeddings.word_embeddings.weight"].shape[0]
    model = AVTModel(load_model_config(str(export / "model.yaml")), vocab)
    model.load_state_dict(state, strict=True)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
