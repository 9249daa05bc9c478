"""A DeBERTa-v2 SentencePiece tokenizer read from a local folder laid out as the hub has it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentencepiece as spm
import torch
from transformers import (
    AutoTokenizer,
    DebertaV2Tokenizer,
)

from avtpretrain.config.model import TextTowerConfig
from avtpretrain.reader import tokenizer as tokenizer_module
from avtpretrain.reader.tokenizer import (
    TokenizerMismatchError,
    check_tokenizer_fits,
    load_tokenizer,
)
from tests.pretrained_folders import SENTENCES, batch, deberta_folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deberta_folder(tmp_path_factory.mktemp("deberta") / "deberta-v2-tiny")


def test_load_tokenizer_reads_the_tower_folder_as_transformers_does(checkpoint: Path) -> None:
    ours = batch(load_tokenizer(str(checkpoint)), SENTENCES)
    # transformers 5 has one DeBERTa-v2 tokenizer class (tokenizers-backed, converted from
    # spm.model); AutoTokenizer finds it through config.json's model_type.
    for reader in (AutoTokenizer, DebertaV2Tokenizer):
        theirs = batch(reader.from_pretrained(checkpoint), SENTENCES)
        for key in ("input_ids", "attention_mask", "special_tokens_mask"):
            assert torch.equal(ours[key], theirs[key]), (reader.__name__, key)


def test_ids_are_the_sentencepiece_model_own(checkpoint: Path) -> None:
    """The ids the pretrained embedding rows were trained for: [CLS] spm-ids [SEP], pads at 0."""
    tok = load_tokenizer(str(checkpoint))
    pieces = spm.SentencePieceProcessor(model_file=str(checkpoint / "spm.model"))
    ids = batch(tok, SENTENCES)["input_ids"]
    for row, text in zip(ids.tolist(), SENTENCES, strict=True):
        expected = [1, *pieces.encode(text), 2]
        assert row == expected + [0] * (len(row) - len(expected)), text
    assert len(tok) == pieces.get_piece_size() + 1
    assert tok.mask_token_id == pieces.get_piece_size()
    assert (tok.pad_token_id, tok.cls_token_id, tok.sep_token_id) == (0, 1, 2)


def test_a_tokenizer_copied_without_its_model_config_still_loads(
    checkpoint: Path, tmp_path: Path
) -> None:
    """spm.model + tokenizer_config.json alone: no config.json says which class reads them."""
    bare = tmp_path / "tokenizer"
    bare.mkdir()
    for name in ("spm.model", "tokenizer_config.json"):
        (bare / name).write_bytes((checkpoint / name).read_bytes())
    ours = batch(load_tokenizer(str(bare)), SENTENCES)
    theirs = batch(AutoTokenizer.from_pretrained(checkpoint), SENTENCES)
    assert torch.equal(ours["input_ids"], theirs["input_ids"])
    assert torch.equal(ours["attention_mask"], theirs["attention_mask"])


def test_a_tokenizer_larger_than_the_embedding_table_is_refused(
    checkpoint: Path, tmp_path: Path
) -> None:
    grown = load_tokenizer(str(checkpoint))
    grown.add_tokens(["[NEW1]", "[NEW2]"])
    grown.save_pretrained(tmp_path / "grown")
    tokens, rows = len(grown), len(grown) - 2
    text = TextTowerConfig(
        family="deberta-v2",
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        pretrained=str(checkpoint),
    )
    with pytest.raises(TokenizerMismatchError) as err:
        check_tokenizer_fits(len(load_tokenizer(str(tmp_path / "grown"))), "runs/grown", text)
    assert str(err.value) == (
        f"data.tokenizer runs/grown has {tokens} tokens but model.text.pretrained {checkpoint} "
        f"embeds only {rows} (vocab_size in its config.json): use the tokenizer saved with that "
        "checkpoint"
    )
    check_tokenizer_fits(rows, str(checkpoint), text)  # the checkpoint's own tokenizer fits
    fresh = TextTowerConfig(
        family="deberta-v2", hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64
    )
    check_tokenizer_fits(10**6, "any", fresh)  # a fresh tower is sized by the tokenizer


def test_missing_sentencepiece_is_named(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Else transformers reports a missing `tiktoken`, which is not what is wrong."""
    real = tokenizer_module.importlib.util.find_spec
    monkeypatch.setattr(
        tokenizer_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentencepiece" else real(name, *a),
    )
    with pytest.raises(ValueError, match=r"holds spm.model, which needs sentencepiece: reinstall"):
        load_tokenizer(str(checkpoint))
