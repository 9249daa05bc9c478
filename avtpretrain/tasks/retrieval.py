"""Text↔clip retrieval finetuning: contrastive alignment of captions with their videos, their
sounds (audio_retrieval), or both (use_audio), + the matching head re-ranking uses."""

from __future__ import annotations

import torch
from torch import nn

from avtpretrain.config import DownstreamConfig, ModelConfig
from avtpretrain.contract.batch import Batch
from avtpretrain.models.model import AVTModel
from avtpretrain.objectives.contrastive import Gathers, info_nce
from avtpretrain.reader.downstream import Reads
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
        self.reads = Reads.of(cfg)
        self.contrastive_weight = cfg.contrastive_weight
        self.matching_weight = cfg.matching_weight
        # Video retrieval with audio: the text↔audio term weighs as the sound does in the score.
        self.audio_weight = cfg.audio_weight if self.reads.video else 1.0

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = self.model
        text = m.encode_text(batch["input_ids"], batch["attention_mask"])
        emb_t = m.embed("text", text, batch["attention_mask"])
        metrics: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=emb_t.device)
        # Gathered with gradients: every rank's clips are negatives for every text.
        gather = self.gathers.with_grad
        all_t = gather(emb_t) if self.contrastive_weight else emb_t
        sound = None
        if self.reads.audio:
            # Clips without sound are neither queries nor candidates of the text↔audio term.
            sound = (m.encode_audio(batch["audio"]), batch["audio_present"].bool())
            emb_a = m.embed("audio", sound[0])
            present = self.gathers.no_grad(sound[1])
            loss, acc = info_nce(all_t, gather(emb_a), m.logit_scale(), present)
            total = total + self.contrastive_weight * self.audio_weight * loss
            metrics["loss/contrastive_audio"] = loss.detach()
            metrics["acc/contrastive_audio"] = acc.detach()
        if self.reads.video:
            video = m.encode_video(batch["video"])
            emb_v = m.embed("video", video)
            if self.contrastive_weight:
                loss, acc = info_nce(all_t, gather(emb_v), m.logit_scale())
                total = total + self.contrastive_weight * loss
                metrics |= {"loss/contrastive": loss.detach(), "acc/contrastive": acc.detach()}
            if self.matching_weight:
                # With sound, every pair is fused with its clip's sound too.
                args = (m, self.match_head, text, video, batch, emb_t, emb_v, sound)
                loss, acc = batch_matching(*args)
                total = total + self.matching_weight * loss
                metrics |= {"loss/matching": loss.detach(), "acc/matching": acc.detach()}
        metrics["temperature"] = 1 / m.logit_scale().detach()
        return total, metrics
