"""Finetuning recipes: the downstream task, its annotations, its videos and where weights start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from avtpretrain.config.loader import check
from avtpretrain.config.model import ModelConfig
from avtpretrain.config.recipe import DataConfig, OptimConfig, RunConfig


@dataclass(frozen=True, kw_only=True)
class DownstreamConfig:
    """Annotation files as users have them (ALPRO jsonl, AudioCaps/Clotho CSV) over a folder of
    videos or sounds, or over shards."""

    # audio_retrieval: text↔audio (AudioCaps, Clotho) with the retrieval runner.
    task: Literal["retrieval", "qa", "audio_retrieval"]
    train_ann: str | None = None  # null: evaluation only
    val_ann: str | None = None
    test_ann: str | None = None
    # alpro: jsonl (video tasks); audiocaps / clotho: their CSV files (audio_retrieval).
    annotation_format: Literal["alpro", "audiocaps", "clotho"] = "alpro"
    # AudioCaps: the column its audio files are named after (download tools differ).
    audiocaps_key: Literal["youtube_id", "audiocap_id"] = "youtube_id"
    ans2label: str | None = None  # QA: train_ans2label.json, the answer vocabulary
    # Clips: a folder of `<id>.<ext>` videos, a folder of `<id>.<ext>` sounds (audio_retrieval),
    # or shard folders/patterns from make_shards.py (their mp4 and flac members).
    video_root: str | None = None
    audio_root: str | None = None
    video_shards: list[str] = field(default_factory=list)
    # Video tasks: also read each clip's sound (its shard's flac, or the video file's own audio
    # track) and use it: retrieval adds a text↔audio term and ranks by combined similarities,
    # QA fuses the audio tokens. Off reproduces ALPRO's text + video setting.
    use_audio: bool = False
    # Retrieval with audio: score = (text·video + w · text·audio) / (1 + w) for clips with sound
    # (text·video alone for clips without); w also weighs the text↔audio training term (with
    # contrastive_weight: 0 there is none). Re-ranking
    # (rerank_k) then fuses each candidate's text, video and sound in the matching head.
    audio_weight: float = 1.0
    # A pretraining output (run dir, checkpoint-N, or exported model.safetensors) to start from.
    init_from: str | None = None
    # Retrieval: re-rank each query's top-k by the matching head (0: embedding similarity only).
    rerank_k: int = 0
    clip_aggregation: Literal["mean", "max", "logsumexp"] = "mean"
    contrastive_weight: float = 1.0
    # Trains the matching head that re-ranking uses; unset: 1 for text↔video retrieval (with or
    # without sound), 0 for audio_retrieval (the head matches pairs that hold a video).
    matching_weight: float | None = None
    # QA: the MLP head's hidden width is this multiple of the fusion width (ALPRO: 2).
    qa_hidden_mult: int = 2
    # Public datasets lose videos (DiDeMo ships one annotated video that no longer exists): rows
    # naming a missing video are skipped and counted, and a split fails only past this many
    # missing videos, because beyond a handful the paths or the ids are more likely wrong.
    max_missing_videos: int = 10

    def __post_init__(self) -> None:
        if self.matching_weight is None:
            video = self.task == "retrieval"
            object.__setattr__(self, "matching_weight", 1.0 if video else 0.0)
        sources = [bool(self.video_root), bool(self.audio_root), bool(self.video_shards)]
        check(
            sum(sources) == 1,
            "video_root",
            "set exactly one of video_root (a video folder), audio_root (a sound folder, "
            "audio_retrieval) and video_shards (make_shards output)",
        )
        audio_task = self.task == "audio_retrieval"
        check(
            not self.audio_root or audio_task,
            "audio_root",
            "only audio_retrieval reads a sound folder; video tasks read video_root or "
            "video_shards",
        )
        check(
            not (self.video_root and audio_task),
            "video_root",
            "audio_retrieval reads audio_root (a folder of sounds) or video_shards (their flac "
            "members)",
        )
        check(
            (self.annotation_format == "alpro") != audio_task,
            "annotation_format",
            "audio_retrieval reads audiocaps or clotho CSV files; video tasks read alpro jsonl",
        )
        check(
            not (self.use_audio and audio_task),
            "use_audio",
            "audio_retrieval always reads audio; use_audio is for the video tasks",
        )
        check(self.audio_weight > 0, "audio_weight", f"must be > 0, got {self.audio_weight}")
        for name in ("rerank_k", "matching_weight"):
            check(
                not (audio_task and getattr(self, name)),
                name,
                "audio_retrieval ranks by embeddings alone: the matching head fuses pairs that "
                "hold a video (set rerank_k: 0 and matching_weight: 0)",
            )
        check(self.rerank_k >= 0, "rerank_k", f"must be >= 0, got {self.rerank_k}")
        check(self.contrastive_weight >= 0, "contrastive_weight", "must be >= 0")
        check(self.matching_weight >= 0, "matching_weight", "must be >= 0")
        check(self.qa_hidden_mult >= 1, "qa_hidden_mult", "must be >= 1")
        check(
            self.max_missing_videos >= 0,
            "max_missing_videos",
            f"must be >= 0 (0: every annotated video must exist), got {self.max_missing_videos}",
        )
        if self.task == "qa":
            check(bool(self.ans2label), "ans2label", "QA needs the answer vocabulary file")
        else:
            check(
                self.contrastive_weight + self.matching_weight > 0,
                "contrastive_weight",
                "retrieval needs contrastive_weight or matching_weight > 0",
            )


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """A finetuning recipe (finetune/*.yaml); `data` supplies tokenizer, loaders and sampling."""

    model: ModelConfig
    downstream: DownstreamConfig
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
