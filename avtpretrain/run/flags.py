"""The command-line flags users know from the Hugging Face Trainer and the original recipe, each
mapped onto its one home: a recipe field (turned into a `--set` override) or a DeepSpeed JSON
value (avtpretrain.engine.dsauto). Defaults come from the recipe and the JSON; --help says which.
"""

from __future__ import annotations

import argparse
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avtpretrain.config import OptimConfig, RunConfig
from avtpretrain.engine.dsauto import FLAG_KEYS

TOWERS = ("text", "audio", "video", "fusion")


def as_bool(text: str) -> bool:
    """`--fp16`, `--fp16 True`, `--fp16 false`: the Trainer's spellings of a boolean."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class Flag:
    name: str
    key: str  # the recipe field it sets
    kind: Callable[[str], Any]
    help: str
    choices: tuple[str, ...] | None = None


def _recipe(name: str, key: str, kind: Callable[[str], Any], what: str, **kw: Any) -> Flag:
    return Flag(name, key, kind, f"{what} (default: the recipe's {key})", **kw)


def _choices(config: type, name: str) -> tuple[str, ...]:
    """The values a Literal recipe field allows: the recipe's type is their one home."""
    return typing.get_args(typing.get_type_hints(config)[name])


RECIPE_FLAGS = (
    _recipe("output_dir", "run.output_dir", str, "where checkpoints, logs and results go"),
    _recipe(
        "max_train_samples",
        "run.max_train_samples",
        int,
        "train on the first N samples of each epoch's order (a cap; the epoch is shorter)",
    ),
    _recipe(
        "max_eval_samples",
        "run.max_eval_samples",
        int,
        "evaluate on the first N samples / queries / questions of each split",
    ),
    _recipe("max_steps", "run.max_steps", int, "optimizer steps; overrides num_train_epochs"),
    _recipe("num_train_epochs", "run.num_train_epochs", float, "epochs (fractions allowed)"),
    _recipe("learning_rate", "optim.learning_rate", float, "peak learning rate"),
    _recipe("weight_decay", "optim.weight_decay", float, "AdamW weight decay"),
    _recipe("warmup_ratio", "optim.warmup_ratio", float, "warmup as a fraction of the steps"),
    _recipe("warmup_steps", "optim.warmup_steps", int, "warmup steps; overrides warmup_ratio"),
    _recipe(
        "lr_scheduler_type",
        "optim.lr_scheduler_type",
        str,
        "transformers' scheduler names and meanings",
        choices=_choices(OptimConfig, "lr_scheduler_type"),
    ),
    _recipe(
        "logging_strategy",
        "run.logging_strategy",
        str,
        "when to log",
        choices=_choices(RunConfig, "logging_strategy"),
    ),
    _recipe("logging_steps", "run.logging_steps", int, "log every N steps"),
    _recipe("logging_dir", "run.logging_dir", str, "TensorBoard folder (<output_dir>/tensorboard)"),
    _recipe(
        "save_strategy",
        "run.save_strategy",
        str,
        "when to save a checkpoint",
        choices=_choices(RunConfig, "save_strategy"),
    ),
    _recipe("save_steps", "run.save_steps", int, "save every N steps"),
    _recipe("save_total_limit", "run.save_total_limit", int, "keep the newest N checkpoints"),
    _recipe("eval_steps", "run.eval_steps", int, "evaluate every N steps (0: at the end only)"),
    _recipe(
        "per_device_eval_batch_size",
        "run.eval_batch_size",
        int,
        "evaluation batch per rank (unset: the training micro-batch)",
    ),
    _recipe("seed", "run.seed", int, "the seed of data order, masks and initialisation"),
    _recipe(
        "resume_from_checkpoint",
        "run.resume_from_checkpoint",
        str,
        "a checkpoint-N folder (default: the newest complete one in output_dir)",
    ),
    _recipe("tokenizer_name", "data.tokenizer", str, "a local tokenizer folder"),
    *(
        _recipe(
            f"{t}_model_name_or_path",
            f"model.{t}.pretrained",
            str,
            f"a local pretrained {t} folder (hub ids: download first, see docs/models.md)",
        )
        for t in TOWERS
    ),
)
DS_FLAGS = {
    "per_device_train_batch_size": (int, "training micro-batch per rank"),
    "gradient_accumulation_steps": (int, "micro-batches per optimizer step"),
    "max_grad_norm": (float, "gradient clipping norm"),
    "fp16": (as_bool, "fp16 mixed precision (--fp16 or --fp16 True)"),
    "bf16": (as_bool, "bf16 mixed precision (--bf16 or --bf16 True)"),
}


def add_flags(p: argparse.ArgumentParser) -> None:
    """The Trainer-style flags, grouped, with where each one's default comes from."""
    recipe = p.add_argument_group("recipe fields (each is also --set KEY=VALUE)")
    for f in RECIPE_FLAGS:
        recipe.add_argument(f"--{f.name}", type=f.kind, choices=f.choices, help=f.help)
    recipe.add_argument(
        "--report_to",
        nargs="+",
        choices=("tensorboard", "wandb", "none", "all"),
        help="where scalars go (default: the recipe's run.report_to, tensorboard)",
    )
    for t in TOWERS:
        recipe.add_argument(
            f"--{t}_config_name",
            metavar="FOLDER",
            help=f"a Hugging Face config.json (or its folder) giving the {t} tower's shape",
        )
    ds = p.add_argument_group("DeepSpeed JSON values (a flag overrides the JSON for this run)")
    for name, (kind, what) in DS_FLAGS.items():
        key = FLAG_KEYS[name][0]
        extra = {"nargs": "?", "const": True} if kind is as_bool else {}
        ds.add_argument(f"--{name}", type=kind, help=f"{what} (default: the JSON's {key})", **extra)


def recipe_overrides(args: argparse.Namespace) -> list[str]:
    """`--set` overrides for the recipe flags that were given."""
    out = []
    for f in RECIPE_FLAGS:
        value = getattr(args, f.name, None)
        if value is not None:
            out.append(f"{f.key}={value}")
    if getattr(args, "report_to", None):
        targets = ["tensorboard", "wandb"] if "all" in args.report_to else args.report_to
        targets = [t for t in targets if t != "none"]
        out.append(f"run.report_to={json.dumps(targets)}")
    for t in TOWERS:
        path = getattr(args, f"{t}_config_name", None)
        if path:
            out += config_name_overrides(t, path)
    return out


def ds_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {n: getattr(args, n) for n in DS_FLAGS if getattr(args, n, None) is not None}


# Hugging Face config.json key -> our tower field.
_SHAPE = {
    "hidden_size": "hidden_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "intermediate_size": "intermediate_size",
}


def config_name_overrides(tower: str, path: str) -> list[str]:
    """`--{tower}_config_name`: the tower's shape from a local config.json (no weights)."""
    where = Path(path)
    file = where / "config.json" if where.is_dir() else where
    flag = f"--{tower}_config_name"
    if not file.is_file():
        hint = " (a hub id? download it first, see docs/models.md)" if "/" in path else ""
        raise ValueError(f"{flag}: {file} does not exist{hint}")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{flag}: {file} is not a readable config.json ({err})") from None
    found = {ours: config[theirs] for theirs, ours in _SHAPE.items() if theirs in config}
    if not found:
        raise ValueError(f"{flag}: {file} names none of {sorted(_SHAPE)}")
    return [f"model.{tower}.{key}={value}" for key, value in found.items()]
