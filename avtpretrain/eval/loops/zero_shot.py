"""Zero-shot text→video retrieval on the validation shards, run by every rank together."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from avtpretrain.contract.batch import Batch
from avtpretrain.dist import DistInfo
from avtpretrain.engine.batches import to_device
from avtpretrain.engine.collective import gather_to_all, lockstep
from avtpretrain.engine.loop import Where
from avtpretrain.eval.loops.progress import counted, eval_bar
from avtpretrain.eval.metrics import retrieval_metrics
from avtpretrain.models.model import AVTModel


@torch.no_grad()
def _embed(model: AVTModel, batch: Batch) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    text = model.embed("text", model.encode_text(batch["input_ids"], batch["attention_mask"]))
    video = model.embed("video", model.encode_video(batch["video"]))
    return batch["keys"], text.float().cpu(), video.float().cpu()


def zero_shot_retrieval(
    task: nn.Module, batches: Iterable[Batch], where: Where, info: DistInfo
) -> dict[str, float]:
    """R@1/5/10, median/mean rank in both directions over every validation sample (rank 0 gets
    the numbers; other ranks get {}). Each sample's first caption is its query."""
    local = list(eval_bar("zero-shot: reading", info.is_main, items=batches))
    task.eval()
    with eval_bar("zero-shot: embedding", info.is_main, len(local)) as bar:
        parts = lockstep(
            local,
            len(local),
            counted(bar, lambda b: _embed(task.model, to_device(b, where.device, where.dtype))),
            where.device,
        )
    task.train()
    keys = [k for p in parts for k in p[0]]
    mine = (
        keys,
        torch.cat([p[1] for p in parts]) if parts else None,
        torch.cat([p[2] for p in parts]) if parts else None,
    )
    gathered = gather_to_all(mine)
    if not info.is_main:
        return {}
    keys = [k for part in gathered for k in part[0]]
    text = torch.cat([p[1] for p in gathered if p[1] is not None])
    video = torch.cat([p[2] for p in gathered if p[2] is not None])
    metrics = retrieval_metrics((text @ video.t()).numpy(), list(range(len(keys))))
    return {f"val/{d}_{k}": v for d, m in metrics.items() for k, v in m.items()} | {
        "val/samples": float(len(keys))
    }
