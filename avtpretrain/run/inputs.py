"""Every file and folder a run reads, checked as soon as the recipe has loaded.

A missing tokenizer, shard folder or annotation file used to surface as a long traceback after
deepspeed had started (20-160 s in) and config.yaml had been written. These checks need only the
standard library, the DeepSpeed JSON's static check and the reader's shard-spec rules (no heavy
import), so a run that cannot start says why in one line before torch or deepspeed is imported
and before output_dir is touched. They check that inputs exist and have the right shape on disk;
their contents are still read, and checked, by the code that uses them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from avtpretrain.config import DataConfig, FinetuneConfig, ModelConfig, RecipeConfig, RunConfig
from avtpretrain.config.model import MODALITIES
from avtpretrain.engine.dsconfig import DSConfigError, check_ds_config
from avtpretrain.engine.folders import resolve_resume
from avtpretrain.reader.shards import resolve_shards

# The `model_type` a pretrained folder of each family declares in its config.json; the fusion
# starts from a ViT.
MODEL_TYPES = {
    "bert": "bert",
    "roberta": "roberta",
    "deberta-v2": "deberta-v2",
    "vit-mae-audio": "vit_mae",
    "videomae": "videomae",
    "vit": "vit",
}
# `org/name` as the hub writes it: what a user copies from a model card.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

TOKENIZER = (
    "a tokenizer folder; make one with tools/train_tokenizer.py --shards <train shards> "
    "--out <folder>"
)
WEIGHTS = "model.safetensors, an export folder, a checkpoint-N folder or a run folder"
SPLITS = ("train", "val", "test")


class InputError(ValueError):
    """An input a run needs is missing or unusable; one line naming the field and the path."""


def _missing(field: str, path: str | Path, kind: str, expected: str) -> InputError:
    state = f"is not a {kind}" if Path(path).exists() else "does not exist"
    return InputError(f"{field}: {path} {state} (expected {expected})")


def _folder(field: str, path: str | Path, expected: str) -> None:
    if not Path(path).is_dir():
        raise _missing(field, path, "folder", expected)


def _file(field: str, path: str | Path, expected: str) -> None:
    if not Path(path).is_file():
        raise _missing(field, path, "file", expected)


def _shards(field: str, specs: list[str]) -> None:
    """The reader's own rules (folder + sizes.json naming files in it, brace pattern, .tar)."""
    try:
        resolve_shards(specs)
    except ValueError as err:
        raise InputError(f"{field}: {err}") from None


def _ds_json(path: str) -> None:
    try:
        check_ds_config(path)
    except DSConfigError as err:
        raise InputError(f"--deepspeed: {err}") from None


def _run_options(run: RunConfig, ds_path: str) -> None:
    if "wandb" in run.report_to and importlib.util.find_spec("wandb") is None:
        raise InputError(
            "run.report_to: wandb is not installed; `pip install avtpretrain[wandb]` (and "
            "`wandb login`), "
            "or report to tensorboard only"
        )
    _compile(run, ds_path)


def _compile(run: RunConfig, ds_path: str) -> None:
    stage = (check_ds_config(ds_path).get("zero_optimization") or {}).get("stage", 0)
    if run.compile and stage == 3:
        raise InputError(
            f"run.compile: not with ZeRO-3 ({ds_path}), which gathers parameters inside the "
            "compiled blocks; use a stage 0-2 config or run.compile: false"
        )


def _common(data: DataConfig, model: ModelConfig, ds_path: str) -> None:
    """What every run reads: the DeepSpeed JSON, the tokenizer, pretrained tower folders."""
    _ds_json(ds_path)
    if not data.tokenizer:
        raise InputError(f"data.tokenizer: not set (expected {TOKENIZER})")
    _folder("data.tokenizer", data.tokenizer, TOKENIZER)
    for tower in (*MODALITIES, "fusion"):
        part = getattr(model, tower)
        if getattr(part, "pretrained", None):
            _pretrained(
                f"model.{tower}", part.pretrained, MODEL_TYPES[getattr(part, "family", "vit")]
            )


def shuffle_memory_mb(data: DataConfig) -> tuple[int, int]:
    """(MB the shuffle buffers of this node's ranks and workers may hold, this node's MB)."""
    ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    held = data.shuffle_buffer_mb * max(data.num_workers, 1) * ranks
    return held, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def _shuffle_memory(data: DataConfig) -> None:
    held, physical = shuffle_memory_mb(data)
    if held > physical // 2:
        raise InputError(
            f"data.shuffle_buffer_mb: {data.shuffle_buffer_mb} MB x {max(data.num_workers, 1)} "
            f"workers x the ranks on this node = {held} MB of shuffle buffers, more than half of "
            f"this machine's {physical} MB; lower data.shuffle_buffer_mb or data.num_workers"
        )


