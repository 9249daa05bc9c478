"""Finetuning recipes: checks on the downstream section; every shipped recipe validates."""

from pathlib import Path

import pytest

from avtpretrain.config import ConfigError, FinetuneConfig, load_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "finetune").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate(path: Path) -> None:
    cfg = load_recipe(path, kind=FinetuneConfig)
    sounds = path.stem.split("_")[0] in ("audiocaps", "clotho")
    task = "audio_retrieval" if sounds else "retrieval" if "_ret" in path.stem else "qa"
    assert cfg.downstream.task == task
    assert cfg.downstream.use_audio == path.stem.endswith("_audio")
    assert cfg.downstream.val_ann and cfg.downstream.train_ann


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("downstream.video_shards=[a]", "set exactly one of video_root"),
        ("downstream.ans2label=null", "QA needs the answer vocabulary"),
        ("downstream.rerank_k=-1", "rerank_k: must be >= 0"),
        ("downstream.clip_aggregation=median", "clip_aggregation"),
        ("downstream.task=captioning", "downstream.task"),
    ],
)
def test_bad_downstream_settings_fail_with_the_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_recipe(REPO / "finetune/demo_qa.yaml", [override], kind=FinetuneConfig)
