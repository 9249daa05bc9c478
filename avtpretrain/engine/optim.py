"""Parameter groups (per-tower learning rates, no decay on norms/biases) and the LR schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from avtpretrain.config import OptimConfig
from avtpretrain.config.model import MODALITIES

TOWER_PREFIXES = {tower: f"model.{tower}." for tower in (*MODALITIES, "fusion")}


def _tower(name: str) -> str | None:
    return next((t for t, p in TOWER_PREFIXES.items() if name.startswith(p)), None)


def param_groups(task: nn.Module, cfg: OptimConfig) -> list[dict]:
    """One group per (tower, decay) pair; heads train at the base learning rate."""
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, param in task.named_parameters():
        if not param.requires_grad:
            continue
        tower = _tower(name) or "heads"
        # Biases, norms, embeddings-like 1-d tensors and learned tokens are not decayed.
        decay = param.ndim >= 2 and "embeddings" not in name and "token" not in name
        groups.setdefault((tower, decay), []).append(param)
    return [
        {
            "params": params,
            "lr": cfg.learning_rate * cfg.lr_scale.get(tower, 1.0),
            "weight_decay": cfg.weight_decay if decay else 0.0,
            "name": f"{tower}/{'decay' if decay else 'no_decay'}",
        }
        for (tower, decay), params in sorted(groups.items())
    ]


def build_optimizer(
    task: nn.Module, cfg: OptimConfig, offload: bool = False
) -> torch.optim.Optimizer:
    """AdamW over `param_groups`. A client torch AdamW (nothing to JIT-compile, the same maths
    on CPU and GPU), except when ZeRO keeps the optimizer on the CPU (`offload`): there
    DeepSpeed's vectorised CPU Adam (compiled on first use) is several times faster."""
    if offload:
        from deepspeed.ops.adam import DeepSpeedCPUAdam

        return DeepSpeedCPUAdam(
            param_groups(task, cfg), betas=cfg.betas, eps=cfg.eps, adamw_mode=True
        )
    return torch.optim.AdamW(param_groups(task, cfg), betas=cfg.betas, eps=cfg.eps)


def offloads_optimizer(ds_config: dict) -> bool:
    """Whether a DeepSpeed config keeps the optimizer states on the CPU (or NVMe)."""
    zero = ds_config.get("zero_optimization") or {}
    device = (zero.get("offload_optimizer") or {}).get("device", "none")
    return device in ("cpu", "nvme")


def warmup_steps(total: int, cfg: OptimConfig) -> int:
    """optim.warmup_steps when set, else warmup_ratio of the steps (rounded up, as transformers)."""
    return cfg.warmup_steps if cfg.warmup_steps > 0 else math.ceil(total * cfg.warmup_ratio)


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, cfg: OptimConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """transformers' scheduler of that name, with its meaning (e.g. "constant" has no warmup),
    scaling every parameter group's own rate (so per-tower ratios hold throughout)."""
    from transformers import get_scheduler

    kwargs = (
        {"min_lr_rate": cfg.min_lr_ratio} if cfg.lr_scheduler_type == "cosine_with_min_lr" else {}
    )
    return get_scheduler(
        cfg.lr_scheduler_type,
        optimizer,
        num_warmup_steps=warmup_steps(total_steps, cfg),
        num_training_steps=total_steps,
        scheduler_specific_kwargs=kwargs,
    )
