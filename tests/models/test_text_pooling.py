"""The caption embedding: [CLS] pooler or the mean of the real tokens (model.text.pooling)."""

from dataclasses import replace

import pytest
import torch

from avtpretrain.config.files import load_model_config
from avtpretrain.config.loader import ConfigError
from avtpretrain.models.model import AVTModel
from tests.models.conftest import REPO, VOCAB

IDS = torch.tensor([[2, 11, 12, 13, 3, 0, 0, 0], [2, 21, 22, 3, 0, 0, 0, 0]])


def _mask(ids: torch.Tensor) -> torch.Tensor:
    return (ids != 0).long()


def _embed(model: AVTModel, ids: torch.Tensor) -> torch.Tensor:
    mask = _mask(ids)
    with torch.no_grad():
        return model.embed("text", model.encode_text(ids, mask), mask)


def _with_pooling(tiny, pooling: str) -> AVTModel:
    torch.manual_seed(0)
    return AVTModel(replace(tiny, text=replace(tiny.text, pooling=pooling)), VOCAB).eval()


def test_mean_pooling_averages_the_real_tokens_only(tiny) -> None:
    model = _with_pooling(tiny, "mean")
    mask = _mask(IDS)
    with torch.no_grad():
        states = model.encode_text(IDS, mask)
        by_hand = torch.stack([states[i, : int(mask[i].sum())].mean(0) for i in range(len(IDS))])
        pooled = model.text.pool(states, mask)
    assert torch.allclose(pooled, by_hand, atol=1e-6)
    # More padding leaves a caption's embedding as it was.
    longer = torch.cat([IDS, torch.zeros(2, 4, dtype=IDS.dtype)], dim=1)
    assert torch.allclose(_embed(model, IDS), _embed(model, longer), atol=1e-5)
    with pytest.raises(ValueError, match="needs the captions' attention mask"):
        model.text.pool(states)


def test_cls_pooling_uses_the_pooler_over_the_first_token(tiny) -> None:
    model = _with_pooling(tiny, "cls")
    mask = _mask(IDS)
    with torch.no_grad():
        states = model.encode_text(IDS, mask)
        expected = model.text.hf.pooler(states)
        assert torch.allclose(model.text.pool(states, mask), expected)
    assert not torch.allclose(_embed(model, IDS), _embed(_with_pooling(tiny, "mean"), IDS))


def test_an_unknown_pooling_is_refused_naming_the_file_and_key(tmp_path) -> None:
    text = (REPO / "model_configs" / "tiny.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("pooling: mean", "pooling: max"))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*text\.pooling.*cls, mean.*'max'"):
        load_model_config(str(bad))
