"""The caption tokenizer: the same captions give the same files; unseen words are spelled."""

from pathlib import Path

import pytest

from avtpretrain.reader.tokenizer import load_tokenizer, train_wordpiece

CAPTIONS = ["a red circle moves left", "a blue square moves right", "the red square is slow"] * 3


def test_training_twice_gives_identical_files(tmp_path: Path) -> None:
    first = train_wordpiece(CAPTIONS, 100, tmp_path / "a")
    second = train_wordpiece(list(reversed(CAPTIONS)), 100, tmp_path / "b")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_frequent_words_are_whole_tokens_and_others_are_spelled(tmp_path: Path) -> None:
    tok = load_tokenizer(str(train_wordpiece(CAPTIONS, 100, tmp_path / "t")))
    pieces = tok.convert_ids_to_tokens(tok("A red Circle moves leftward")["input_ids"])
    # Greedy longest match: a known word, then the rest spelled as continuation pieces.
    expected = ["[CLS]", "a", "red", "circle", "moves", "left", "##w", "##a", "##r", "##d", "[SEP]"]
    assert pieces == expected
    # 5 special tokens, 19 letters alone and as ##pieces, then room for the two most frequent
    # words (moves, red: 6 times each); the rest are spelled out.
    small = load_tokenizer(str(train_wordpiece(CAPTIONS, 5 + 2 * 19 + 2, tmp_path / "s")))
    assert small.convert_ids_to_tokens(small("moves")["input_ids"])[1:-1] == ["moves"]
    assert small.convert_ids_to_tokens(small("slow")["input_ids"])[1:-1][0] == "s"


def test_a_budget_below_the_alphabet_and_empty_captions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vocab_size 20 is below the 43"):
        train_wordpiece(CAPTIONS, 20, tmp_path / "small")
    with pytest.raises(ValueError, match="no words"):
        train_wordpiece(["  ", ""], 100, tmp_path / "empty")


def test_a_word_with_an_unseen_character_is_unknown(tmp_path: Path) -> None:
    tok = load_tokenizer(str(train_wordpiece(CAPTIONS, 100, tmp_path / "t")))
    assert tok.convert_ids_to_tokens(tok("red zebra")["input_ids"]) == [
        "[CLS]",
        "red",
        "[UNK]",
        "[SEP]",
    ]
