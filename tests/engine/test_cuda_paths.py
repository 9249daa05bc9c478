"""The CUDA-only paths of the training loop, exercised on the CPU: fp16 loss scale on every ZeRO
stage's optimizer, CUDA random states in checkpoints, hard negatives that never reach a
device-side assert."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from avtpretrain.engine.loop import loss_scale
from avtpretrain.objectives.matching import hard_negatives
from tests.engine.spawned import run_ranks

REPO = Path(__file__).resolve().parents[2]


class _StageZeroFP16:
    """DeepSpeed 0.19.8's FP16_Optimizer: `loss_scale` and `loss_scale_config.cur_scale`, no
    `cur_scale` (reading that was an AttributeError at the first log step)."""

    def __init__(self, scale: float) -> None:
        self.loss_scale_config = SimpleNamespace(cur_scale=scale)

    @property
    def loss_scale(self) -> float:
        return self.loss_scale_config.cur_scale


def test_the_loss_scale_of_every_stages_optimizer_is_read() -> None:
    assert loss_scale(SimpleNamespace(cur_scale=65536.0)) == 65536.0  # ZeRO-1/2/3
    assert loss_scale(_StageZeroFP16(1024.0)) == 1024.0
    assert not hasattr(_StageZeroFP16(1.0), "cur_scale")
    with pytest.raises(AttributeError, match="no loss scale"):
        loss_scale(object())


def test_hard_negatives_survive_non_finite_similarities() -> None:
    sim = torch.tensor([[1.0, math.inf, 0.0], [math.nan, 1.0, 2.0], [-math.inf, 0.5, 1.0]])
    drawn = hard_negatives(sim, torch.Generator().manual_seed(0))
    assert drawn.shape == (3,) and all(int(d) != i for i, d in enumerate(drawn))
    with pytest.raises(ValueError, match="at least 2 rows"):
        hard_negatives(torch.zeros(1, 1))


def _cuda_states_round_trip(info, out: str) -> None:
    from pathlib import Path

    import avtpretrain.engine.training as training

    saved = [torch.tensor([1, 2, 3], dtype=torch.uint8), torch.tensor([4], dtype=torch.uint8)]
    restored: list = []
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 2
    torch.cuda.get_rng_state_all = lambda: saved
    torch.cuda.set_rng_state_all = restored.extend
    stream = SimpleNamespace(state_dict=dict, load_state_dict=lambda _: None)
    client = training.client_state({}, training.TrainState(), stream)
    training.load_checkpoint = lambda engine, path: client
    training.restore(None, Path(out), stream, info.rank)
    ok = len(restored) == 2 and all(map(torch.equal, saved, restored))
    Path(out, "ok" if ok else "bad").touch()


def test_a_checkpoint_carries_and_restores_every_cuda_rng_state(tmp_path) -> None:
    run_ranks(_cuda_states_round_trip, str(tmp_path))
    assert (tmp_path / "ok").exists()


def test_auto_warns_when_nvidia_devices_exist_but_cuda_is_unusable(monkeypatch) -> None:
    import avtpretrain.engine.distributed as distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(distributed, "_gpu_hardware_present", lambda: True)
    with pytest.warns(UserWarning, match="auto chose the CPU although this machine has NVIDIA"):
        assert distributed.resolve_device("auto", 0) == torch.device("cpu")
    with pytest.raises(RuntimeError, match="is cuda but no CUDA device is usable"):
        distributed.resolve_device("cuda", 0)


def test_each_rank_drives_its_local_gpu_or_the_one_the_site_bound_to_it() -> None:
    from avtpretrain.engine.distributed import cuda_index

    assert [cuda_index(r, 8) for r in range(8)] == list(range(8))
    # SLURM binding one GPU per task: every rank sees its own GPU as device 0.
    assert [cuda_index(r, 1) for r in range(8)] == [0] * 8
    with pytest.raises(RuntimeError, match="LOCAL_RANK 4 but only 4 CUDA devices are visible"):
        cuda_index(4, 4)


def test_offloaded_optimizers_use_deepspeeds_cpu_adam(monkeypatch) -> None:
    import deepspeed.ops.adam

    from avtpretrain.config import OptimConfig
    from avtpretrain.engine.optim import build_optimizer, offloads_optimizer

    made = []
    # The real class compiles its C++ kernel on first use; what is checked here is the choice.
    monkeypatch.setattr(deepspeed.ops.adam, "DeepSpeedCPUAdam", lambda *a, **k: made.append(k))
    layer = torch.nn.Linear(2, 2)
    build_optimizer(layer, OptimConfig(), offload=True)
    assert made and made[0]["adamw_mode"] is True
    assert isinstance(build_optimizer(layer, OptimConfig()), torch.optim.AdamW)
    for name, expected in [("zero2_offload", True), ("zero3_offload", True), ("zero2", False)]:
        ds = json.loads((REPO / "ds_configs" / f"{name}.json").read_text())
        assert offloads_optimizer(ds) is expected, name
