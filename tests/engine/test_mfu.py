"""Model FLOPs counted once, MFU against the device's peak for the run's dtype."""

from __future__ import annotations

import pytest
import torch

from avtpretrain.engine import mfu


def test_flops_are_counted_on_the_first_forward_only_and_give_mfu(monkeypatch) -> None:
    meter = mfu.FlopMeter(torch.device("cpu"), torch.float32)
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(2, 8)
    calls = []

    def forward():
        calls.append(1)
        return layer(x)

    torch.testing.assert_close(meter.forward(forward, samples=2), layer(x))
    # 2 x (2 rows x 8 x 4) multiply-adds forward, x3 for forward + backward, per sample.
    assert meter.per_sample == 3 * 2 * 2 * 8 * 4 / 2
    meter.forward(forward, samples=2)
    assert meter.per_sample == 192 and len(calls) == 2
    meter.peak = 1000.0  # FLOP/s: a device 100x a sample's forward + backward
    scalars = meter.scalars(samples_per_s=20.0, world=2)
    assert scalars["perf/model_tflops_per_device"] == pytest.approx(192 * 10 / 1e12)
    assert scalars["perf/mfu"] == pytest.approx(192 * 10 / 1000)
    assert scalars["perf/peak_memory_gb"] > 0


def test_peaks_follow_the_device_name_and_dtype(monkeypatch) -> None:
    cuda = torch.device("cuda", 0)
    for name, dtype, tflops in [
        ("NVIDIA H200", torch.bfloat16, 989.0),
        ("NVIDIA H100 PCIe", torch.bfloat16, 756.0),
        ("NVIDIA H100 80GB HBM3", torch.float16, 989.0),
        ("NVIDIA A100-SXM4-80GB", torch.float32, 19.5),
    ]:
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda _d, n=name: n)
        assert mfu.peak_flops(cuda, dtype) == tflops * 1e12
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _d: "Tesla V100-SXM2-16GB")
    assert mfu.peak_flops(cuda, torch.bfloat16) is None  # no bf16 on a V100: no MFU, not a guess
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _d: "Some Future GPU")
    assert mfu.peak_flops(cuda, torch.bfloat16) is None
    assert mfu.peak_flops(torch.device("cpu"), torch.float32) is None
