"""Text encoders from transformers: BERT, RoBERTa and DeBERTa-v2 (one class serves all three)."""

from __future__ import annotations

import torch
from transformers import (
    BertConfig,
    BertModel,
    DebertaV2Config,
    DebertaV2Model,
    RobertaConfig,
    RobertaModel,
)

from avtpretrain.config.model import TextTowerConfig
from avtpretrain.models.encoders.base import Encoder, load_or_build

_FAMILIES = {
    "bert": (BertModel, BertConfig),
    "roberta": (RobertaModel, RobertaConfig),
    "deberta-v2": (DebertaV2Model, DebertaV2Config),
}


class TextEncoder(Encoder):
    def __init__(self, cfg: TextTowerConfig, vocab_size: int) -> None:
        super().__init__()
        model_cls, config_cls = _FAMILIES[cfg.family]
        # The embedding table is sized by the tokenizer unless the config fixes a larger one.
        vocab = max(vocab_size, int(cfg.options.get("vocab_size", 0)))
        extra = {"vocab_size": vocab, "max_position_embeddings": max(cfg.max_length + 2, 64)}
        if cfg.family == "roberta":
            extra["max_position_embeddings"] += 2  # RoBERTa offsets positions by the pad id
        kwargs = {k: v for k, v in extra.items() if k not in cfg.options}
        self.hf = load_or_build(model_cls, config_cls, cfg, **kwargs)
        self.hidden_size = self.hf.config.hidden_size
        self.vocab_size = self.hf.config.vocab_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # BERT and RoBERTa carry a pooler (dense + tanh over [CLS]) that AutoModel expects in the
        # checkpoint, so it is used rather than left untrained; DeBERTa-v2 has none.
        pooler = getattr(self.hf, "pooler", None)
        return pooler(tokens) if pooler is not None else tokens[:, 0]
