"""Entry points as functions of argv: parse, check the recipe, then hand over to a run."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from avtpretrain.config.cli import add_config_args, config_from_args
from avtpretrain.config.files import find_data_file
from avtpretrain.config.finetune import FinetuneConfig
from avtpretrain.engine.dsauto import resolved_path
from avtpretrain.engine.dsconfig import DSConfigError
from avtpretrain.run.flags import add_flags, ds_flags, recipe_overrides
from avtpretrain.run.inputs import (
    InputError,
    check_finetune_inputs,
    check_inference_inputs,
    check_pretrain_inputs,
)

DEFAULT_PRETRAIN_RECIPE = "pretrain/base.yaml"
DEFAULT_DS = find_data_file("ds_configs/auto.json")


def _parser(prog: str, description: str, recipe: str | None = None) -> argparse.ArgumentParser:
    # allow_abbrev=False: argparse would otherwise read --max_step as --max_steps.
    p = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    add_config_args(p, recipe)
    # Our own flag, in the Hugging Face convention (DeepSpeed's helper would make it a boolean).
    p.add_argument(
        "--deepspeed",
        default=str(DEFAULT_DS),
        metavar="JSON",
        help="DeepSpeed config file (default: ds_configs/auto.json: ZeRO-2, and micro-batch, "
        "accumulation, clipping and precision from the flags below with the Trainer's defaults)",
    )
    # The launchers' own: torch.distributed.launch passes --local-rank=N, older ones
    # --local_rank=N; the rank is read from the environment (LOCAL_RANK) either way.
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
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
    add_flags(p)
    p.add_argument("--overwrite_output_dir", action="store_true", help="start fresh in output_dir")


def _as_overrides(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    try:
        args.overrides += recipe_overrides(args)
    except ValueError as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    if args.overwrite_output_dir:
        args.overrides.append("run.overwrite_output_dir=true")


def _resolve_ds(p: argparse.ArgumentParser, args: argparse.Namespace, hidden_size: int) -> None:
    """Flags that set DeepSpeed values, and "auto" values: a resolved copy of the JSON."""
    try:
        # Named as in the docs (ds_configs/zero2.json), found from any working directory.
        shipped = str(find_data_file(args.deepspeed))
        args.deepspeed = resolved_path(shipped, ds_flags(args), hidden_size)
    except DSConfigError as err:
        p.exit(2, f"{p.prog}: error: --deepspeed: {err}\n")


def parse_args(
    argv: list[str] | None, prog: str
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    p = _parser(prog, "Pretrain with DeepSpeed.", DEFAULT_PRETRAIN_RECIPE)
    _training_options(p)
    args = p.parse_args(argv)
    _as_overrides(p, args)
    return p, args


def pretrain(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv, "pretrain.py")
    cfg = config_from_args(parser, args)  # fails fast, before any heavy import
    _resolve_ds(parser, args, cfg.model.fusion.hidden_size)
    _check_inputs(parser, lambda: check_pretrain_inputs(cfg, args.deepspeed))
    from avtpretrain.run.pretrain import run_pretraining

    return _input_errors_exit(parser, lambda: run_pretraining(cfg, args.deepspeed))


def _downstream_config(parser, args, kind: str) -> FinetuneConfig:
    cfg = config_from_args(parser, args, FinetuneConfig)
    # One runner for every retrieval: captions against videos or against sounds.
    if cfg.downstream.task.removeprefix("audio_") != kind:
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
    _as_overrides(p, args)
    if args.init_from:
        args.overrides.append(f"downstream.init_from={args.init_from}")
    cfg = _downstream_config(p, args, kind)
    _resolve_ds(p, args, cfg.model.fusion.hidden_size)
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
    _resolve_ds(p, args, cfg.model.fusion.hidden_size)
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


def finetune_retrieval(argv: list[str] | None = None) -> int:
    return finetune("retrieval", argv)


def finetune_qa(argv: list[str] | None = None) -> int:
    return finetune("qa", argv)


def inference_retrieval(argv: list[str] | None = None) -> int:
    return inference("retrieval", argv)


def inference_qa(argv: list[str] | None = None) -> int:
    return inference("qa", argv)
