"""The training log's learning rates: one per tower, and train/lr as the base (heads') rate."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from avtpretrain.config import OptimConfig
from avtpretrain.engine.loop import _engine_scalars
from avtpretrain.engine.optim import param_groups


def fake_engine(groups: list[dict]) -> SimpleNamespace:
    """What `_engine_scalars` reads of a DeepSpeed engine, over the given optimizer groups."""
    optimizer = SimpleNamespace(param_groups=groups)
    return SimpleNamespace(
        optimizer=optimizer,
        get_lr=lambda: [g["lr"] for g in groups],
        get_global_grad_norm=lambda: None,
        fp16_enabled=lambda: False,
    )


def lr_scalars(engine: SimpleNamespace) -> dict[str, float]:
    return {k: v for k, v in _engine_scalars(engine).items() if k.startswith("train/lr")}


def test_one_rate_per_tower_and_the_heads_rate_as_base() -> None:
    # Sorted as param_groups sorts them: a scaled tower comes before the heads.
    groups = [
        {"name": "audio/decay", "lr": 2e-5},
        {"name": "audio/no_decay", "lr": 2e-5},
        {"name": "heads/decay", "lr": 4e-5},
        {"name": "heads/no_decay", "lr": 4e-5},
        {"name": "text/no_decay", "lr": 4e-6},
        {"name": "video/decay", "lr": 1e-5},
    ]
    assert lr_scalars(fake_engine(groups)) == {
        "train/lr": 4e-5,
        "train/lr/audio": 2e-5,
        "train/lr/heads": 4e-5,
        "train/lr/text": 4e-6,
        "train/lr/video": 1e-5,
    }


def test_unnamed_groups_log_the_first_rate_only() -> None:
    groups = [{"lr": 3e-4}, {"lr": 1e-4}]
    assert lr_scalars(fake_engine(groups)) == {"train/lr": 3e-4}


class Towers(nn.Module):
    """Parameters named as the task's are: model.<tower>.* and a head outside the model."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.ModuleDict(
            {t: nn.Linear(2, 2) for t in ("text", "audio", "video", "fusion")}
        )
        self.head = nn.Linear(2, 1)


def test_rates_of_the_real_groups_follow_lr_scale() -> None:
    cfg = OptimConfig(
        learning_rate=1e-3,
        lr_scheduler_type="constant",
        lr_scale={"text": 0.1, "video": 0.5, "audio": 0.0},
    )
    optimizer = torch.optim.AdamW(param_groups(Towers(), cfg))
    scalars = lr_scalars(fake_engine(optimizer.param_groups))
    assert scalars == pytest.approx(
        {
            "train/lr": 1e-3,
            "train/lr/heads": 1e-3,
            "train/lr/fusion": 1e-3,
            "train/lr/text": 1e-4,
            "train/lr/video": 5e-4,
            "train/lr/audio": 0.0,
        }
    )
