"""The zero-shot probes of every tower pair give the same numbers on 2 ranks as on 1: each rank
embeds its share of the validation batches and rank 0 ranks them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from avtpretrain.config import load_model_config
from avtpretrain.engine.loop import Where
from avtpretrain.eval.loops.zero_shot import zero_shot_retrieval
from avtpretrain.models.model import AVTModel
from avtpretrain.reader.synthetic import synthetic_batch
from tests.engine.spawned import run_ranks

REPO = Path(__file__).resolve().parents[2]
BATCHES = 4


class _Task(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)  # the same weights on every rank and in every world
        self.model = AVTModel(load_model_config("tiny", REPO / "pretrain" / "demo.yaml"), 120)


def _probe(info, out: str) -> None:
    cfg = load_model_config("tiny", REPO / "pretrain" / "demo.yaml")
    # Sample 1 of every batch has no audio: audio pairs rank only the others.
    present = torch.tensor([True, False, True])
    batches = [synthetic_batch(cfg, 3, seed=b, audio_present=present) for b in range(BATCHES)]
    for b, batch in enumerate(batches):
        batch["keys"] = [f"b{b}s{i}" for i in range(3)]
        # Each batch repeats the same three brightnesses: shifted per batch, the 12 clips differ.
        # Identical clips tie exactly, and a tie ranks by position, which the gather changes.
        batch["video"] = batch["video"] + 17 * b
    mine = batches[info.rank :: info.world_size]
    where = Where(torch.device("cpu"), torch.float32, info.world_size)
    metrics = zero_shot_retrieval(_Task(), mine, where, info)
    if info.is_main:
        Path(out).write_text(json.dumps(metrics, sort_keys=True))


@pytest.mark.distributed
def test_two_ranks_give_one_rank_numbers(tmp_path: Path) -> None:
    run_ranks(_probe, str(tmp_path / "one.json"), world=1)
    run_ranks(_probe, str(tmp_path / "two.json"), world=2)
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert one["val/samples"] == 12 and one["val/samples_with_audio"] == 8
    assert {"val/text2audio_r1", "val/audio2video_r1", "val/video2audio_meanR"} <= set(one)
    assert two == one
