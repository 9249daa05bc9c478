"""Composition roots: what a pretraining, finetuning or inference run builds and wires.

The only package that knows every layer. Entry points are functions of argv (`cli.py`); heavy
imports (torch, deepspeed, the data stack) happen after the command line has been checked.
"""

from avtpretrain.run.cli import finetune, inference, pretrain

__all__ = ["finetune", "inference", "pretrain"]
