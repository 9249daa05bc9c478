"""The learning-rate factor at chosen steps, for every schedule type."""

import pytest
import torch

from avtpretrain.config import OptimConfig
from avtpretrain.engine.optim import build_scheduler, lr_factor, param_groups

TOTAL = 100  # steps; warmup_ratio 0.1 → 10 warmup steps


@pytest.mark.parametrize("kind", ["cosine", "linear", "constant"])
def test_warmup_is_linear_up_to_the_full_rate(kind: str) -> None:
    cfg = OptimConfig(warmup_ratio=0.1, lr_scheduler_type=kind)
    assert [lr_factor(s, TOTAL, cfg) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])


@pytest.mark.parametrize(
    ("kind", "middle", "last"),
    [("cosine", 0.5, 0.0), ("linear", 0.5, 0.0), ("constant", 1.0, 1.0)],
)
def test_decay_after_warmup(kind: str, middle: float, last: float) -> None:
    cfg = OptimConfig(warmup_ratio=0.1, lr_scheduler_type=kind)
    assert lr_factor(10, TOTAL, cfg) == pytest.approx(1.0)
    assert lr_factor(55, TOTAL, cfg) == pytest.approx(middle)  # half way through the decay
    assert lr_factor(TOTAL, TOTAL, cfg) == pytest.approx(last)


def test_cosine_quarter_points_and_floor() -> None:
    cfg = OptimConfig(warmup_ratio=0.0, lr_scheduler_type="cosine", min_lr_ratio=0.1)
    # 0.1 + 0.9 · (1 + cos(π/4)) / 2 at a quarter of the way
    assert lr_factor(25, TOTAL, cfg) == pytest.approx(0.1 + 0.9 * 0.8535534, rel=1e-6)
    assert lr_factor(TOTAL, TOTAL, cfg) == pytest.approx(0.1)


def test_scheduler_applies_the_factor_per_tower_group() -> None:
    task = torch.nn.ModuleDict({"model": torch.nn.ModuleDict({"text": torch.nn.Linear(2, 2)})})
    cfg = OptimConfig(learning_rate=1e-3, warmup_ratio=0.1, lr_scale={"text": 0.5})
    optimizer = torch.optim.SGD(param_groups(task, cfg))
    scheduler = build_scheduler(optimizer, TOTAL, cfg)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs == pytest.approx({"text/decay": 0.5e-3 * 0.5, "text/no_decay": 0.5e-3 * 0.5})
