"""Contrastive features gathered with gradients: 2 ranks x batch 4 equal 1 rank x batch 8."""

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from avtpretrain.config import ObjectivesConfig, load_model_config
from avtpretrain.engine.distributed import free_port
from avtpretrain.run.gathers import RANK_GATHERS
from avtpretrain.tasks.pretrain import PretrainTask
from tests.models.conftest import REPO, VOCAB, make_batch

CONTRASTIVE_ONLY = ObjectivesConfig(contrastive=1.0, matching=0, mlm=0, mvm=0, mam=0)


def loss_and_grads(batch: dict) -> tuple[float, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    tiny = load_model_config("tiny", REPO / "pretrain" / "x.yaml")
    # eval(): no dropout, whose random draws differ between processes; gradients still flow.
    task = PretrainTask(tiny, CONTRASTIVE_ONLY, VOCAB, RANK_GATHERS).eval()
    loss, _ = task(batch)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    if dist.is_initialized():
        for g in grads.values():  # what the engine does: average gradients over ranks
            dist.all_reduce(g)
            g /= dist.get_world_size()
    return loss.item(), grads


def _rank(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    tiny = load_model_config("tiny", REPO / "pretrain" / "x.yaml")
    full = make_batch(tiny, n=8, seed=3)
    half = {k: v[rank * 4 : (rank + 1) * 4] for k, v in full.items()}
    loss, grads = loss_and_grads(half)
    torch.save({"loss": loss, "grads": grads}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.distributed
def test_two_ranks_of_four_equal_one_rank_of_eight(tmp_path: Path) -> None:
    mp.spawn(_rank, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    tiny = load_model_config("tiny", REPO / "pretrain" / "x.yaml")
    loss, grads = loss_and_grads(make_batch(tiny, n=8, seed=3))
    for rank in (0, 1):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert result["loss"] == pytest.approx(loss, abs=1e-5)
        assert result["grads"].keys() == grads.keys()
        for name, g in grads.items():
            assert torch.allclose(result["grads"][name], g, atol=1e-5, rtol=1e-4), name
