"""Pretraining: tri-modal contrastive + video–text matching + MLM + masked video/audio modelling."""

from __future__ import annotations

import torch
from torch import nn

from avtpretrain.config import ModelConfig, ObjectivesConfig
from avtpretrain.config.model import MODALITIES
from avtpretrain.contract.batch import Batch
from avtpretrain.models.encoders.video import normalize_video
from avtpretrain.models.heads import MAEDecoder, MLMHead
from avtpretrain.models.model import AVTModel
from avtpretrain.objectives.contrastive import Gathers, info_nce
from avtpretrain.objectives.masked import mae_loss, mlm_loss, patchify_audio, patchify_video
from avtpretrain.tasks.matching import batch_matching

PAIRS = (("text", "video"), ("text", "audio"), ("audio", "video"))


class PretrainTask(nn.Module):
    def __init__(
        self,
        model_cfg: ModelConfig,
        objectives: ObjectivesConfig,
        vocab_size: int,
        gathers: Gathers | None = None,
    ) -> None:
        super().__init__()
        self.model = AVTModel(model_cfg, vocab_size)
        self.weights = objectives.active()
        self.gathers = gathers or Gathers()
        h = model_cfg.fusion.hidden_size
        self.mlm_head = MLMHead(h, self.model.text.vocab_size)
        self.match_head = nn.Linear(h, 2)
        v, a = model_cfg.video, model_cfg.audio
        width = objectives.mae_decoder_dim
        dec = (width, objectives.mae_decoder_layers, max(1, width // 64))
        self.video_decoder = MAEDecoder(v.hidden_size, *dec, v.num_patches, v.patch_dim)
        self.audio_decoder = MAEDecoder(a.hidden_size, *dec, a.num_patches, a.patch_dim)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m, w = self.model, self.weights
        text = m.encode_text(batch["input_ids"], batch["attention_mask"])
        video = m.encode_video(batch["video"])
        audio = m.encode_audio(batch["audio"])
        present = {
            "text": torch.ones_like(batch["video_present"]),
            "video": batch["video_present"],
            "audio": batch["audio_present"],
        }
        losses: dict[str, torch.Tensor] = {}
        metrics: dict[str, torch.Tensor] = {}
        tokens = {"text": text, "audio": audio, "video": video}
        masks = {"text": batch["attention_mask"]}
        emb = {name: m.embed(name, tokens[name], masks.get(name)) for name in MODALITIES}
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
        all_emb = {k: self.gathers.with_grad(v) for k, v in emb.items()}
        all_present = {k: self.gathers.no_grad(v) for k, v in present.items()}
        terms, scale = [], self.model.logit_scale()
        for a, b in PAIRS:
            valid = all_present[a] & all_present[b]
            loss, acc = info_nce(all_emb[a], all_emb[b], scale, valid)
            metrics[f"acc/contrastive_{a}_{b}"] = acc.detach()
            terms.append(loss)
        return sum(terms) / len(terms)

    def _matching(self, text, video, batch, emb, metrics) -> torch.Tensor:
        head = self.match_head
        loss, acc = batch_matching(self.model, head, text, video, batch, emb["text"], emb["video"])
        metrics["acc/matching"] = acc.detach()
        return loss

    def _mlm(self, batch, video, audio, metrics) -> torch.Tensor:
        masked = self.model.encode_text(batch["mlm_input_ids"], batch["attention_mask"])
        keep = {
            "text": batch["attention_mask"],
            "video": batch["video_present"],
            "audio": batch["audio_present"],
        }
        _, fused = self.model.fuse({"text": masked, "video": video, "audio": audio}, keep)
        loss, acc = mlm_loss(self.mlm_head, fused["text"], batch["mlm_labels"])
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
