"""Model FLOPs of a pretraining step, per part of the model and per objective.

Counted with torch's FlopCounterMode on a real forward (matmuls, convolutions and attention; the
meta device cannot run the data-dependent checks inside transformers' towers). Forward + backward
is taken as 3x the forward, the usual "model FLOPs": recomputation by activation checkpointing is
not model work and is not counted.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from avtpretrain.contract.batch import Batch
from avtpretrain.tasks.pretrain import PretrainTask

# Submodule -> the part it is reported under; whatever else runs (projections, the matching
# head, losses) is "other".
PARTS = {
    "model.text": "text",
    "model.video": "video",
    "model.audio": "audio",
    "model.fusion": "fusion",
    "mlm_head": "mlm_head",
    "video_decoder": "mae_decoders",
    "audio_decoder": "mae_decoders",
}
BACKWARD_FACTOR = 3


def forward_flops(task: torch.nn.Module, batch: Batch) -> dict[str, int]:
    """FLOPs of one forward of `task` on `batch`: per part, plus the "total"."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        task(batch)
    counts = counter.get_flop_counts()
    root = type(task).__name__
    parts: dict[str, int] = dict.fromkeys(PARTS.values(), 0)
    for name, part in PARTS.items():
        parts[part] += sum(counts.get(f"{root}.{name}", {}).values())
    total = sum(counts["Global"].values())
    return parts | {"other": total - sum(parts.values()), "total": total}


def step_flops_per_sample(task: PretrainTask, batch: Batch) -> dict[str, dict[str, float]]:
    """Forward + backward FLOPs per sample, {objective or "all": {part: flops}}: each objective
    counted alone (with the tower passes it needs), then every active objective together."""
    n = len(batch["keys"])
    active = dict(task.weights)
    out: dict[str, dict[str, float]] = {}
    try:
        for name, weight in [*active.items(), ("all", None)]:
            task.weights = active if weight is None else {name: weight}
            flops = forward_flops(task, batch)
            out[name] = {k: BACKWARD_FACTOR * v / n for k, v in flops.items()}
    finally:
        task.weights = active
    return out


def mlm_head_all_positions(task: PretrainTask, batch: Batch) -> float:
    """Forward + backward FLOPs per sample of the MLM vocabulary head run on every text position
    (as it was before it ran on masked positions only): for before/after comparisons."""
    ids = batch["input_ids"]
    hidden = torch.zeros(*ids.shape, task.mlm_head.transform[0].in_features, dtype=torch.float32)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        task.mlm_head(hidden)
    return BACKWARD_FACTOR * counter.get_total_flops() / len(ids)
