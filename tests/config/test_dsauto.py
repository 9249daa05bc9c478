"""Trainer-style flags override the DeepSpeed JSON for one run; "auto" values are filled the way
the Hugging Face Trainer fills them; anything else left "auto" is refused naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avtpretrain.engine.dsauto import resolve, resolved_path
from avtpretrain.engine.dsconfig import DSConfigError, read_ds_config

REPO = Path(__file__).resolve().parents[2]


def _json(name: str) -> dict:
    return json.loads((REPO / "ds_configs" / name).read_text())


def test_auto_values_take_the_trainers_defaults(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    raw = _json("auto.json") | {"train_batch_size": "auto"}
    out = resolve(raw, {}, hidden_size=64)
    assert out["train_micro_batch_size_per_gpu"] == 8
    assert out["gradient_accumulation_steps"] == 1 and out["gradient_clipping"] == 1.0
    assert out["fp16"]["enabled"] is False and out["bf16"]["enabled"] is False
    assert out["train_batch_size"] == 8 * 1 * 4
    assert raw["fp16"]["enabled"] == "auto"  # the file's own dict is left alone


def test_flags_fill_auto_and_override_the_file_for_this_run() -> None:
    flags = {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3, "fp16": True}
    out = resolve(_json("auto.json"), flags, hidden_size=64)
    assert (out["train_micro_batch_size_per_gpu"], out["gradient_accumulation_steps"]) == (2, 3)
    assert out["fp16"]["enabled"] is True and out["bf16"]["enabled"] is False
    # A bf16 file asked for fp16: one half precision at a time.
    out = resolve(_json("zero2.json"), {"fp16": True, "max_grad_norm": 0.5}, hidden_size=64)
    assert out["fp16"]["enabled"] is True and out["bf16"]["enabled"] is False
    assert out["gradient_clipping"] == 0.5


def test_zero_bucket_sizes_follow_the_hidden_size() -> None:
    raw = _json("zero3.json")
    buckets = ("reduce_bucket_size", "stage3_prefetch_bucket_size")
    raw["zero_optimization"] |= dict.fromkeys(buckets, "auto")
    zero = resolve(raw, {}, hidden_size=768)["zero_optimization"]
    assert zero["reduce_bucket_size"] == 768 * 768
    assert zero["stage3_prefetch_bucket_size"] == int(0.9 * 768 * 768)


def test_an_auto_nobody_fills_is_refused_naming_it(tmp_path) -> None:
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(_json("zero2.json") | {"optimizer": {"params": {"lr": "auto"}}}))
    with pytest.raises(DSConfigError, match=r'ds.json: optimizer.params.lr: "auto" is filled only'):
        resolved_path(str(path), {}, 64)


def test_the_resolved_copy_passes_deepspeeds_own_checks_and_the_file_stays() -> None:
    original = REPO / "ds_configs" / "auto.json"
    before = original.read_text()
    path = resolved_path(str(original), {"bf16": True}, 64)
    assert Path(path) != original and original.read_text() == before
    settings = read_ds_config(path)
    assert settings.micro_batch == 8 and str(settings.dtype) == "torch.bfloat16"
    # Nothing to change: the file itself is used.
    assert resolved_path(str(REPO / "ds_configs" / "zero2.json"), {}, 64).endswith("zero2.json")
