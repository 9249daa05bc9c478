"""Captions are padded to the batch's longest (a multiple of 8), never to max_length."""

from __future__ import annotations

from pathlib import Path

import torch

from avtpretrain.reader.samples import Collator
from avtpretrain.reader.tokenizer import load_tokenizer, train_wordpiece

CAPTIONS = ["a red circle moves left", "a slow blue square heading upward quickly now"] * 20


def _samples(captions: list[str]) -> list[dict]:
    video = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    return [
        {"key": str(i), "caption": c, "video": video, "video_present": True}
        for i, c in enumerate(captions)
    ]


def _collate(tmp_path: Path, captions: list[str], max_length: int) -> dict:
    tok = load_tokenizer(str(train_wordpiece(CAPTIONS, 200, tmp_path / "tok")))
    return Collator(tok, max_length, None)(_samples(captions), torch.Generator())


def test_a_batch_of_short_captions_is_padded_to_its_longest_rounded_up_to_8(tmp_path) -> None:
    batch = _collate(tmp_path, ["a red circle", "a slow blue square heading upward"], 128)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    longest = int(mask.sum(1).max())
    assert ids.shape == (2, 8 * -(-longest // 8)) and ids.shape[1] < 128
    assert mask[0].sum() < mask[1].sum() == longest


def test_long_captions_stop_at_max_length_even_when_it_is_not_a_multiple_of_8(tmp_path) -> None:
    long = " ".join(["a red circle moves left"] * 10)
    assert _collate(tmp_path, [long, "a red circle"], 12)["input_ids"].shape == (2, 12)
    assert _collate(tmp_path, [long, "a red circle"], 16)["input_ids"].shape == (2, 16)
