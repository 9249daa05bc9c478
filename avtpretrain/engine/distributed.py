"""Starting torch.distributed the way DeepSpeed expects, on CPU (gloo) or CUDA (nccl)."""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

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
            raise RuntimeError(
                f"run.device is cuda but no CUDA device is usable ({_why_no_cuda()}); "
                "set run.device: cpu to train on the CPU"
            )
        return torch.device("cuda", cuda_index(local_rank, torch.cuda.device_count()))
    if choice == "auto" and _gpu_hardware_present():
        # At pretraining scale the CPU is ~100x slower: say so loudly rather than crawl on.
        warnings.warn(
            f"run.device auto chose the CPU although this machine has NVIDIA devices "
            f"({_why_no_cuda()}); set run.device: cuda to make this an error",
            stacklevel=2,
        )
    return torch.device("cpu")


def cuda_index(local_rank: int, visible: int) -> int:
    """The device this rank drives: its local rank, or the only visible device on sites where
    SLURM binds one GPU to each task (every task then sees its own GPU as device 0)."""
    if visible == 1:
        return 0
    if local_rank >= visible:
        raise RuntimeError(
            f"LOCAL_RANK {local_rank} but only {visible} CUDA devices are visible: start at most "
            f"{visible} ranks per node, or bind one GPU per task (srun --gpus-per-task=1)"
        )
    return local_rank


def _gpu_hardware_present() -> bool:
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") == ""
    return not hidden and Path("/dev/nvidiactl").exists()


def _why_no_cuda() -> str:
    if torch.version.cuda is None:
        return "this torch build has no CUDA"
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return "CUDA_VISIBLE_DEVICES is empty"
    return (
        f"torch {torch.__version__} is built for CUDA {torch.version.cuda}: check that the "
        "NVIDIA driver supports it (nvidia-smi)"
    )


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
