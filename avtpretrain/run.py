"""Composition roots: each entry point is a function of argv that wires config → parts → loop."""

from __future__ import annotations

import argparse
import sys

from avtpretrain.config.cli import add_config_args, config_from_args

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


def parse_args(
    argv: list[str] | None, prog: str
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    p = argparse.ArgumentParser(prog=prog, description="Pretrain with DeepSpeed.")
    add_config_args(p)
    # Our own flag, in the Hugging Face convention (DeepSpeed's helper would make it a boolean).
    p.add_argument("--deepspeed", required=True, metavar="JSON", help="DeepSpeed config file")
    p.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)  # the launcher's
    for name, (_, kind) in SEED_OPTIONS.items():
        p.add_argument(f"--{name}", type=kind, default=None, help=argparse.SUPPRESS)
    p.add_argument("--overwrite_output_dir", action="store_true", help="start fresh in output_dir")
    args = p.parse_args(argv)
    for name, (key, _) in SEED_OPTIONS.items():
        value = getattr(args, name)
        if value is not None:
            args.overrides.append(f"{key}={value}")
    if args.overwrite_output_dir:
        args.overrides.append("run.overwrite_output_dir=true")
    return p, args


def pretrain(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv, "pretrain.py")
    cfg = config_from_args(parser, args)  # fails fast, before any heavy import
    from avtpretrain.engine.pretrain import run_pretraining

    return run_pretraining(cfg, args.deepspeed)


if __name__ == "__main__":
    sys.exit(pretrain())
