"""The suite runs on the CPU even on a machine with GPUs: `run.device: auto` would otherwise pick
CUDA in the runs the tests start, next to DeepSpeed's CPU accelerator that they force. Tests marked
`gpu` run only where CUDA is present, and they keep the devices."""

from __future__ import annotations

import os

import pytest
import torch

# Asked before the pin below hides the devices from every process the tests start.
HAS_CUDA = torch.cuda.is_available()
_VISIBLE = os.environ.get("CUDA_VISIBLE_DEVICES")
os.environ["CUDA_VISIBLE_DEVICES"] = ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("gpu") is not None and not HAS_CUDA:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


@pytest.fixture(autouse=True)
def _gpu_tests_see_the_gpus(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if request.node.get_closest_marker("gpu") is not None:
        if _VISIBLE is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", _VISIBLE)
    yield


def cpu_pinned() -> bool:
    """True outside `gpu` tests: the runs a test starts must use DeepSpeed's CPU accelerator."""
    return os.environ.get("CUDA_VISIBLE_DEVICES") == ""


@pytest.fixture(scope="module")
def world_of_one():
    """A one-rank gloo process group, for code that gathers across ranks."""
    import torch.distributed as dist

    from avtpretrain.engine.distributed import free_port

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()
