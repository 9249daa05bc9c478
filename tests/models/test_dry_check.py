"""The base recipe's towers have the published checkpoints' shapes: checked from their config.json
files alone (copied into tests/fixtures from the hub), no weights needed."""

from __future__ import annotations

from pathlib import Path

from avtpretrain.config import load_recipe
from avtpretrain.models.params import dry_check, main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "tests" / "fixtures" / "pretrained_configs"
HUB_IDS = {
    "text": "microsoft/deberta-v2-xlarge",
    "audio": "facebook/vit-mae-base",
    "video": "MCG-NJU/videomae-base",
    "fusion": "google/vit-base-patch16-224-in21k",
}


def _sets() -> list[str]:
    return [f"model.{part}.pretrained={CONFIGS / hub}" for part, hub in HUB_IDS.items()]


def test_the_base_recipe_matches_every_published_checkpoint() -> None:
    cfg = load_recipe(REPO / "pretrain/base_pretrained.yaml", _sets()).model
    rows = dry_check(cfg)
    assert {part for part, *_ in rows} == set(HUB_IDS)
    assert [row for row in rows if row[2] != row[3]] == []
    assert ("text", "vocab_size", 128100, 128100) in rows
    assert ("video", "tubelet_size", 2, 2) in rows


def test_a_recipe_of_other_shapes_is_reported_and_fails(capsys) -> None:
    sets = [*_sets(), "model.fusion.num_layers=6"]
    args = ["--recipe", str(REPO / "pretrain/base_pretrained.yaml"), "--dry_check"]
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 1
    out = capsys.readouterr().out
    assert "fusion  num_layers                     6          12  MISMATCH" in out
    assert out.strip().endswith("21/22 match")
