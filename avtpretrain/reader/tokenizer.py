"""Tokenizers from local folders only, and a WordPiece one made from the shards' captions."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from avtpretrain.config.model import TextTowerConfig
from avtpretrain.contract import format as fmt
from avtpretrain.reader.shards import resolve_shards

# tokenizers and transformers (which imports torch) load inside the functions that use them:
# `train_tokenizer.py --help` and the entry points' error classes stay light.
if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

SPECIAL = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}

# DeBERTa-v2's SentencePiece model (also v3's and mDeBERTa's): the only transformers tokenizer
# whose vocabulary file has this name.
SPM_FILE = "spm.model"


class TokenizerMismatchError(ValueError):
    """data.tokenizer does not fit the pretrained text tower; one line naming both folders."""


def load_tokenizer(path: str | None) -> PreTrainedTokenizerBase:
    """A Hugging Face tokenizer from a local folder; hub ids are never resolved."""
    if not path or not Path(path).is_dir():
        raise ValueError(
            f"data.tokenizer: {path!r} is not a tokenizer folder; make one with "
            "tools/train_tokenizer.py --shards <train shards> --out <folder>"
        )
    from transformers import AutoTokenizer, DebertaV2Tokenizer

    folder = Path(path)
    if (folder / SPM_FILE).is_file() and not (folder / "tokenizer.json").is_file():
        _require_sentencepiece(path)
    reader = DebertaV2Tokenizer if _unnamed_sentencepiece(folder) else AutoTokenizer
    return reader.from_pretrained(path, local_files_only=True)


def _require_sentencepiece(path: str) -> None:
    """Without these transformers cannot read spm.model and blames a missing `tiktoken`."""
    missing = [m for m in ("sentencepiece", "google.protobuf") if not importlib.util.find_spec(m)]
    if missing:
        raise ValueError(
            f"data.tokenizer: {path} holds {SPM_FILE}, which needs {' and '.join(missing)}: "
            "reinstall with `pip install -e .`"
        )


def _unnamed_sentencepiece(folder: Path) -> bool:
    """A DeBERTa-v2 tokenizer copied on its own from the hub: spm.model and a
    tokenizer_config.json that names no class, and no config.json whose model_type would tell
    AutoTokenizer which class reads it (it then fails). spm.model itself says DeBERTa-v2."""
    if not (folder / SPM_FILE).is_file() or (folder / "config.json").is_file():
        return False
    config = folder / "tokenizer_config.json"
    declared = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    return not declared.get("tokenizer_class")


def check_tokenizer_fits(tokens: int, tokenizer_dir: str, text: TextTowerConfig) -> None:
    """Refuse a tokenizer with more tokens than a pretrained text tower has embedding rows: the
    extra ids would index past the table. Fewer is normal (DeBERTa-v2 pads its table: 128,100
    rows for 128,001 tokens). A fresh tower sizes its table by the tokenizer: nothing to check.

    Called by the composition root with `len(load_tokenizer(...))`, before any model is built.
    """
    if not text.pretrained:
        return
    from transformers import AutoConfig

    rows = AutoConfig.from_pretrained(text.pretrained, local_files_only=True).vocab_size
    if tokens > rows:
        raise TokenizerMismatchError(
            f"data.tokenizer {tokenizer_dir} has {tokens} tokens but model.text.pretrained "
            f"{text.pretrained} embeds only {rows} (vocab_size in its config.json): use the "
            "tokenizer saved with that checkpoint"
        )


def shard_captions(specs: list[str], progress: bool = False) -> Iterator[str]:
    """Every caption line of every sample in the shards (read with the stdlib tar reader);
    `progress`: a bar over the shards on stderr."""
    urls = resolve_shards(specs).urls
    for url in tqdm(urls, desc="reading captions", unit="shard", disable=not progress):
        with tarfile.open(url) as tar:
            for info in tar:
                split = fmt.split_member(info.name) if info.isfile() else None
                if split and split[1] == fmt.TEXT_EXT:
                    yield from tar.extractfile(info).read().decode("utf-8").splitlines()


def wordpiece_vocab(captions: Iterable[str], vocab_size: int, tok: Tokenizer) -> dict[str, int]:
    """Special tokens, every character (alone and as a `##` continuation), then whole words by
    frequency, ties by spelling: the same captions always give the same vocabulary.

    (tokenizers' WordPieceTrainer breaks ties between equally frequent pieces in hash order, so
    two trainings on the same captions were seen to give different vocabularies and ids.)
    """
    counts: Counter[str] = Counter()
    for caption in captions:
        text = tok.normalizer.normalize_str(caption)
        counts.update(word for word, _ in tok.pre_tokenizer.pre_tokenize_str(text))
    if not counts:
        raise ValueError("no words in the captions: nothing to build a vocabulary from")
    chars = sorted({c for word in counts for c in word})
    pieces = [*SPECIAL.values(), *chars, *(f"##{c}" for c in chars)]
    if vocab_size < len(pieces):
        raise ValueError(
            f"vocab_size {vocab_size} is below the {len(pieces)} special tokens and characters "
            "these captions need"
        )
    known = set(pieces)
    words = sorted((w for w in counts if w not in known), key=lambda w: (-counts[w], w))
    pieces += words[: max(0, vocab_size - len(pieces))]
    return {piece: i for i, piece in enumerate(pieces)}


def train_wordpiece(
    captions: Iterable[str], vocab_size: int, out_dir: str | Path, progress: bool = False
) -> Path:
    """A lower-cased BERT-style WordPiece tokenizer over the captions, saved as a transformers
    folder. Words outside the vocabulary are spelled in characters; a word with a character the
    captions never had becomes [UNK]. `progress`: a bar over the captions on stderr."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token=SPECIAL["unk_token"]))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counting = tqdm(captions, desc="counting words", unit="caption", disable=not progress)
    vocab = wordpiece_vocab(counting, vocab_size, tok)
    tok.model = models.WordPiece(vocab, unk_token=SPECIAL["unk_token"])
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL)
    out = Path(out_dir)
    wrapped.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="train_tokenizer.py", description=__doc__.split("\n")[0])
    p.add_argument("--shards", nargs="+", required=True, help="shard folders or patterns")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--vocab_size", type=int, default=8000)
    args = p.parse_args(argv)
    captions = list(shard_captions(args.shards, progress=True))
    if not captions:
        p.exit(2, f"train_tokenizer.py: no captions in {' '.join(args.shards)}\n")
    try:
        out = train_wordpiece(captions, args.vocab_size, args.out, progress=True)
    except ValueError as err:
        p.exit(2, f"train_tokenizer.py: --vocab_size / captions: {err}\n")
    size = len(load_tokenizer(str(out)))
    print(f"made from {len(captions)} captions: {size} tokens, saved to {out}")
    return 0
