"""`--init_from`: start a task from a pretraining (or finetuning) output, reporting the key diff.

Accepted: an exported `model.safetensors` (or the export folder holding it), a DeepSpeed
`checkpoint-N` folder of any ZeRO stage, or a run folder (its latest complete checkpoint).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from avtpretrain.engine.export import consolidated_state
from avtpretrain.engine.folders import is_checkpoint_name, is_complete, latest_checkpoint

EXPORTED = "model.safetensors"


class WeightsError(ValueError):
    """Weights that cannot start this task: not found, or shaped for another model."""


@dataclass(frozen=True)
class LoadReport:
    source: Path
    loaded: int
    missing: list[str]  # in the task, not in the source: left as initialised
    unexpected: list[str]  # in the source, not in the task: ignored

    def lines(self) -> list[str]:
        out = [f"init_from {self.source}: {self.loaded} tensors loaded"]
        if self.missing:
            out.append(f"  missing, freshly initialised: {_groups(self.missing)}")
        if self.unexpected:
            out.append(f"  unexpected, ignored: {_groups(self.unexpected)}")
        return out


def _groups(names: list[str]) -> str:
    """`qa_head.mlp.0.weight, qa_head.mlp.0.bias` → `qa_head.mlp (2)`: short and complete."""
    counts = Counter(".".join(n.split(".")[:2]) for n in names)
    return ", ".join(f"{k} ({v})" for k, v in sorted(counts.items()))


def read_weights(path: str | Path, trust: bool = False) -> tuple[Path, dict[str, torch.Tensor]]:
    """(resolved source, task-level state dict: model weights under `model.`). Safetensors never
    run code; a DeepSpeed checkpoint is vetted unless `trust`."""
    path = Path(path)
    if path.is_dir() and (path / EXPORTED).is_file():
        path = path / EXPORTED
    if path.is_file() and path.suffix == ".safetensors":
        return path, {f"model.{k}": v for k, v in load_file(str(path)).items()}
    if path.is_dir() and not is_checkpoint_name(path.name):
        found = latest_checkpoint(path)
        if found is None:
            raise WeightsError(
                f"init_from: {path} holds neither {EXPORTED} nor a complete checkpoint-N"
            )
        path = found
    if not path.is_dir():
        raise WeightsError(
            f"init_from: {path} is not a .safetensors file, an export folder or a checkpoint"
        )
    if not is_complete(path):
        raise WeightsError(f"init_from: {path} is incomplete (a save that did not finish)")
    state, _ = consolidated_state(path, trust)
    return path, state


def load_into(task: nn.Module, path: str | Path, trust: bool = False) -> LoadReport:
    """Copy every matching tensor into `task`; a shape mismatch is an error naming the key."""
    source, state = read_weights(path, trust)
    own = task.state_dict()
    for name, value in state.items():
        if name in own and own[name].shape != value.shape:
            hint = " (use the tokenizer it was trained with)" if "word_embeddings" in name else ""
            raise WeightsError(
                f"init_from {source}: {name}: shape {list(value.shape)} in the checkpoint, "
                f"{list(own[name].shape)} in this model{hint}"
            )
    result = task.load_state_dict(state, strict=False)
    loaded = len(set(state) & set(own))
    return LoadReport(source, loaded, sorted(result.missing_keys), sorted(result.unexpected_keys))
