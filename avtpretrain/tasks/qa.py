"""Video QA finetuning: a classifier over the answer vocabulary on the fused [CLS]."""

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

    def answer_logits(
        self, text: torch.Tensor, text_mask: torch.Tensor, video: torch.Tensor
    ) -> torch.Tensor:
        """Question token states [B, L, H] (+ mask) and video token states [B, N, H] → logits."""
        return self.qa_head(self.model.fuse_text_video(text, text_mask, video))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        text = self.model.encode_text(batch["input_ids"], batch["attention_mask"])
        video = self.model.encode_video(batch["video"])
        logits = self.answer_logits(text, batch["attention_mask"], video).float()
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
