"""Checkpoint files are loaded without running code from them, unless the user trusts them; the
files this project's own DeepSpeed configs write still load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from avtpretrain.engine.checkpoint import COMPLETE
from avtpretrain.engine.distributed import free_port
from avtpretrain.engine.export import main as export_main
from avtpretrain.engine.trust import UntrustedCheckpointError, safe_load, verify_folder
from avtpretrain.engine.weights import read_weights

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


@pytest.fixture(scope="module")
def world_of_one():
    import torch.distributed as dist

    from avtpretrain.engine.distributed import init_distributed

    env = dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1")
    saved = {k: os.environ.get(k) for k in [*env, "MASTER_PORT", "DS_ACCELERATOR"]}
    os.environ.update(env, MASTER_PORT=str(free_port()), DS_ACCELERATOR="cpu")
    init_distributed("cpu")
    yield
    dist.destroy_process_group()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.parametrize("config", CPU_CONFIGS)
def test_checkpoints_of_every_cpu_config_load_safely(world_of_one, tmp_path, config) -> None:
    import deepspeed

    from avtpretrain.engine.checkpoint import guard

    settings = json.loads((REPO / "ds_configs" / f"{config}.json").read_text())
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters())
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=settings)
    guard(engine, trust=False)
    dtype = next(engine.module.parameters()).dtype
    loss = engine(torch.randn(settings["train_micro_batch_size_per_gpu"], 8, dtype=dtype)).sum()
    engine.backward(loss)
    engine.step()
    engine.save_checkpoint(str(tmp_path), tag="checkpoint-1", client_state={"train": {"step": 1}})
    verify_folder(tmp_path / "checkpoint-1")
    loaded, client = engine.load_checkpoint(str(tmp_path), tag="checkpoint-1")
    assert loaded is not None and client["train"] == {"step": 1}
