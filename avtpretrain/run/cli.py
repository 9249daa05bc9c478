"""Entry points as functions of argv: parse, check the recipe, then hand over to a run."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from avtpretrain.config.cli import add_config_args, config_from_args
from avtpretrain.config.finetune import FinetuneConfig
from avtpretrain.run.inputs import (
    InputError,
    check_finetune_inputs,
    check_inference_inputs,
    check_pretrain_inputs,
)

# The seed's familiar options: each is a recipe field, settable from the command line.
SEED_OPTIONS = {
    "output_dir": ("run.output_dir", str),
    "max_train_samples": ("run.max_train_samples", int),
    "max_steps": ("run.max_steps", int),
    "num_train_epochs": ("run.num_train_epochs", float),
    "learning_rate": ("optim.learning_rate", float),
    "warmup_ratio": ("optim.warmup_ratio", float),
    "lr_scheduler_type": ("optim.lr_scheduler_type", str),
    "logging_steps": ("run.logging_steps", int),
    "save_steps": ("run.save_steps", int),
    "save_total_limit": ("run.save_total_limit", int),
    "eval_steps": ("run.eval_steps", int),
    "seed": ("run.seed", int),
    "resume_from_checkpoint": ("run.resume_from_checkpoint", str),
}


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    add_config_args(p)
    # Our own flag, in the Hugging Face convention (DeepSpeed's helper would make it a boolean).
    p.add_argument("--deepspeed", required=True, metavar="JSON", help="DeepSpeed config file")
    p.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)  # the launcher's
    p.add_argument(
        "--trust_checkpoint",
        dest="overrides",
        action="append_const",
        const="run.trust_checkpoint=true",
        help="load checkpoint files that hold more than weights (a pickle can run code); "
        "only for files whose origin you trust",
    )
    return p


def _training_options(p: argparse.ArgumentParser) -> None:
    for name, (_, kind) in SEED_OPTIONS.items():
        p.add_argument(f"--{name}", type=kind, default=None, help=argparse.SUPPRESS)
    p.add_argument("--overwrite_output_dir", action="store_true", help="start fresh in output_dir")


def _as_overrides(args: argparse.Namespace) -> None:
    for name, (key, _) in SEED_OPTIONS.items():
        value = getattr(args, name)
        if value is not None:
            args.overrides.append(f"{key}={value}")
    if args.overwrite_output_dir:
        args.overrides.append("run.overwrite_output_dir=true")


def parse_args(
    argv: list[str] | None, prog: str
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    p = _parser(prog, "Pretrain with DeepSpeed.")
    _training_options(p)
    args = p.parse_args(argv)
    _as_overrides(args)
    return p, args


def pretrain(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv, "pretrain.py")
    cfg = config_from_args(parser, args)  # fails fast, before any heavy import
    _check_inputs(parser, lambda: check_pretrain_inputs(cfg, args.deepspeed))
    from avtpretrain.run.pretrain import run_pretraining

    return _input_errors_exit(parser, lambda: run_pretraining(cfg, args.deepspeed))


def _downstream_config(parser, args, kind: str) -> FinetuneConfig:
    cfg = config_from_args(parser, args, FinetuneConfig)
    if cfg.downstream.task != kind:
        other = "finetune_qa.py" if kind == "retrieval" else "finetune_retrieval.py"
        parser.exit(
            2,
            f"{parser.prog}: {args.config} is a {cfg.downstream.task} recipe "
            f"(downstream.task); run it with {other}\n",
        )
    return cfg


def finetune(kind: str, argv: list[str] | None = None) -> int:
    """launch/finetune_{retrieval,qa}.py: finetune from --init_from, then evaluate val/test."""
    prog = f"finetune_{kind}.py"
    p = _parser(prog, f"Finetune for {kind} with DeepSpeed, then evaluate.")
    _training_options(p)
    p.add_argument("--init_from", help="pretraining run dir, checkpoint-N or model.safetensors")
    args = p.parse_args(argv)
    _as_overrides(args)
    if args.init_from:
        args.overrides.append(f"downstream.init_from={args.init_from}")
    cfg = _downstream_config(p, args, kind)
    if not cfg.downstream.train_ann:
        p.exit(
            2, f"{prog}: downstream.train_ann is not set in {args.config}: nothing to train on\n"
        )
    _check_inputs(p, lambda: check_finetune_inputs(cfg, args.deepspeed))
    from avtpretrain.run.finetune import run_finetune

    return _input_errors_exit(p, lambda: run_finetune(cfg, args.deepspeed))


def inference(kind: str, argv: list[str] | None = None) -> int:
    """launch/inference_{retrieval,qa}.py: evaluate a finetuned checkpoint, no training."""
    prog = f"inference_{kind}.py"
    p = _parser(prog, f"Evaluate a finetuned {kind} checkpoint; writes results.json per split.")
    p.add_argument(
        "--checkpoint",
        help="run dir, checkpoint-N or model.safetensors (default: the recipe's run.output_dir)",
    )
    p.add_argument(
        "--split",
        action="append",
        choices=("val", "test"),
        help="split to evaluate (repeatable; default: val and test if set)",
    )
    p.add_argument(
        "--output_dir",
        help="results go to OUTPUT_DIR/eval/<split>/ (default: the recipe's run.output_dir)",
    )
    args = p.parse_args(argv)
    cfg = _downstream_config(p, args, kind)
    ds = cfg.downstream
    splits = args.split or [n for n, a in (("val", ds.val_ann), ("test", ds.test_ann)) if a]
    missing = [n for n in splits if not getattr(ds, f"{n}_ann")]
    if not splits or missing:
        p.exit(2, f"{prog}: downstream.{(missing or ['val'])[0]}_ann is not set in {args.config}\n")
    _check_inputs(p, lambda: check_inference_inputs(cfg, args.deepspeed, splits, args.checkpoint))
    from avtpretrain.run.finetune import run_inference

    return _input_errors_exit(
        p, lambda: run_inference(cfg, args.deepspeed, args.checkpoint, splits, args.output_dir)
    )


def _check_inputs(parser: argparse.ArgumentParser, check: Callable[[], None]) -> None:
    """A missing input: one line and exit 2, before heavy imports and before output_dir."""
    try:
        check()
    except InputError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")


def _input_errors_exit(parser: argparse.ArgumentParser, run: Callable[[], int]) -> int:
    """Bad annotations, missing videos, unusable or untrusted weights, a DeepSpeed JSON that
    DeepSpeed's own config classes refuse, an output folder another run holds: one line and
    exit 2, no traceback. A save that failed on some rank, work rank 0 could not do, data with
    nothing readable left: one line and exit 1."""
    from avtpretrain.engine.checkpoint import CheckpointSaveError
    from avtpretrain.engine.collective import RankFailedError
    from avtpretrain.engine.dsconfig import DSConfigError
    from avtpretrain.engine.trust import UntrustedCheckpointError
    from avtpretrain.engine.weights import WeightsError
    from avtpretrain.lock import FolderBusyError
    from avtpretrain.models.convert.folder import PretrainedError
    from avtpretrain.reader.annotations import AnnotationError
    from avtpretrain.reader.counters import StreamStarvedError
    from avtpretrain.reader.tokenizer import TokenizerMismatchError

    refused = (AnnotationError, WeightsError, DSConfigError, UntrustedCheckpointError)
    refused += (PretrainedError, TokenizerMismatchError)
    failed = (CheckpointSaveError, RankFailedError, StreamStarvedError)
    try:
        return run()
    except (*refused, FolderBusyError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    except failed as err:  # raised on every rank alike: the run cannot go on
        parser.exit(1, f"{parser.prog}: error: {err}\n")