def _pretrained(field: str, folder: str, model_type: str) -> None:
    """A local Hugging Face folder whose config.json declares `model_type`."""
    where = Path(folder)
    if not where.exists() and _HUB_ID.fullmatch(folder):
        raise InputError(
            f"{field}.pretrained: {folder} is a hub id, and nothing is downloaded at run time; "
            f"on a machine with internet run `huggingface-cli download {folder} --local-dir "
            f"pretrained/{folder}` and set {field}.pretrained: pretrained/{folder}"
        )
    _folder(f"{field}.pretrained", folder, "a local Hugging Face model folder")
    config = where / "config.json"
    if not config.is_file():
        raise InputError(
            f"{field}.pretrained: {folder} has no config.json "
            "(expected a local Hugging Face model folder)"
        )
    try:
        declared = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as err:
        raise InputError(f"{field}.pretrained: {config} is not a JSON object ({err})") from None
    if declared != model_type:
        raise InputError(
            f"{field}.pretrained: {config} says model_type {declared!r}; this tower's family "
            f"needs {model_type!r}"
        )


def _resume(run: RunConfig) -> None:
    if run.resume_from_checkpoint:
        path = Path(run.resume_from_checkpoint)
        folder = path.parent if path.name == "latest" else path
        _folder("run.resume_from_checkpoint", folder, "a run folder or a checkpoint-N folder")
        try:
            resolve_resume(path)
        except FileNotFoundError as err:
            raise InputError(f"run.{str(err).removeprefix('--')}") from None


def _init_from(path: str) -> None:
    """The shapes engine/weights.py accepts (which also refuses an incomplete checkpoint)."""
    where = Path(path)
    if not where.exists():
        raise InputError(f"downstream.init_from: {path} does not exist (expected {WEIGHTS})")
    if where.is_file() and where.suffix != ".safetensors":
        raise InputError(f"downstream.init_from: {path} is not a .safetensors file")
    exported = (where / "model.safetensors").is_file()
    checkpoint = where.name.startswith("checkpoint-") or any(where.glob("checkpoint-*"))
    if where.is_dir() and not (exported or checkpoint):
        raise InputError(
            f"downstream.init_from: {path} holds neither model.safetensors nor a checkpoint-N "
            "folder"
        )


def _downstream(cfg: FinetuneConfig, ds_path: str, splits: Iterable[str]) -> None:
    _common(cfg.data, cfg.model, ds_path)
    ds = cfg.downstream
    for name in splits:
        path = getattr(ds, f"{name}_ann")
        if path:
            _file(f"downstream.{name}_ann", path, "an annotation file")
    if ds.task == "qa" and ds.ans2label:
        expected = "the answer vocabulary, train_ans2label.json"
        _file("downstream.ans2label", ds.ans2label, expected)
    if ds.video_root:
        _folder("downstream.video_root", ds.video_root, "a folder of videos")
    elif ds.audio_root:
        _folder("downstream.audio_root", ds.audio_root, "a folder of audio files")
    else:
        _shards("downstream.video_shards", ds.video_shards)


def check_pretrain_inputs(cfg: RecipeConfig, ds_path: str) -> None:
    """Raise `InputError` for the first input of a pretraining run that is missing."""
    _common(cfg.data, cfg.model, ds_path)
    _run_options(cfg.run, ds_path)
    _shuffle_memory(cfg.data)
    _shards("data.train_shards", cfg.data.train_shards)
    if cfg.data.val_shards:
        _shards("data.val_shards", cfg.data.val_shards)
    _resume(cfg.run)


def check_finetune_inputs(cfg: FinetuneConfig, ds_path: str) -> None:
    """Raise `InputError` for the first input of a finetuning run that is missing."""
    _downstream(cfg, ds_path, SPLITS)
    _run_options(cfg.run, ds_path)
    _resume(cfg.run)
    # A resumed run restores its own weights; init_from is not read then.
    if cfg.downstream.init_from and not cfg.run.resume_from_checkpoint:
        _init_from(cfg.downstream.init_from)


def check_inference_inputs(
    cfg: FinetuneConfig, ds_path: str, splits: Iterable[str], checkpoint: str | None
) -> None:
    """Raise `InputError` for the first missing input of evaluating `splits` of a checkpoint."""
    _downstream(cfg, ds_path, splits)
    field = "--checkpoint" if checkpoint else "run.output_dir"
    path = Path(checkpoint or cfg.run.output_dir)
    if not path.exists():
        raise InputError(
            f"{field}: {path} does not exist (expected the finetuned run folder, "
            "a checkpoint-N folder or model.safetensors)"
        )
