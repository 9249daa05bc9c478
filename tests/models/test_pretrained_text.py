"""The text tower started from a local DeBERTa-v2 folder, and exported with its tokenizer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer, DebertaV2Model

from avtpretrain.config.model import TextTowerConfig
from avtpretrain.models.encoders.registry import TEXT_ENCODERS, lookup
from avtpretrain.models.export import TokenizerExportError, export_model
from avtpretrain.models.model import AVTModel
from avtpretrain.reader.tokenizer import load_tokenizer, train_wordpiece
from tests.pretrained_folders import SENTENCES, batch, deberta_folder


def text_config(pretrained: Path | None) -> TextTowerConfig:
    # The shape fields describe a fresh tower; a pretrained one takes the folder's config.json.
    return TextTowerConfig(
        family="deberta-v2",
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_length=24,
        pretrained=str(pretrained) if pretrained else None,
    )


@pytest.fixture(scope="module", params=["safetensors", "bin"])
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deberta_folder(tmp_path_factory.mktemp(request.param) / "deberta", request.param)


def test_the_tower_computes_what_transformers_computes(checkpoint: Path) -> None:
    tok = load_tokenizer(str(checkpoint))
    tower = lookup(TEXT_ENCODERS, "deberta-v2", "text")(text_config(checkpoint), len(tok)).eval()
    reference = DebertaV2Model.from_pretrained(checkpoint).eval()
    inputs = batch(tok, SENTENCES)
    with torch.no_grad():
        ours = tower(inputs["input_ids"], inputs["attention_mask"])
        theirs = reference(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        ).last_hidden_state
    assert ours.dtype == torch.float32
    assert (ours - theirs).abs().max().item() <= 1e-5
    assert tower.vocab_size == len(tok) and tower.hidden_size == 32


def test_the_load_report_says_what_was_used(checkpoint: Path) -> None:
    tower = lookup(TEXT_ENCODERS, "deberta-v2", "text")(text_config(checkpoint), 1)
    report = tower.load_report
    assert report is not None and report.source == str(checkpoint)
    assert sorted(report.loaded) == sorted(tower.hf.state_dict())
    assert report.fresh == []
    if (checkpoint / "pytorch_model.bin").is_file():  # saved with its MLM head, as the hub's
        assert report.ignored and all(n.startswith("cls.predictions.") for n in report.ignored)
    else:
        assert report.ignored == []
    fresh = lookup(TEXT_ENCODERS, "deberta-v2", "text")(text_config(None), 50)
    assert fresh.load_report is None


def test_a_pretrained_tower_keeps_gradient_checkpointing(checkpoint: Path) -> None:
    cfg = dataclasses.replace(text_config(checkpoint), gradient_checkpointing=True)
    assert lookup(TEXT_ENCODERS, "deberta-v2", "text")(cfg, 1).hf.is_activation_checkpointing


def test_the_tower_refuses_a_tokenizer_larger_than_its_embeddings(checkpoint: Path) -> None:
    rows = len(load_tokenizer(str(checkpoint)))
    with pytest.raises(ValueError) as err:
        lookup(TEXT_ENCODERS, "deberta-v2", "text")(text_config(checkpoint), rows + 1)
    assert str(err.value) == (
        f"model.text: the tokenizer has {rows + 1} tokens but {checkpoint} embeds only {rows} "
        "(vocab_size in its config.json): use the tokenizer saved with that checkpoint"
    )


def exported(tiny, text: TextTowerConfig, vocab: int, tokenizer: Path, out: Path) -> AVTModel:
    torch.manual_seed(0)
    model = AVTModel(dataclasses.replace(tiny, text=text), vocab).eval()
    paths = export_model(model, out, tokenizer=tokenizer)
    assert paths["tokenizer"] == paths["text"] == out / "text"
    return model


def test_an_export_loads_with_auto_classes_alone(tiny, checkpoint: Path, tmp_path: Path) -> None:
    tok = load_tokenizer(str(checkpoint))
    model = exported(tiny, text_config(checkpoint), len(tok), checkpoint, tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path / "text")
    hf = AutoModel.from_pretrained(tmp_path / "text").eval()
    inputs, loaded = batch(tok, SENTENCES), batch(again, SENTENCES)
    assert torch.equal(inputs["input_ids"], loaded["input_ids"])
    assert torch.equal(inputs["attention_mask"], loaded["attention_mask"])
    assert (tmp_path / "text" / "spm.model").is_file()
    with torch.no_grad():
        ours = model.encode_text(inputs["input_ids"], inputs["attention_mask"])
        theirs = hf(input_ids=loaded["input_ids"], attention_mask=loaded["attention_mask"])
    assert torch.equal(ours, theirs.last_hidden_state)


@pytest.mark.parametrize("family", ["bert", "deberta-v2"])
def test_an_export_carries_a_wordpiece_tokenizer_too(tiny, family: str, tmp_path: Path) -> None:
    """The tokenizer's own class wins over the tower's: a DeBERTa-v2 tower trained with our
    WordPiece tokenizer exports that tokenizer, not a SentencePiece one."""
    captions = ["a red circle moves left", "a blue square moves right"] * 3
    source = train_wordpiece(captions, 60, tmp_path / "wordpiece")
    tok = load_tokenizer(str(source))
    text = tiny.text if family == "bert" else text_config(None)
    exported(tiny, text, len(tok), source, tmp_path / "out")
    again = AutoTokenizer.from_pretrained(tmp_path / "out" / "text")
    texts = ["a red square moves", "blue circle"]
    assert again(texts)["input_ids"] == tok(texts)["input_ids"]


def test_an_export_refuses_a_tokenizer_larger_than_the_tower(tiny, tmp_path: Path) -> None:
    captions = ["a red circle moves left", "a blue square moves right"] * 3
    source = train_wordpiece(captions, 60, tmp_path / "wordpiece")
    tokens = len(load_tokenizer(str(source)))
    with pytest.raises(TokenizerExportError) as err:
        exported(tiny, tiny.text, 40, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert str(err.value) == (
        f"tokenizer: {source} has {tokens} tokens but the exported text tower embeds only 40: "
        "not the tokenizer this checkpoint was trained with"
    )
