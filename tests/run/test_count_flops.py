"""tools/count_flops.py: model FLOPs per sample per part and objective, and what the cuts save."""

from __future__ import annotations

from pathlib import Path

import pytest

from avtpretrain.config import load_recipe
from avtpretrain.run.flops import count, main

DEMO = str(Path(__file__).resolve().parents[2] / "pretrain" / "demo.yaml")
TWO_TUBES = ["model.video.tubelet_size=2"]  # so that pooling over time has something to pool


@pytest.fixture(scope="module")
def pooled() -> dict:
    return count(load_recipe(DEMO, TWO_TUBES), 12)


def test_each_objective_counts_only_the_parts_it_runs(pooled) -> None:
    flops = pooled["flops"]
    assert flops["contrastive"]["fusion"] == 0 < flops["matching"]["fusion"]
    assert flops["matching"]["mlm_head"] == 0 < flops["mlm"]["mlm_head"]
    assert flops["mvm"]["mae_decoders"] > 0 == flops["contrastive"]["mae_decoders"]
    # MLM runs the text tower twice (plain and masked captions); the others once.
    assert flops["mlm"]["text"] == 2 * flops["contrastive"]["text"] > 0
    every = flops["all"]
    assert every["total"] == sum(v for k, v in every.items() if k != "total")


def test_time_pooled_video_tokens_cut_the_fusion(pooled) -> None:
    every = count(load_recipe(DEMO, [*TWO_TUBES, "model.fusion.video_tokens=all"]), 12)
    # 32 video tokens become 16 beside 16 text tokens (and 48 audio tokens in the MLM pass).
    assert pooled["flops"]["all"]["fusion"] < 0.8 * every["flops"]["all"]["fusion"]
    assert pooled["flops"]["all"]["video"] == every["flops"]["all"]["video"]


def test_text_padded_per_batch_costs_less_than_padded_to_max_length(pooled) -> None:
    padded = count(load_recipe(DEMO, TWO_TUBES), 12, pad_to_max=True)
    assert (pooled["text_width"], padded["text_width"]) == (16, 32)
    assert pooled["flops"]["all"]["text"] < 0.6 * padded["flops"]["all"]["text"]
    # The MLM head on every position costs more than on the masked ones.
    assert padded["mlm_head_all_positions"] > 2 * padded["flops"]["all"]["mlm_head"]


def test_the_tool_prints_a_table_and_writes_json(tmp_path, capsys) -> None:
    assert main(["--recipe", DEMO, "--json", str(tmp_path / "f.json")]) == 0
    out = capsys.readouterr().out
    assert "MFLOP/sample" in out and "fusion" in out and (tmp_path / "f.json").is_file()
