"""Run settings other than the architecture: data, optimisation, and run/checkpoint/logging.

Engine settings (micro-batch, gradient accumulation, precision, ZeRO stage, clipping) are not here:
they live only in the DeepSpeed JSON, so each number has one home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from avtpretrain.config.loader import check
from avtpretrain.config.model import MODALITIES, ModelConfig


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    # Each entry: a shard folder holding sizes.json, a brace pattern (`d/x-{000000..000009}.tar`),
    # or one .tar. Several entries mix datasets, weighted by train_weights (default: by size).
    train_shards: list[str] = field(default_factory=list)
    train_weights: list[float] = field(default_factory=list)
    val_shards: list[str] = field(default_factory=list)
    # Samples in one training epoch across all ranks; default: the shards' total from sizes.json.
    samples_per_epoch: int | None = None
    # A local tokenizer folder (tools/train_tokenizer.py makes one); never a hub id.
    tokenizer: str | None = None
    num_workers: int = 2
    shuffle_buffer: int = 1000
    # Samples read before the first one leaves the buffer (it grows to shuffle_buffer as training
    # goes): the first batch comes in seconds rather than after a whole buffer of raw samples.
    shuffle_initial: int = 500
    # ... and at most this many MB of raw samples per loader worker (checked against the
    # machine's memory at start; ranks on a node x workers x this must fit).
    shuffle_buffer_mb: int = 1024
    video_sampling: Literal["rand", "uniform", "headtail", "stride"] = "rand"
    frame_stride: int = 4  # for video_sampling: stride
    eval_clips: int = 1  # clips per video at evaluation, for test-time aggregation
    audio_input: Literal["fbank", "waveform"] = "fbank"
    waveform_seconds: float = 10.0  # length of the raw-waveform input
    # Dataset statistics of the log-mel fbank (AudioSet's by default); normalised as AST does.
    audio_mean: float = -4.27
    audio_std: float = 4.57
    spec_freq_mask: int = 0  # SpecAugment mask widths in bins / frames; 0 is off
    spec_time_mask: int = 0
    # Masked modelling: drawn uniformly and independently for every sample.
    mlm_probability: float = 0.3
    video_mask_ratio: float = 0.8
    audio_mask_ratio: float = 0.3
    # A training stream stops with an error after this many unreadable samples or shards in a
    # row: data that is all broken would otherwise be retried forever.
    max_consecutive_skips: int = 1000
    # Shards behind URLs: a shard that fails to open or breaks mid-read is tried again this many
    # times (waiting shard_retry_backoff_s, doubled each time), then skipped and counted.
    shard_retries: int = 3
    shard_retry_backoff_s: float = 1.0

    def __post_init__(self) -> None:
        check(self.num_workers >= 0, "num_workers", f"must be >= 0, got {self.num_workers}")
        check(self.shuffle_buffer >= 0, "shuffle_buffer", "must be >= 0")
        check(self.shuffle_initial >= 1, "shuffle_initial", "must be >= 1")
        check(self.shuffle_buffer_mb >= 1, "shuffle_buffer_mb", "must be >= 1")
        check(self.audio_std > 0, "audio_std", f"must be > 0, got {self.audio_std}")
        for name in ("frame_stride", "eval_clips"):
            check(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        check(
            self.waveform_seconds > 0,
            "waveform_seconds",
            f"must be > 0, got {self.waveform_seconds}",
        )
        for name in ("spec_freq_mask", "spec_time_mask"):
            check(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        check(
            not self.train_weights or len(self.train_weights) == len(self.train_shards),
            "train_weights",
            f"expected one weight per train_shards entry ({len(self.train_shards)})",
        )
        check(all(w > 0 for w in self.train_weights), "train_weights", "weights must be > 0")
        for name in ("mlm_probability", "video_mask_ratio", "audio_mask_ratio"):
            check(
                0.0 <= getattr(self, name) < 1.0,
                name,
                f"must be in [0, 1), got {getattr(self, name)}",
            )
        spe = self.samples_per_epoch
        check(spe is None or spe > 0, "samples_per_epoch", "must be null or > 0")
        check(self.max_consecutive_skips > 0, "max_consecutive_skips", "must be > 0")
        check(self.shard_retries >= 0, "shard_retries", "must be >= 0")
        check(self.shard_retry_backoff_s >= 0, "shard_retry_backoff_s", "must be >= 0")


LOSSES = ("contrastive", "matching", "mlm", "mvm", "mam")


@dataclass(frozen=True, kw_only=True)
class ObjectivesConfig:
    """Weight of each pretraining loss; 0 switches one off (and skips its computation)."""

    contrastive: float = 1.0  # text–video, text–audio, audio–video InfoNCE
    matching: float = 1.0  # video–text matching with hard negatives
    mlm: float = 1.0
    mvm: float = 1.0  # masked video modelling (MAE)
    mam: float = 1.0  # masked audio modelling (MAE)
    mae_decoder_dim: int = 128
    mae_decoder_layers: int = 1

    def __post_init__(self) -> None:
        for name in LOSSES:
            check(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        for name in ("mae_decoder_dim", "mae_decoder_layers"):
            check(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
        # "" names the section: no single weight is wrong, the combination is.
        check(
            bool(self.active()),
            "",
            f"every loss weight ({', '.join(LOSSES)}) is 0: nothing to train; set at least one > 0",
        )

    def active(self) -> dict[str, float]:
        return {n: getattr(self, n) for n in LOSSES if getattr(self, n) > 0}


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_ratio: float = 0.05
    warmup_steps: int = 0  # > 0 overrides warmup_ratio, as in transformers
    # transformers' scheduler names with their meanings ("constant" has no warmup there;
    # "constant_with_warmup" has). min_lr_ratio is cosine_with_min_lr's floor, as a fraction of
    # each group's learning rate.
    lr_scheduler_type: Literal[
        "linear",
        "cosine",
        "cosine_with_restarts",
        "polynomial",
        "constant",
        "constant_with_warmup",
        "inverse_sqrt",
        "cosine_with_min_lr",
    ] = "cosine"
    min_lr_ratio: float = 0.0
    # Per-tower multipliers of learning_rate, e.g. {text: 0.1} for a pretrained text tower.
    lr_scale: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
        check(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        # Adam's moving averages: beta = 1 never forgets (and its bias correction divides by 0).
        check(
            len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
            "betas",
            f"expected two numbers in [0, 1), got {list(self.betas)}",
        )
        check(self.eps > 0, "eps", f"must be > 0, got {self.eps}")
        check(
            0.0 <= self.warmup_ratio < 1.0,
            "warmup_ratio",
            f"must be in [0, 1), got {self.warmup_ratio}",
        )
        check(0.0 <= self.min_lr_ratio <= 1.0, "min_lr_ratio", "must be in [0, 1]")
        check(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        floors = ("cosine_with_min_lr", "warmup_stable_decay")
        check(
            self.min_lr_ratio == 0 or self.lr_scheduler_type in floors,
            "min_lr_ratio",
            f"only used by lr_scheduler_type {' or '.join(floors)}, not {self.lr_scheduler_type}",
        )
        towers = {*MODALITIES, "fusion"}
        unknown = sorted(set(self.lr_scale) - towers)
        check(
            not unknown, "lr_scale", f"unknown towers {unknown}; expected some of {sorted(towers)}"
        )
        # 0 is allowed: it freezes a tower (AdamW's decoupled decay is scaled by the lr too).
        negative = ", ".join(f"{t}: {v}" for t, v in self.lr_scale.items() if v < 0)
        check(not negative, "lr_scale", f"must be >= 0 for every tower, got {negative}")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    output_dir: str = "runs/default"
    overwrite_output_dir: bool = False
    resume_from_checkpoint: str | None = None
    seed: int = 42
    # "auto" takes CUDA when present; precision comes from the DeepSpeed JSON, not from here.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Deterministic kernels (torch.use_deterministic_algorithms): the same command and seed on the
    # same machine give the same numbers bit for bit; costs some speed on a GPU.
    deterministic: bool = False
    max_steps: int = -1
    num_train_epochs: float = 1.0
    max_train_samples: int | None = None
    logging_steps: int = 10
    # "steps": every logging_steps / save_steps; "epoch": at the end of every epoch; "no": never
    # (a "no" run saves no checkpoint, not even at the end, as in transformers).
    logging_strategy: Literal["steps", "epoch", "no"] = "steps"
    save_strategy: Literal["steps", "epoch", "no"] = "steps"
    save_steps: int = 500
    save_total_limit: int | None = 2
    eval_steps: int = 0
    eval_batch_size: int | None = None  # per rank; None: the training micro-batch
    max_eval_samples: int | None = None  # the first N of each evaluated split
    # Where scalars go: "tensorboard" (logging_dir, default <output_dir>/tensorboard) and/or
    # "wandb" (when installed); [] for neither (log.jsonl is always written).
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    logging_dir: str | None = None
    # Load checkpoint files that hold more than weights (arbitrary pickles can run code): only
    # for files whose origin you trust.
    trust_checkpoint: bool = False
    # torch.compile each transformer block (towers, fusion, MAE decoders) with this backend
    # ("inductor" on a GPU); off by default. ZeRO stages 0-2 only: ZeRO-3 gathers parameters
    # inside the blocks, which breaks the compiled graphs.
    compile: bool = False
    compile_backend: str = "inductor"

    def __post_init__(self) -> None:
        check(bool(self.output_dir), "output_dir", "must not be empty")
        check(self.max_steps == -1 or self.max_steps > 0, "max_steps", "must be -1 (off) or > 0")
        check(self.num_train_epochs > 0, "num_train_epochs", "must be > 0")
        check(self.logging_steps > 0, "logging_steps", "must be > 0")
        check(self.save_steps > 0, "save_steps", "must be > 0")
        check(self.eval_steps >= 0, "eval_steps", "must be >= 0 (0 turns evaluation off)")
        for name in ("max_train_samples", "max_eval_samples", "eval_batch_size"):
            cap = getattr(self, name)
            check(cap is None or cap > 0, name, f"must be null or > 0, got {cap}")
        unknown = sorted(set(self.report_to) - {"tensorboard", "wandb"})
        check(not unknown, "report_to", f"expected tensorboard and/or wandb, got {unknown}")
        limit = self.save_total_limit
        check(limit is None or limit > 0, "save_total_limit", "must be null or > 0")


@dataclass(frozen=True, kw_only=True)
class RecipeConfig:
    """Everything a run needs besides the DeepSpeed JSON; written resolved into every run dir."""

    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    objectives: ObjectivesConfig = field(default_factory=ObjectivesConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
