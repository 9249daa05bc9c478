"""Export: every tower as a Hugging Face folder, the whole model as one safetensors file."""

from __future__ import annotations

import shutil
from pathlib import Path

from safetensors.torch import save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from avtpretrain.config.model import MODALITIES
from avtpretrain.models.model import AVTModel

# DeBERTa-v2's SentencePiece model: copied as it is, for tools that read it without transformers.
SPM_FILE = "spm.model"


class TokenizerExportError(ValueError):
    """The tokenizer to export is missing or does not fit the text tower; one line."""


def export_model(
    model: AVTModel, out_dir: str | Path, tokenizer: str | Path | None = None
) -> dict[str, Path]:
    """out/{text,audio,video}/ (config.json + model.safetensors, loadable by AutoModel) and
    out/model.safetensors (all weights, for `load_state_dict(strict=True)`). With `tokenizer`
    (a local tokenizer folder) out/text/ holds it too, for AutoTokenizer."""
    out = Path(out_dir)
    # Read and checked first, so a tokenizer that does not fit leaves no half-written export.
    tok = None if tokenizer is None else fitting_tokenizer(tokenizer, model)
    paths = {m: getattr(model, m).save_hf(out / m) for m in MODALITIES}
    if tok is not None:
        tok.save_pretrained(paths["text"])
        if (Path(tokenizer) / SPM_FILE).is_file():
            shutil.copyfile(Path(tokenizer) / SPM_FILE, paths["text"] / SPM_FILE)
        paths["tokenizer"] = paths["text"]
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    paths["model"] = out / "model.safetensors"
    return paths


def fitting_tokenizer(source: str | Path, model: AVTModel) -> PreTrainedTokenizerBase:
    """The tokenizer in `source`, refused unless the text tower embeds every one of its ids.

    Read with the tower's own config, so a bare hub DeBERTa-v2 tokenizer (spm.model and a
    tokenizer_config.json naming no class) gets the tower's tokenizer class; saved again, its
    tokenizer_config.json names that class and tokenizer.json holds it whole, so loading the
    export needs neither a guess nor sentencepiece.
    """
    if not Path(source).is_dir():
        raise TokenizerExportError(f"tokenizer: {source} is not a folder")
    tok = AutoTokenizer.from_pretrained(source, config=model.text.hf.config, local_files_only=True)
    rows = model.text.vocab_size
    if len(tok) > rows:
        raise TokenizerExportError(
            f"tokenizer: {source} has {len(tok)} tokens but the exported text tower embeds only "
            f"{rows}: not the tokenizer this checkpoint was trained with"
        )
    return tok
