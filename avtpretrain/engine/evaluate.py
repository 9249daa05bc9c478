"""Zero-shot text→video retrieval on the validation shards, run by every rank together."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist

from avtpretrain.dist import DistInfo
from avtpretrain.engine.batches import to_device
from avtpretrain.eval.metrics import retrieval_metrics


@torch.no_grad()
def _embed(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    text = model.embed("text", model.encode_text(batch["input_ids"], batch["attention_mask"]))
    video = model.embed("video", model.encode_video(batch["video"]))
    return text.float().cpu(), video.float().cpu()


def zero_shot_retrieval(task, batches: Iterable[dict], device, dtype, info: DistInfo) -> dict:
    """R@1/5/10, median/mean rank in both directions over every validation sample (rank 0 gets
    the numbers; other ranks get {}). Each sample's first caption is its query."""
    local = list(batches)
    # Ranks hold different numbers of batches (every sample once); under ZeRO-3 each forward is
    # a collective, so ranks with fewer batches repeat one and drop the result.
    count = torch.tensor([len(local)])
    dist.all_reduce(count, op=dist.ReduceOp.MAX)
    task.eval()
    keys, texts, videos = [], [], []
    for i in range(int(count)):
        batch = to_device(local[min(i, len(local) - 1)], device, dtype)
        t, v = _embed(task.model, batch)
        if i < len(local):
            keys += batch["keys"]
            texts.append(t)
            videos.append(v)
    task.train()
    gathered = [None] * info.world_size
    mine = (keys, torch.cat(texts) if texts else None, torch.cat(videos) if videos else None)
    dist.all_gather_object(gathered, mine)
    if not info.is_main:
        return {}
    keys = [k for part in gathered for k in part[0]]
    text = torch.cat([p[1] for p in gathered if p[1] is not None])
    video = torch.cat([p[2] for p in gathered if p[2] is not None])
    metrics = retrieval_metrics((text @ video.t()).numpy(), list(range(len(keys))))
    return {f"val/{d}_{k}": v for d, m in metrics.items() for k, v in m.items()} | {
        "val/samples": float(len(keys))
    }
