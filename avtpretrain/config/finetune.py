"""Finetuning recipes: the downstream task, its annotations, its videos and where weights start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from avtpretrain.config.loader import check
from avtpretrain.config.model import ModelConfig
from avtpretrain.config.recipe import DataConfig, OptimConfig, RunConfig


@dataclass(frozen=True, kw_only=True)
class DownstreamConfig:
    """Annotation files as users have them (ALPRO jsonl) over a video folder or shards."""

    task: Literal["retrieval", "qa"]
    train_ann: str | None = None  # ALPRO jsonl; null: evaluation only
    val_ann: str | None = None
    test_ann: str | None = None
    ans2label: str | None = None  # QA: train_ans2label.json, the answer vocabulary
    # Videos: a folder of `<id>.<ext>` files, or shard folders/patterns from make_shards.py.
    video_root: str | None = None
    video_shards: list[str] = field(default_factory=list)
    # A pretraining output (run dir, checkpoint-N, or exported model.safetensors) to start from.
    init_from: str | None = None
    # Retrieval: re-rank each query's top-k by the matching head (0: embedding similarity only).
    rerank_k: int = 0
    clip_aggregation: Literal["mean", "max", "logsumexp"] = "mean"
    contrastive_weight: float = 1.0
    matching_weight: float = 1.0  # trains the matching head that re-ranking uses
    # QA: the MLP head's hidden width is this multiple of the fusion width (ALPRO: 2).
    qa_hidden_mult: int = 2
    # Public datasets lose videos (DiDeMo ships one annotated video that no longer exists): rows
    # naming a missing video are skipped and counted, and a split fails only past this many
    # missing videos, because beyond a handful the paths or the ids are more likely wrong.
    max_missing_videos: int = 10

    def __post_init__(self) -> None:
        check(
            bool(self.video_root) != bool(self.video_shards),
            "video_root",
            "set exactly one of video_root (a video folder) and video_shards (make_shards output)",
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
