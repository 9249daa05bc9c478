"""Checkpoint files are loaded without running code from them, unless the user trusts them; the
files this project's own DeepSpeed configs write still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from avtpretrain.engine.export import main as export_main
from avtpretrain.engine.folders import COMPLETE
from avtpretrain.engine.trust import UntrustedCheckpointError, safe_load, verify_folder
from avtpretrain.engine.weights import read_weights
from tests.engine.spawned import run_ranks

REPO = Path(__file__).resolve().parents[2]
# Configs whose optimizer runs on this CPU: fp16 needs CUDA, offload a compiled CPU Adam.
CPU_CONFIGS = sorted(
    p.stem
    for p in (REPO / "ds_configs").glob("zero*.json")
    if "fp16" not in p.stem and "offload" not in p.stem
)


class _Payload:
    """What a crafted checkpoint hides: unpickling it calls a function (here: touch a file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _crafted_checkpoint(root: Path) -> tuple[Path, Path]:
    folder = root / "checkpoint-1"
    folder.mkdir(parents=True)
    marker = root / "code-ran"
    torch.save({"module": {}, "x": _Payload(marker)}, folder / "mp_rank_00_model_states.pt")
    (folder / COMPLETE).write_text(json.dumps({"step": 1}))
    return folder, marker


def test_init_from_a_crafted_checkpoint_is_refused_without_running_it(tmp_path) -> None:
    folder, marker = _crafted_checkpoint(tmp_path)
    with pytest.raises(UntrustedCheckpointError, match=r"more than weights.*--trust_checkpoint"):
        read_weights(tmp_path)
    assert not marker.exists()
    with pytest.raises(UntrustedCheckpointError):
        safe_load(folder / "mp_rank_00_model_states.pt")
    assert not marker.exists()
    # The explicit opt-in does what it says: the file is unpickled as it is.
    safe_load(folder / "mp_rank_00_model_states.pt", trust=True)
    assert marker.exists()


def test_export_of_a_crafted_checkpoint_exits_2_naming_the_flag(tmp_path, capsys) -> None:
    folder, marker = _crafted_checkpoint(tmp_path)
    with pytest.raises(SystemExit) as stop:
        export_main([str(folder), "--out", str(tmp_path / "export")])
    assert stop.value.code == 2 and not marker.exists()
    assert "--trust_checkpoint" in capsys.readouterr().err


def _save_and_load_each(info, configs: list[str], out: str) -> None:
    import deepspeed

    from avtpretrain.engine.checkpoint import guard

    for config in configs:
        settings = json.loads((REPO / "ds_configs" / f"{config}.json").read_text())
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))
        optimizer = torch.optim.AdamW(model.parameters())
        engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=settings)
        guard(engine, trust=False)
        dtype = next(engine.module.parameters()).dtype
        batch = torch.randn(settings["train_micro_batch_size_per_gpu"], 8, dtype=dtype)
        engine.backward(engine(batch).sum())
        engine.step()
        folder = Path(out) / config
        engine.save_checkpoint(str(folder), tag="checkpoint-1", client_state={"train": {"n": 1}})
        verify_folder(folder / "checkpoint-1")
        loaded, client = engine.load_checkpoint(str(folder), tag="checkpoint-1")
        if loaded is not None and client["train"] == {"n": 1}:
            (Path(out) / f"{config}.ok").touch()


def test_checkpoints_of_every_cpu_config_load_safely(tmp_path) -> None:
    run_ranks(_save_and_load_each, CPU_CONFIGS, str(tmp_path))
    assert sorted(p.stem for p in tmp_path.glob("*.ok")) == CPU_CONFIGS
