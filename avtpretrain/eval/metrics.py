"""Retrieval and video-QA metrics, exactly as ALPRO reports them (docs/finetuning.md, Outputs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QA_TYPES = ("what", "who", "how", "where", "when")


def _ranks(scores: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """0-based rank of column gt[i] in row i sorted descending; ties go to the lower column."""
    rows = np.arange(len(gt))
    target = scores[rows, gt][:, None]
    cols = np.arange(scores.shape[1])[None, :]
    above = (scores > target).sum(axis=1)
    tied_before = ((scores == target) & (cols < gt[:, None])).sum(axis=1)
    return above + tied_before


def _summary(ranks: np.ndarray) -> dict[str, float]:
    return {
        "r1": 100.0 * float(np.mean(ranks < 1)),
        "r5": 100.0 * float(np.mean(ranks < 5)),
        "r10": 100.0 * float(np.mean(ranks < 10)),
        "medianR": float(np.median(ranks + 1)),
        "meanR": float(np.mean(ranks + 1)),
    }


def retrieval_ranks(
    scores, text_to_video: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text ranks, video ranks, the videos they belong to); a video ranks by its best caption."""
    scores = np.asarray(scores, dtype=np.float64)
    gt = np.asarray(text_to_video, dtype=np.int64)
    if scores.ndim != 2 or len(gt) != scores.shape[0]:
        raise ValueError(f"scores {scores.shape} and text_to_video ({len(gt)}) do not match")
    t2v = _ranks(scores, gt)
    videos = np.unique(gt)
    # Column j sorted descending over texts: the rank of each caption i of video j in it.
    caption_ranks = _ranks(scores.T[gt], np.arange(len(gt)))
    v2t = np.array([caption_ranks[gt == j].min() for j in videos])
    return t2v, v2t, videos


def retrieval_metrics(scores, text_to_video: Sequence[int]) -> dict[str, dict[str, float]]:
    """scores [n_text, n_video]; text_to_video[i] is the ground-truth column of text i.

    R@K in percent (unrounded), median and mean rank 1-based; video→text counts each video's
    best-ranked caption; videos no caption points to are not queries.
    """
    t2v, v2t, _ = retrieval_ranks(scores, text_to_video)
    return {"text2video": _summary(t2v), "video2text": _summary(v2t)}


def qa_metrics(
    pred_answers: Sequence[str], gt_answers: Sequence[str], answer_types: Sequence[str]
) -> dict:
    """ALPRO's video-QA report: accuracies in percent rounded to 2 decimals, per-type ratios.

    An answer outside the vocabulary is simply a wrong prediction; a type with no questions
    scores 0.
    """
    if not len(pred_answers) == len(gt_answers) == len(answer_types):
        raise ValueError("pred_answers, gt_answers and answer_types differ in length")
    n = len(gt_answers)
    correct = np.array([p == g for p, g in zip(pred_answers, gt_answers, strict=True)], dtype=bool)
    types = np.asarray(answer_types)
    out: dict = {"ratios": {}}
    out["overall_acc"] = round(100.0 * float(correct.mean()), 2) if n else 0.0
    for t in QA_TYPES:
        chosen = types == t
        count = int(chosen.sum())
        out["ratios"][f"{t}_ratio"] = [100.0 * count / n if n else 0.0, count]
        out[f"{t}_acc"] = round(100.0 * float(correct[chosen].mean()), 2) if count else 0.0
    return out
