"""Encoders + fusion + projection heads: tensors in, tensors out; no losses, ranks or engines."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from avtpretrain.config.model import MODALITIES, ModelConfig
from avtpretrain.models.encoders.registry import (
    AUDIO_ENCODERS,
    TEXT_ENCODERS,
    VIDEO_ENCODERS,
    lookup,
)
from avtpretrain.models.fusion import Fusion
from avtpretrain.models.loading import TowerLoad


class LogitScale(nn.Module):
    """CLIP's learnable temperature, stored as log(1 / 0.07); calling it returns the scale.

    A module (not a bare parameter) so that sharded engines gather it when it is used.
    """

    def __init__(self) -> None:
        super().__init__()
        # Shape [1], not a 0-d scalar: DeepSpeed's parameter broadcast views every parameter as
        # bytes, which a 0-d bf16 tensor cannot be.
        self.value = nn.Parameter(torch.full((1,), math.log(1 / 0.07)))

    def forward(self) -> torch.Tensor:
        return self.value.exp().clamp(max=100).squeeze(0)


class AVTModel(nn.Module):
    def __init__(self, cfg: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = lookup(TEXT_ENCODERS, cfg.text.family, "text")(cfg.text, vocab_size)
        self.audio = lookup(AUDIO_ENCODERS, cfg.audio.family, "audio")(cfg.audio)
        self.video = lookup(VIDEO_ENCODERS, cfg.video.family, "video")(cfg.video)
        sizes = {m: getattr(self, m).hidden_size for m in MODALITIES}
        self.fusion = Fusion(cfg.fusion, sizes)
        self.proj = nn.ModuleDict(
            {m: nn.Linear(sizes[m], cfg.embed_dim, bias=False) for m in MODALITIES}
        )
        self.logit_scale = LogitScale()

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.text(input_ids, attention_mask)

    def encode_audio(self, audio: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.audio(audio, mask)

    def encode_video(self, video: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.video(video, mask)

    def embed(
        self, tower: str, tokens: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Unit-length embedding in the shared space from one tower's token states; `mask` (the
        text's attention mask) keeps padding out of a mean-pooled caption."""
        pooled = getattr(self, tower).pool(tokens, mask)
        return F.normalize(self.proj[tower](pooled), dim=-1)

    def fuse(
        self,
        tokens: dict[str, torch.Tensor],
        keep: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fused [B, H] vector and per-modality fused tokens for any subset of the modalities.

        keep[m] is [B, N_m] (token-level, e.g. the text attention mask) or [B] (presence).
        """
        budgeted, full = {}, {}
        for m, t in tokens.items():
            k = keep[m]
            if k.dim() == 1:
                budgeted[m] = self._budget(m, t)
                full[m] = k.unsqueeze(1).expand(-1, budgeted[m].shape[1])
            else:  # token-level masks (text padding) keep every token
                budgeted[m], full[m] = t, k.bool()
        return self.fusion(budgeted, full)

    def _budget(self, tower: str, tokens: torch.Tensor) -> torch.Tensor:
        """The tokens of a whole-clip tower that the fusion sees (FusionConfig.*_tokens)."""
        budget = {"video": self.cfg.fusion.video_tokens, "audio": self.cfg.fusion.audio_tokens}
        if budget.get(tower) != "time_pooled":
            return tokens
        if tower == "video":  # VideoMAE order: time outer, then the patches of one frame
            return tokens.unflatten(1, (-1, self.cfg.video.patches_per_frame)).mean(1)
        bands = self.cfg.audio.grid[1]  # [CLS] + patches, frames outer, mel bands inner
        pooled = tokens[:, 1:].unflatten(1, (-1, bands)).mean(1)
        return torch.cat([tokens[:, :1], pooled], dim=1)

    def load_reports(self) -> list[TowerLoad]:
        """What each part started from, for the parts built from a pretrained folder."""
        parts = [*(getattr(self, m) for m in MODALITIES), self.fusion]
        return [p.load_report for p in parts if getattr(p, "load_report", None) is not None]

    def fuse_text_video(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        video: torch.Tensor,
        video_present: torch.Tensor | None = None,
        audio: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Fused [B, H] vector of text tokens (with their mask), video tokens (every video
        present unless `video_present` [B] says otherwise) and, when given, the clips' audio
        tokens with their presence (a clip without sound is fused without it)."""
        if video_present is None:
            video_present = torch.ones(len(video), dtype=torch.bool, device=video.device)
        tokens = {"text": text, "video": video}
        keep = {"text": text_mask, "video": video_present}
        if audio is not None:
            tokens["audio"], keep["audio"] = audio
        fused, _ = self.fuse(tokens, keep)
        return fused
