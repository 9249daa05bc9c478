"""The caption tokenizer: the same captions give the same files; unseen words are spelled."""

from pathlib import Path

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
