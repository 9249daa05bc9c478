"""Downstream splits (annotations joined with their clips) and the items loaders read.

A row whose video is not there is left out of the split, and so of training and evaluation alike;
the split records how many videos (and rows) that was, and past downstream.max_missing_videos
reading it fails.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
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
from avtpretrain.reader.audio_annotations import read_audiocaps, read_clotho
from avtpretrain.reader.mapped import Items
from avtpretrain.reader.samples import Collator, DecodeError, SampleDecoder
from avtpretrain.reader.videos import Missing, SoundIndex, VideoIndex

Index = VideoIndex | SoundIndex


def clip_index(cfg: DownstreamConfig) -> Index:
    """Where a recipe's clips are: videos for the video tasks, sounds for audio_retrieval."""
    if cfg.task == "audio_retrieval":
        if cfg.audio_root:
            return SoundIndex.from_folder(cfg.audio_root)
        return SoundIndex.from_shards(cfg.video_shards)  # the config refuses video_root here
    if cfg.video_root:
        return VideoIndex.from_folder(cfg.video_root)
    return VideoIndex.from_shards(cfg.video_shards)


def read_caption_rows(cfg: DownstreamConfig, path: str) -> list[Caption]:
    """An annotation file in the recipe's format as (caption, clip key) rows."""
    if cfg.annotation_format == "audiocaps":
        return read_audiocaps(path, cfg.audiocaps_key)
    if cfg.annotation_format == "clotho":
        return read_clotho(path)
    return read_captions(path)


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


def _present(path: str, keys: list[str], index: Index, limit: int) -> tuple[list[bool], Missing]:
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
    path: str,
    index: Index,
    limit: int = 0,
    first: int | None = None,
    captions: list[Caption] | None = None,
) -> RetrievalSplit:
    """Captions of `path` (or its rows already read, `captions`) over the clips that exist; up
    to `limit` missing clips are skipped; only the `first` captions (run.max_train_samples /
    max_eval_samples) when given."""
    captions = read_captions(path) if captions is None else captions
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
class _Clips:
    """Loads clip i of `videos`: its video, its sound, or both (a class, not a closure: loader
    workers may be spawned)."""

    videos: list[str]
    index: Index
    decoder: SampleDecoder
    with_video: bool = True
    with_audio: bool = False

    def read(self, key: str, rng: random.Random) -> dict[str, Any]:
        out: dict[str, Any] = {"key": key}
        data = None
        if self.with_video:
            data = self.index.read(key)
            out |= {"video": self.decoder.video(data, rng), "video_present": True}
        if self.with_audio:
            out |= self.decoder.sound(self._sound(key, data), rng)
        return out

    def _sound(self, key: str, data: bytes | None) -> tuple[torch.Tensor, int] | None:
        try:
            if data is None:  # sounds alone
                return self.index.audio(key)
            return self.index.audio(key, data)  # a folder video's own track: read once
        except (RuntimeError, ValueError, OSError) as err:  # decode turns FFmpegError into one
            raise DecodeError("audio decode failed", str(err)[:200]) from None

    def __call__(self, i: int, rng: random.Random) -> dict[str, Any]:
        return self.read(self.videos[i], rng)


@dataclass(frozen=True)
class _CaptionedClips(_Clips):
    captions: list[list[str]] = field(default_factory=list)

    def __call__(self, i: int, rng: random.Random) -> dict[str, Any]:
        return self.read(self.videos[i], rng) | {"caption": rng.choice(self.captions[i])}


@dataclass(frozen=True)
class _Questions(_Clips):
    questions: list[Question] = field(default_factory=list)
    ans2label: dict[str, int] = field(default_factory=dict)

    def __call__(self, i: int, rng: random.Random) -> dict[str, Any]:
        q = self.questions[i]
        label = self.ans2label.get(q.answer, -100)
        return self.read(q.video, rng) | {"caption": q.question, "label": label}


@dataclass(frozen=True)
class Reads:
    """What an item carries besides its text: video, sound, or both."""

    video: bool = True
    audio: bool = False

    @classmethod
    def of(cls, cfg: DownstreamConfig) -> Reads:
        if cfg.task == "audio_retrieval":
            return cls(video=False, audio=True)
        return cls(video=True, audio=cfg.use_audio)


VIDEO_ONLY = Reads()


def video_items(
    videos: list[str], index: Index, decoder: SampleDecoder, seed: int, reads: Reads = VIDEO_ONLY
) -> Items:
    """Each distinct clip once (evaluation): its video clip(s) and/or sound, and nothing else."""
    load = _Clips(videos, index, decoder, reads.video, reads.audio)
    return Items(len(videos), load, seed, replace_failed=False)


def retrieval_train_items(
    split: RetrievalSplit,
    index: Index,
    decoder: SampleDecoder,
    seed: int,
    reads: Reads = VIDEO_ONLY,
) -> Items:
    """One item per video with one of its captions drawn per epoch: no video twice in a batch,
    so in-batch negatives are never the positive's own video."""
    captions: list[list[str]] = [[] for _ in split.videos]
    for caption, v in zip(split.captions, split.text_to_video, strict=True):
        captions[v].append(caption.text)
    load = _CaptionedClips(split.videos, index, decoder, reads.video, reads.audio, captions)
    return Items(len(split.videos), load, seed, replace_failed=True)


def qa_train_items(
    split: QASplit,
    index: VideoIndex,
    decoder: SampleDecoder,
    ans2label: dict[str, int],
    seed: int,
    reads: Reads = VIDEO_ONLY,
) -> Items:
    """One item per question; an answer outside the vocabulary gets label -100 (no loss)."""
    load = _Questions(
        split.videos, index, decoder, reads.video, reads.audio, split.questions, ans2label
    )
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
    """Evaluation items (no text) → {"keys", and "video"/"audio" with their presence flags}."""
    batch: dict[str, Any] = {"keys": [s["key"] for s in samples]}
    for tower in ("video", "audio"):
        if tower in samples[0]:
            batch[tower] = torch.stack([s[tower] for s in samples])
            batch[f"{tower}_present"] = torch.tensor([s[f"{tower}_present"] for s in samples])
    return batch
