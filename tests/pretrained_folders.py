"""Tiny folders laid out as the hub has the original recipe's four checkpoints, for tests.

Each is a random model of exactly the checkpoint's class and conventions, saved as transformers
saves it; the text folder holds a SentencePiece tokenizer trained here.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import (
    AutoTokenizer,
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    DebertaV2Model,
    VideoMAEConfig,
    VideoMAEForPreTraining,
    ViTConfig,
    ViTMAEConfig,
    ViTMAEForPreTraining,
    ViTModel,
)

# DeBERTa-v2's spm.model holds its special pieces at these ids; [MASK] is added after the pieces.
SPECIAL_PIECES = {
    "pad_id": 0,
    "pad_piece": "[PAD]",
    "bos_id": 1,
    "bos_piece": "[CLS]",
    "eos_id": 2,
    "eos_piece": "[SEP]",
    "unk_id": 3,
    "unk_piece": "[UNK]",
}
# microsoft/deberta-v2-xlarge's tokenizer_config.json: it names no tokenizer class.
HUB_TOKENIZER_CONFIG = {"do_lower_case": False, "vocab_type": "spm"}
SENTENCES = [
    "kalo mine ruta.",
    "Shipo  veDo gafu, bezo ri!",
    "zebra: Ü",
    "ka",
]


def batch(tok, texts: list[str]) -> dict[str, torch.Tensor]:
    """Tokenised the way the training collator does it."""
    return tok(
        texts,
        padding="max_length",
        truncation=True,
        max_length=24,
        return_tensors="pt",
        return_special_tokens_mask=True,
    )


def spm_model(pieces: int = 100) -> bytes:
    """A unigram SentencePiece model trained on a few hundred made-up words."""
    rng = random.Random(0)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "do", "ga", "fu", "be"]
    words = ["".join(rng.choices(syllables, k=rng.randint(1, 3))) for _ in range(300)]
    lines = [" ".join(rng.choices(words, k=8)) + rng.choice(".,!?") for _ in range(300)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=pieces,
        model_type="unigram",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
        **SPECIAL_PIECES,
    )
    return model.getvalue()


def hub_tokenizer(folder: Path) -> Path:
    """spm.model + tokenizer_config.json, as the hub ships a DeBERTa-v2 tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spm.model").write_bytes(spm_model())
    (folder / "tokenizer_config.json").write_text(json.dumps(HUB_TOKENIZER_CONFIG))
    return folder


def deberta_folder(folder: Path, weights: str = "safetensors") -> Path:
    """A tiny DeBERTa-v2 checkpoint with its tokenizer in one folder, as the hub has one.

    "safetensors": a bare DebertaV2Model saved by transformers; "bin": a DebertaV2ForMaskedLM
    state dict in pytorch_model.bin (the format and key layout of microsoft/deberta-v2-xlarge).
    """
    hub_tokenizer(folder)
    tokens = len(AutoTokenizer.from_pretrained(folder, config=DebertaV2Config()))
    config = DebertaV2Config(
        vocab_size=tokens,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    if weights == "safetensors":
        DebertaV2Model(config).save_pretrained(folder)
    else:
        config.save_pretrained(folder)
        torch.save(DebertaV2ForMaskedLM(config).state_dict(), folder / "pytorch_model.bin")
    return folder


def tiny_widths() -> dict[str, int]:
    """The shapes every tiny folder below shares (and a test's model config must repeat)."""
    return {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    }


# The MAE decoder both pretraining checkpoints carry (ignored when a tower loads them).
TINY_DECODER = {
    "decoder_hidden_size": 16,
    "decoder_num_hidden_layers": 1,
    "decoder_num_attention_heads": 2,
    "decoder_intermediate_size": 32,
}


def vit_mae_folder(folder: Path) -> Path:
    """facebook/vit-mae-base's conventions: RGB 32² images, patch 16, mask ratio 0.75, decoder."""
    config = ViTMAEConfig(
        **tiny_widths(),
        image_size=32,
        patch_size=16,
        mask_ratio=0.75,
        **TINY_DECODER,
    )
    torch.manual_seed(1)
    ViTMAEForPreTraining(config).save_pretrained(folder)
    return folder


def videomae_folder(folder: Path, num_frames: int, image_size: int, tubelet: int) -> Path:
    """MCG-NJU/videomae-base's conventions: a VideoMAEForPreTraining (keys under `videomae.`)."""
    config = VideoMAEConfig(
        **tiny_widths(),
        num_frames=num_frames,
        image_size=image_size,
        patch_size=16,
        tubelet_size=tubelet,
        **TINY_DECODER,
    )
    torch.manual_seed(2)
    VideoMAEForPreTraining(config).save_pretrained(folder)
    return folder


def vit_folder(folder: Path) -> Path:
    """google/vit-base-patch16-224-in21k's conventions: a ViTModel with a learned table."""
    torch.manual_seed(3)
    ViTModel(ViTConfig(**tiny_widths(), image_size=32, patch_size=16)).save_pretrained(folder)
    return folder
