"""Clip aggregation and the baselines printed beside downstream results (hand-computed)."""

import math

import pytest
import torch

from avtpretrain.eval.clips import aggregate_clips
from avtpretrain.eval.report import qa_baselines, retrieval_chance


def test_clip_aggregations() -> None:
    x = torch.tensor([[0.2, 0.6], [0.5, -0.1]])  # two videos x two clips
    assert torch.allclose(aggregate_clips(x, 1, "mean"), torch.tensor([0.4, 0.2]))
    assert torch.allclose(aggregate_clips(x, 1, "max"), torch.tensor([0.6, 0.5]))
    soft = (math.log(math.exp(2 * 0.2) + math.exp(2 * 0.6)) - math.log(2)) / 2
    assert aggregate_clips(x, 1, "logsumexp", scale=2.0)[0].item() == pytest.approx(soft)


@pytest.mark.parametrize("how", ["mean", "max", "logsumexp"])
def test_one_clip_or_equal_clips_change_nothing(how: str) -> None:
    one = torch.tensor([[0.3], [-0.7]])
    assert torch.allclose(aggregate_clips(one, 1, how, scale=20.0), one[:, 0])
    same = one.expand(2, 4)
    assert torch.allclose(aggregate_clips(same, 1, how, scale=20.0), one[:, 0], atol=1e-6)


def test_unknown_aggregation_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected one of mean, max, logsumexp"):
        aggregate_clips(torch.zeros(2, 2), 1, "median")


def test_retrieval_chance() -> None:
    chance = retrieval_chance(n_videos=36, n_texts=3)
    assert chance["text2video"]["r1"] == pytest.approx(100 / 36)
    assert chance["text2video"]["r10"] == pytest.approx(1000 / 36)
    assert chance["text2video"]["medianR"] == 18.5
    assert chance["video2text"]["r5"] == 100.0  # 3 candidates: always within the top 5


def test_qa_baselines() -> None:
    train = [
        ("what color?", "red"),
        ("what color?", "red"),
        ("what shape?", "cube"),
        ("what shape?", "ball"),
        ("what shape?", "ball"),
        ("how?", "fast"),
    ]
    questions = ["what color?", "what shape?", "what shape?", "how?", "never seen?"]
    gt = ["red", "ball", "cube", "slow", "ball"]
    types = ["what", "what", "what", "how", "what"]
    out = qa_baselines(train, gt, questions, types)
    majority = out["majority_answer"]  # "red" and "ball" tie at 2; the first seen wins
    assert majority["answer"] == "red"
    assert majority["overall_acc"] == 20.0 and majority["what_acc"] == 25.0
    prior = out["question_prior"]  # red, ball, ball, fast, red (fallback to the majority)
    assert prior["overall_acc"] == 40.0 and prior["how_acc"] == 0.0
