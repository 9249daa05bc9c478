"""Text↔video retrieval finetuning: contrastive alignment + the matching head re-ranking uses."""

from __future__ import annotations

import torch
from torch import nn

from avtpretrain.config import DownstreamConfig, ModelConfig
from avtpretrain.contract.batch import Batch
from avtpretrain.models.model import AVTModel
from avtpretrain.objectives.contrastive import Gathers, info_nce
from avtpretrain.tasks.matching import batch_matching


class RetrievalTask(nn.Module):
    # Same module names as PretrainTask: a pretraining checkpoint fills the matching head too.
    def __init__(
        self,
        model_cfg: ModelConfig,
        cfg: DownstreamConfig,
        vocab_size: int,
        gathers: Gathers | None = None,
    ) -> None:
        super().__init__()
        self.model = AVTModel(model_cfg, vocab_size)
        self.gathers = gathers or Gathers()
        self.match_head = nn.Linear(model_cfg.fusion.hidden_size, 2)
        self.contrastive_weight = cfg.contrastive_weight
        self.matching_weight = cfg.matching_weight

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = self.model
        text = m.encode_text(batch["input_ids"], batch["attention_mask"])
        video = m.encode_video(batch["video"])
        emb_t, emb_v = m.embed("text", text), m.embed("video", video)
        metrics: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=emb_t.device)
        if self.contrastive_weight:
            # Gathered with gradients: every rank's videos are negatives for every text.
            gather = self.gathers.with_grad
            loss, acc = info_nce(gather(emb_t), gather(emb_v), m.logit_scale())
            total = total + self.contrastive_weight * loss
            metrics |= {"loss/contrastive": loss.detach(), "acc/contrastive": acc.detach()}
        if self.matching_weight:
            loss, acc = batch_matching(m, self.match_head, text, video, batch, emb_t, emb_v)
            total = total + self.matching_weight * loss
            metrics |= {"loss/matching": loss.detach(), "acc/matching": acc.detach()}
        metrics["temperature"] = 1 / m.logit_scale().detach()
        return total, metrics
