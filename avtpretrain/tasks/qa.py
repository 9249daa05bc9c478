"""Video QA finetuning: a classifier over the answer vocabulary on the fused [CLS] of the question
and the video (and, with downstream.use_audio, the clip's sound)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from avtpretrain.config import DownstreamConfig, ModelConfig
from avtpretrain.contract.batch import Batch
from avtpretrain.models.heads import QAHead
from avtpretrain.models.model import AVTModel


class QATask(nn.Module):
    def __init__(
        self, model_cfg: ModelConfig, cfg: DownstreamConfig, vocab_size: int, num_answers: int
    ) -> None:
        super().__init__()
        self.model = AVTModel(model_cfg, vocab_size)
        self.qa_head = QAHead(model_cfg.fusion.hidden_size, cfg.qa_hidden_mult, num_answers)
        self.use_audio = cfg.use_audio

    def answer_logits(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        video: torch.Tensor,
        audio: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Question token states [B, L, H] (+ mask), video token states [B, N, H] and, with
        audio, (audio token states [B, M, H], presence [B]) → answer logits."""
        return self.qa_head(self.model.fuse_text_video(text, text_mask, video, audio=audio))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        text = self.model.encode_text(batch["input_ids"], batch["attention_mask"])
        video = self.model.encode_video(batch["video"])
        audio = None
        if self.use_audio:
            # A clip without sound is fused from its question and video alone (presence mask).
            audio = (self.model.encode_audio(batch["audio"]), batch["audio_present"].bool())
        logits = self.answer_logits(text, batch["attention_mask"], video, audio).float()
        labels = batch["labels"]
        # Answers outside the vocabulary carry -100: no loss, and not counted in the accuracy.
        # Masked sums rather than `if known.any()`: no host-device sync, and a batch without a
        # known answer gives a zero loss that keeps the graph.
        known = labels != -100
        count = known.sum().clamp(min=1)
        per_item = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")
        loss = (per_item * known).sum() / count
        acc = ((logits.argmax(1) == labels) & known).sum() / count
        return loss, {"acc/qa": acc.detach().float()}
