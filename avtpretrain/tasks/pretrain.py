"""Pretraining: tri-modal contrastive + video–text matching + MLM + masked video/audio modelling."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from avtpretrain.config import ModelConfig, ObjectivesConfig
from avtpretrain.data.decode import normalize_video
from avtpretrain.models.heads import MAEDecoder, MLMHead
from avtpretrain.models.model import AVTModel
from avtpretrain.objectives.contrastive import gather_no_grad, gather_with_grad, info_nce
from avtpretrain.objectives.masked import mae_loss, mlm_loss, patchify_audio, patchify_video
from avtpretrain.tasks.matching import matching_step

PAIRS = (("text", "video"), ("text", "audio"), ("audio", "video"))


class PretrainTask(nn.Module):
    def __init__(self, model_cfg: ModelConfig, objectives: ObjectivesConfig, vocab_size: int):
        super().__init__()
        self.model = AVTModel(model_cfg, vocab_size)
        self.weights = objectives.active()
        h = model_cfg.fusion.hidden_size
        self.mlm_head = MLMHead(h, self.model.text.vocab_size)
        self.match_head = nn.Linear(h, 2)
        v, a = model_cfg.video, model_cfg.audio
        dec = (
            objectives.mae_decoder_dim,
            objectives.mae_decoder_layers,
            max(1, objectives.mae_decoder_dim // 64),
        )
        self.video_decoder = MAEDecoder(
            v.hidden_size, *dec, self.model.video.num_patches, v.tubelet_size * v.patch_size**2 * 3
        )
        self.audio_decoder = MAEDecoder(
            a.hidden_size, *dec, self.model.audio.num_patches, a.patch_size**2
        )

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m, w = self.model, self.weights
        text = m.encode_text(batch["input_ids"], batch["attention_mask"])
        video = m.encode_video(batch["video"])
        audio = m.encode_audio(batch["audio"])
        present = {"text": torch.ones_like(batch["video_present"]), "video": batch["video_present"],
                   "audio": batch["audio_present"]}  # fmt: skip
        losses: dict[str, torch.Tensor] = {}
        metrics: dict[str, torch.Tensor] = {}
        emb = {"text": m.embed("text", text), "video": m.embed("video", video),
               "audio": m.embed("audio", audio)}  # fmt: skip
        if "contrastive" in w:
            losses["contrastive"] = self._contrastive(emb, present, metrics)
        if "matching" in w:
            losses["matching"] = self._matching(text, video, batch, emb, metrics)
        if "mlm" in w:
            losses["mlm"] = self._mlm(batch, video, audio, metrics)
        if "mvm" in w:
            losses["mvm"] = self._mvm(batch)
        if "mam" in w:
            losses["mam"] = self._mam(batch)
        total = sum(w[k] * v for k, v in losses.items())
        metrics |= {f"loss/{k}": v.detach() for k, v in losses.items()}
        metrics["temperature"] = 1 / m.logit_scale().detach()
        return total, metrics

    def _contrastive(self, emb, present, metrics) -> torch.Tensor:
        # Gathered with gradients: N ranks x batch B train exactly like one rank with batch N*B.
        all_emb = {k: gather_with_grad(v) for k, v in emb.items()}
        all_present = {k: gather_no_grad(v) for k, v in present.items()}
        terms, scale = [], self.model.logit_scale()
        for a, b in PAIRS:
            valid = all_present[a] & all_present[b]
            loss, acc = info_nce(all_emb[a], all_emb[b], scale, valid)
            metrics[f"acc/contrastive_{a}_{b}"] = acc.detach()
            terms.append(loss)
        return sum(terms) / len(terms)

    def _matching(self, text, video, batch, emb, metrics) -> torch.Tensor:
        with torch.no_grad():
            sim = emb["text"] @ emb["video"].t()
        loss, acc = matching_step(self.model, self.match_head, text, video,
                                  batch["attention_mask"], batch["video_present"], sim)  # fmt: skip
        metrics["acc/matching"] = acc.detach()
        return loss

    def _mlm(self, batch, video, audio, metrics) -> torch.Tensor:
        masked = self.model.encode_text(batch["mlm_input_ids"], batch["attention_mask"])
        keep = {"text": batch["attention_mask"], "video": batch["video_present"],
                "audio": batch["audio_present"]}  # fmt: skip
        _, fused = self.model.fuse({"text": masked, "video": video, "audio": audio}, keep)
        loss, acc = mlm_loss(self.mlm_head(fused["text"]), batch["mlm_labels"])
        metrics["acc/mlm"] = acc.detach()
        return loss

    def _mvm(self, batch) -> torch.Tensor:
        cfg, mask = self.model.cfg.video, batch["video_mask"]
        visible = self.model.encode_video(batch["video"], mask)
        pred = self.video_decoder(visible, mask)
        target = patchify_video(normalize_video(batch["video"]), cfg.tubelet_size, cfg.patch_size)
        return mae_loss(pred, target, mask & batch["video_present"].unsqueeze(1))

    def _mam(self, batch) -> torch.Tensor:
        mask = batch["audio_mask"]
        visible = self.model.encode_audio(batch["audio"], mask)[:, 1:]  # drop [CLS]
        pred = self.audio_decoder(visible, mask)
        target = patchify_audio(batch["audio"], self.model.cfg.audio.patch_size)
        return mae_loss(pred, target, mask & batch["audio_present"].unsqueeze(1))
