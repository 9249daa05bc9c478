"""Run a function as the ranks of a fresh CPU process group, each in its own spawned process.

DeepSpeed keeps module-level state about the process group it first saw; engines built in the
pytest process itself would break later tests that start a group of their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
import torch.multiprocessing as mp

from avtpretrain.engine.distributed import free_port


def _as_rank(rank: int, world: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), DS_ACCELERATOR="cpu")
    from avtpretrain.engine.distributed import init_distributed

    info, _ = init_distributed("cpu")
    fn(info, *args)
    # Torn down explicitly, as every run does: left to interpreter exit, gloo's threads were seen
    # to abort a rank ("terminate called without an active exception").
    from avtpretrain.engine.session import finish

    finish()


def run_ranks(fn: Callable, *args: object, world: int = 1, timeout: float = 300) -> None:
    """fn(info, *args) on every rank; fails the test if a rank fails or still runs at `timeout`
    (a rank left waiting at a collective)."""
    ctx = mp.start_processes(
        _as_rank,
        args=(world, free_port(), fn, args),
        nprocs=world,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail(f"a rank was still running after {timeout:.0f} s")
