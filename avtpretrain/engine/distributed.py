"""Starting torch.distributed the way DeepSpeed expects, on CPU (gloo) or CUDA (nccl)."""

from __future__ import annotations

import os
import socket

import torch

from avtpretrain.dist import DistInfo


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resolve_device(choice: str, local_rank: int) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("run.device is cuda but no CUDA device is visible")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device_choice: str) -> tuple[DistInfo, torch.device]:
    """Join (or, for a plain `python` run, create) the process group; returns who we are."""
    # A plain `python launch/pretrain.py` has no launcher variables: make it a world of one.
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    info = DistInfo.from_env()
    device = resolve_device(device_choice, info.local_rank)
    if device.type == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import deepspeed  # after DS_ACCELERATOR is set: it picks its accelerator on import

    deepspeed.init_distributed(dist_backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return info, device
