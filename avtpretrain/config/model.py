"""Architecture configs: one per tower plus fusion; files live in `model_configs/<name>.yaml`.

The input geometry of each tower (frames, image size, mel bins) is architecture, so it lives here;
the data pipeline reads it from the model config rather than repeating the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from avtpretrain.config.loader import check

# The modalities, one tower each, in the one order used for towers, fusion inputs and embeddings.
MODALITIES = ("text", "audio", "video")
TEXT_POOLING = ("cls", "mean")


@dataclass(frozen=True, kw_only=True)
class TowerConfig:
    family: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    # A local Hugging Face folder; hub ids are never resolved (no network at run time).
    pretrained: str | None = None
    gradient_checkpointing: bool = False
    # Family-specific keyword arguments forwarded to the Hugging Face config class.
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(bool(self.family), "family", "must name an encoder family")
        for name in ("hidden_size", "num_layers", "num_heads", "intermediate_size"):
            check(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
        check(
            self.hidden_size % self.num_heads == 0,
            "hidden_size",
            f"{self.hidden_size} is not divisible by num_heads={self.num_heads}",
        )


@dataclass(frozen=True, kw_only=True)
class TextTowerConfig(TowerConfig):
    max_length: int = 64
    # The caption's embedding: "cls" (the family's pooler over [CLS], as ALPRO and BERT) or "mean"
    # (of the real tokens, as sentence encoders): a small tower's [CLS] may not gather every word.
    pooling: str = "cls"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.max_length > 0, "max_length", f"must be > 0, got {self.max_length}")
        check(
            self.pooling in TEXT_POOLING,
            "pooling",
            f"must be one of {', '.join(TEXT_POOLING)}, got {self.pooling!r}",
        )


@dataclass(frozen=True, kw_only=True)
class AudioTowerConfig(TowerConfig):
    num_mel_bins: int = 128
    target_frames: int = 1024
    patch_size: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.patch_size > 0, "patch_size", f"must be > 0, got {self.patch_size}")
        for name in ("num_mel_bins", "target_frames"):
            value = getattr(self, name)
            check(
                value > 0 and value % self.patch_size == 0,
                name,
                f"must be a positive multiple of patch_size={self.patch_size}, got {value}",
            )

    # The patch grid is the one home of these shape facts: encoders, masks, the MAE decoder,
    # tests and benchmarks all read it here.
    @property
    def grid(self) -> tuple[int, int]:
        """(frame rows, mel-bin columns) of patches, frames outer, as the encoder flattens them."""
        return self.target_frames // self.patch_size, self.num_mel_bins // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def patch_dim(self) -> int:
        """Values per patch (one channel): the MAE reconstruction target's width."""
        return self.patch_size**2


@dataclass(frozen=True, kw_only=True)
class VideoTowerConfig(TowerConfig):
    num_frames: int = 16
    image_size: int = 224
    patch_size: int = 16
    tubelet_size: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("patch_size", "tubelet_size"):
            check(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
        check(
            self.image_size > 0 and self.image_size % self.patch_size == 0,
            "image_size",
            f"must be a positive multiple of patch_size={self.patch_size}, got {self.image_size}",
        )
        check(
            self.num_frames > 0 and self.num_frames % self.tubelet_size == 0,
            "num_frames",
            f"must be a positive multiple of tubelet_size={self.tubelet_size}, "
            f"got {self.num_frames}",
        )

    @property
    def grid(self) -> tuple[int, int, int]:
        """(time tubes, patch rows, patch columns), in VideoMAE's (time, height, width) order."""
        side = self.image_size // self.patch_size
        return self.num_frames // self.tubelet_size, side, side

    @property
    def patches_per_frame(self) -> int:
        return self.grid[1] * self.grid[2]

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.patches_per_frame

    @property
    def patch_dim(self) -> int:
        """Values per tube (RGB): the MAE reconstruction target's width."""
        return self.tubelet_size * self.patch_size**2 * 3


TOKEN_BUDGETS = ("all", "time_pooled")


@dataclass(frozen=True, kw_only=True)
class FusionConfig:
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    # A local google/vit-base-patch16-224-in21k-style folder whose blocks start the fusion layers
    # (its shape must match the four fields above; its LayerNorm eps replaces torch's 1e-5).
    pretrained: str | None = None
    gradient_checkpointing: bool = False
    # Which tower tokens the fusion attends over (its cost grows with their square): "all", or
    # "time_pooled", the mean over time of each spatial patch (video) / mel band (audio; [CLS]
    # kept). The base recipe's 1,568 video tokens become 196: bench/bench_flops.py has the figures.
    video_tokens: str = "time_pooled"
    audio_tokens: str = "all"

    def __post_init__(self) -> None:
        for name in ("video_tokens", "audio_tokens"):
            value = getattr(self, name)
            check(value in TOKEN_BUDGETS, name, f"must be one of {TOKEN_BUDGETS}, got {value!r}")
        for name in ("num_heads", "num_layers", "intermediate_size"):
            check(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
        check(
            self.hidden_size > 0 and self.hidden_size % self.num_heads == 0,
            "hidden_size",
            f"must be a positive multiple of num_heads={self.num_heads}, got {self.hidden_size}",
        )


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    text: TextTowerConfig
    audio: AudioTowerConfig
    video: VideoTowerConfig
    fusion: FusionConfig
    # Width of the shared space the contrastive heads project into.
    embed_dim: int = 256

    def __post_init__(self) -> None:
        check(self.embed_dim > 0, "embed_dim", f"must be > 0, got {self.embed_dim}")
