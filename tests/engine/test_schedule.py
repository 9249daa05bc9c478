"""Learning-rate schedules: transformers' names with transformers' meanings, at chosen steps, and
per-tower rates kept throughout."""

import math

import pytest
import torch

from avtpretrain.config import OptimConfig
from avtpretrain.config.loader import FieldError
from avtpretrain.engine.optim import build_scheduler, param_groups, warmup_steps

TOTAL = 100  # steps; warmup_ratio 0.1 → 10 warmup steps


def factors(cfg: OptimConfig, steps: list[int]) -> list[float]:
    """The lr (as a fraction of the peak) after `step` scheduler steps, for each step asked."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = build_scheduler(optimizer, TOTAL, cfg)
    out, at = [], 0
    for step in sorted(steps):
        for _ in range(step - at):
            optimizer.step()
            scheduler.step()
        at = step
        out.append(optimizer.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # warmup from 0 (step 0) to 1 at step 10; then the decay's value at 55 and at the end
        ("linear", [0.0, 0.5, 1.0, 0.5, 0.0]),
        ("cosine", [0.0, 0.5, 1.0, 0.5, 0.0]),
        ("constant_with_warmup", [0.0, 0.5, 1.0, 1.0, 1.0]),
        ("constant", [1.0, 1.0, 1.0, 1.0, 1.0]),  # transformers' constant has no warmup
        ("inverse_sqrt", [0.0, 0.5, 1.0, 1 / math.sqrt(5.5), 1 / math.sqrt(10)]),
    ],
)
def test_each_schedule_means_what_it_means_in_transformers(kind, expected) -> None:
    cfg = OptimConfig(warmup_ratio=0.1, lr_scheduler_type=kind)
    assert factors(cfg, [0, 5, 10, 55, TOTAL]) == pytest.approx(expected, abs=1e-9)


def test_cosine_with_min_lr_floors_at_the_ratio() -> None:
    cfg = OptimConfig(warmup_ratio=0.0, lr_scheduler_type="cosine_with_min_lr", min_lr_ratio=0.1)
    # 0.1 + 0.9 · (1 + cos(π/4)) / 2 at a quarter of the way
    quarter, last = factors(cfg, [25, TOTAL])
    assert quarter == pytest.approx(0.1 + 0.9 * 0.8535534, rel=1e-6)
    assert last == pytest.approx(0.1)


def test_warmup_steps_override_the_ratio_and_a_floor_needs_its_schedule() -> None:
    assert warmup_steps(TOTAL, OptimConfig(warmup_ratio=0.1)) == 10
    assert warmup_steps(TOTAL, OptimConfig(warmup_ratio=0.1, warmup_steps=3)) == 3
    with pytest.raises(FieldError, match="min_lr_ratio: only used by lr_scheduler_type"):
        OptimConfig(lr_scheduler_type="cosine", min_lr_ratio=0.1)


def test_scheduler_applies_the_factor_per_tower_group() -> None:
    task = torch.nn.ModuleDict({"model": torch.nn.ModuleDict({"text": torch.nn.Linear(2, 2)})})
    cfg = OptimConfig(learning_rate=1e-3, warmup_ratio=0.1, lr_scale={"text": 0.5})
    optimizer = torch.optim.SGD(param_groups(task, cfg))
    scheduler = build_scheduler(optimizer, TOTAL, cfg)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs == pytest.approx({"text/decay": 0.5e-3 * 0.5, "text/no_decay": 0.5e-3 * 0.5})
