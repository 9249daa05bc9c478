"""Text encoders from transformers: BERT, RoBERTa and DeBERTa-v2 (one class serves all three)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    BertConfig,
    BertModel,
    DebertaV2Config,
    DebertaV2Model,
    PreTrainedModel,
    RobertaConfig,
    RobertaModel,
)

from avtpretrain.config.model import TextTowerConfig
from avtpretrain.models.encoders.base import Encoder, enable_checkpointing, load_or_build
from avtpretrain.models.loading import TowerLoad

_FAMILIES = {
    "bert": (BertModel, BertConfig),
    "roberta": (RobertaModel, RobertaConfig),
    "deberta-v2": (DebertaV2Model, DebertaV2Config),
}


class TextEncoder(Encoder):
    def __init__(self, cfg: TextTowerConfig, vocab_size: int) -> None:
        super().__init__()
        model_cls, config_cls = _FAMILIES[cfg.family]
        if cfg.pretrained:
            self.hf, self.load_report = _from_folder(model_cls, cfg)
            check_vocab_fits(vocab_size, self.hf.config.vocab_size, cfg.pretrained)
        else:
            self.hf = load_or_build(model_cls, config_cls, cfg, **_fresh_shape(cfg, vocab_size))
        self.hidden_size = self.hf.config.hidden_size
        self.vocab_size = self.hf.config.vocab_size
        self.pooling = cfg.pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`mask`: the attention mask; "mean" pooling averages the tokens it keeps."""
        if self.pooling == "mean":
            # Without the mask the padding would be averaged in, silently: every caller has it.
            if mask is None:
                raise ValueError("model.text.pooling 'mean' needs the captions' attention mask")
            return super().pool(tokens, mask)
        # BERT and RoBERTa carry a pooler (dense + tanh over [CLS]) that AutoModel expects in the
        # checkpoint, so it is used rather than left untrained; DeBERTa-v2 has none.
        pooler = getattr(self.hf, "pooler", None)
        return pooler(tokens) if pooler is not None else tokens[:, 0]


def check_vocab_fits(tokens: int, rows: int, pretrained: str) -> None:
    """Refuse a tokenizer whose ids run past a pretrained embedding table: such an id indexes
    out of range (on a GPU, a device-side assert that kills the run). Fewer tokens than rows is
    normal: DeBERTa-v2 pads its table (128,100 rows for 128,001 tokens)."""
    if tokens > rows:
        raise ValueError(
            f"model.text: the tokenizer has {tokens} tokens but {pretrained} embeds only {rows} "
            f"(vocab_size in its config.json): use the tokenizer saved with that checkpoint"
        )


def _fresh_shape(cfg: TextTowerConfig, vocab_size: int) -> dict[str, Any]:
    """Size arguments for a randomly initialised tower; keys the config sets itself win."""
    # The embedding table is sized by the tokenizer unless the config fixes a larger one.
    vocab = max(vocab_size, int(cfg.options.get("vocab_size", 0)))
    extra = {"vocab_size": vocab, "max_position_embeddings": max(cfg.max_length + 2, 64)}
    if cfg.family == "roberta":
        extra["max_position_embeddings"] += 2  # RoBERTa offsets positions by the pad id
    return {k: v for k, v in extra.items() if k not in cfg.options}


def _from_folder(model_cls: type[PreTrainedModel], cfg: TextTowerConfig) -> tuple[Any, TowerLoad]:
    """The model in `cfg.pretrained` (a local folder, never the hub) and what loading it did.

    Loaded here rather than by `load_or_build` to keep transformers' loading info: a hub
    DeBERTa-v2 checkpoint holds its MLM head too, which the bare encoder leaves unused."""
    if not Path(cfg.pretrained).is_dir():
        raise ValueError(f"{cfg.family}: pretrained folder {cfg.pretrained} does not exist")
    model, info = model_cls.from_pretrained(
        cfg.pretrained, local_files_only=True, output_loading_info=True
    )
    enable_checkpointing(model, cfg)
    missing = set(info.get("missing_keys", ()))
    report = TowerLoad(
        tower="text",
        source=cfg.pretrained,
        loaded=[name for name in model.state_dict() if name not in missing],
        fresh=sorted(missing),
        ignored=sorted(info.get("unexpected_keys", ())),
    )
    return model, report
