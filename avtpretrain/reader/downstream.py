"""Downstream splits (annotations joined with their videos) and the items loaders read.

A row whose video is not there is left out of the split, and so of training and evaluation alike;
the split records how many videos (and rows) that was, and past downstream.max_missing_videos
reading it fails.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from avtpretrain.config import DownstreamConfig
from avtpretrain.reader.annotations import (
    AnnotationError,
    Caption,
    Question,
    group_by_video,
    read_captions,
    read_questions,
)
from avtpretrain.reader.mapped import Items
from avtpretrain.reader.samples import Collator, SampleDecoder
from avtpretrain.reader.videos import Missing, VideoIndex


def video_index(cfg: DownstreamConfig) -> VideoIndex:
    if cfg.video_root:
        return VideoIndex.from_folder(cfg.video_root)
    return VideoIndex.from_shards(cfg.video_shards)


@dataclass(frozen=True)
class RetrievalSplit:
    captions: list[Caption]  # rows whose video exists, file order
    videos: list[str]  # distinct video keys, first-seen order
    text_to_video: list[int]  # caption i → its video's position in `videos`
    missing: Missing  # videos left out with their rows


@dataclass(frozen=True)
class QASplit:
    questions: list[Question]  # rows whose video exists, file order
    videos: list[str]
    question_video: list[int]
    missing: Missing


def _present(
    path: str, keys: list[str], index: VideoIndex, limit: int
) -> tuple[list[bool], Missing]:
    """Which rows' videos exist. Rows are dropped here, before anything is split across ranks,
    so 1 rank and N ranks train on the same items and rank the same queries."""
    missing = index.require(keys, path, limit)
    present = [k in index for k in keys]
    if not any(present):
        raise AnnotationError(
            f"{path}: none of its {missing.count} video id(s) are in {index.source} "
            f"(first: {missing.shown()}): no annotation rows left"
        )
    return present, missing


def retrieval_split(
    path: str, index: VideoIndex, limit: int = 0, first: int | None = None
) -> RetrievalSplit:
    """Captions of `path` over the videos that exist; up to `limit` missing videos are skipped;
    only the `first` captions (run.max_train_samples / max_eval_samples) when given."""
    captions = read_captions(path)
    present, missing = _present(path, [c.video for c in captions], index, limit)
    captions = [c for c, ok in zip(captions, present, strict=True) if ok][:first]
    videos, t2v = group_by_video([c.video for c in captions])
    return RetrievalSplit(captions, videos, t2v, missing)


def qa_split(path: str, index: VideoIndex, limit: int = 0, first: int | None = None) -> QASplit:
    """Questions of `path` over the videos that exist; up to `limit` missing videos are skipped;
    only the `first` questions (run.max_train_samples / max_eval_samples) when given."""
    questions = read_questions(path)
    present, missing = _present(path, [q.video for q in questions], index, limit)
    questions = [q for q, ok in zip(questions, present, strict=True) if ok][:first]
    videos, q2v = group_by_video([q.video for q in questions])
    return QASplit(questions, videos, q2v, missing)


@dataclass(frozen=True)
class _Videos:
    """Loads video i of `videos` (a class, not a closure: loader workers may be spawned)."""

    videos: list[str]
    index: VideoIndex
    decoder: SampleDecoder

    def read(self, key: str, rng: random.Random) -> dict[str, Any]:
        return {
            "key": key,
            "video": self.decoder.video(self.index.read(key), rng),
            "video_present": True,
        }

    def __call__(self, i: int, rng: random.Random) -> dict[str, Any]:
        return self.read(self.videos[i], rng)


@dataclass(frozen=True)
class _CaptionedVideos(_Videos):
    captions: list[list[str]]

    def __call__(self, i: int, rng: random.Random) -> dict[str, Any]:
        return self.read(self.videos[i], rng) | {"caption": rng.choice(self.captions[i])}


@dataclass(frozen=True)
class _Questions(_Videos):
    questions: list[Question]
    ans2label: dict[str, int]

    def __call__(self, i: int, rng: random.Random) -> dict[str, Any]:
        q = self.questions[i]
        label = self.ans2label.get(q.answer, -100)
        return self.read(q.video, rng) | {"caption": q.question, "label": label}


def video_items(videos: list[str], index: VideoIndex, decoder: SampleDecoder, seed: int) -> Items:
    """Each distinct video once (evaluation): its clip(s) and nothing else."""
    return Items(len(videos), _Videos(videos, index, decoder), seed, replace_failed=False)


def retrieval_train_items(
    split: RetrievalSplit, index: VideoIndex, decoder: SampleDecoder, seed: int
) -> Items:
    """One item per video with one of its captions drawn per epoch: no video twice in a batch,
    so in-batch negatives are never the positive's own video."""
    captions: list[list[str]] = [[] for _ in split.videos]
    for caption, v in zip(split.captions, split.text_to_video, strict=True):
        captions[v].append(caption.text)
    load = _CaptionedVideos(split.videos, index, decoder, captions)
    return Items(len(split.videos), load, seed, replace_failed=True)


def qa_train_items(
    split: QASplit, index: VideoIndex, decoder: SampleDecoder, ans2label: dict[str, int], seed: int
) -> Items:
    """One item per question; an answer outside the vocabulary gets label -100 (no loss)."""
    load = _Questions(split.videos, index, decoder, split.questions, ans2label)
    return Items(len(split.questions), load, seed, replace_failed=True)


class TrainCollator:
    """Tokenised text + stacked videos (+ answer labels for QA)."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.base = Collator(tokenizer, max_length, None)

    def __call__(self, samples: list[dict]) -> dict:
        batch = self.base(samples, torch.Generator())
        if "label" in samples[0]:
            batch["labels"] = torch.tensor([s["label"] for s in samples], dtype=torch.long)
        return batch


def collate_videos(samples: list[dict]) -> dict:
    return {
        "keys": [s["key"] for s in samples],
        "video": torch.stack([s["video"] for s in samples]),
        "video_present": torch.tensor([s["video_present"] for s in samples]),
    }
