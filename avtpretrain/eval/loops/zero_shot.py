"""Zero-shot retrieval on the validation shards (text↔video, text↔audio, audio↔video), run by
every rank together: whether each tower is learning, in the shared embedding space."""

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

# (query tower, other tower): metrics are logged as val/<q>2<o>_* and val/<o>2<q>_*.
PAIRS = (("text", "video"), ("text", "audio"), ("audio", "video"))


@torch.no_grad()
def _embed(
    model: AVTModel, batch: Batch
) -> tuple[list[str], dict[str, torch.Tensor], torch.Tensor]:
    mask = batch["attention_mask"]
    text = model.embed("text", model.encode_text(batch["input_ids"], mask), mask)
    video = model.embed("video", model.encode_video(batch["video"]))
    audio = model.embed("audio", model.encode_audio(batch["audio"]))
    towers = {"text": text, "video": video, "audio": audio}
    return batch["keys"], {k: v.float().cpu() for k, v in towers.items()}, batch["audio_present"]


def zero_shot_retrieval(
    task: nn.Module, batches: Iterable[Batch], where: Where, info: DistInfo
) -> dict[str, float]:
    """R@1/5/10, median/mean rank in both directions of each pair over every validation sample
    (pairs with audio: over the samples that have it), rank 0 gets the numbers; other ranks get
    {}. Each sample's first caption is its query."""
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
    gathered = gather_to_all(
        (
            [k for p in parts for k in p[0]],
            {t: torch.cat([p[1][t] for p in parts]) for t in ("text", "video", "audio")}
            if parts
            else None,
            torch.cat([p[2].bool().cpu() for p in parts]) if parts else None,
        )
    )
    if not info.is_main:
        return {}
    towers = {t: torch.cat([g[1][t] for g in gathered if g[1]]) for t in ("text", "video", "audio")}
    present = torch.cat([g[2] for g in gathered if g[2] is not None])
    return pair_metrics(towers, present)


def pair_metrics(towers: dict[str, torch.Tensor], audio_present: torch.Tensor) -> dict[str, float]:
    """Row i of every tower is sample i; audio pairs rank only the samples with audio."""
    out: dict[str, float] = {}
    for query, other in PAIRS:
        keep = audio_present if "audio" in (query, other) else torch.ones_like(audio_present)
        n = int(keep.sum())
        if n == 0:
            continue  # no audio in the validation set: nothing to rank
        scores = (towers[query][keep] @ towers[other][keep].t()).numpy()
        metrics = retrieval_metrics(scores, list(range(n)))
        names = {"text2video": f"{query}2{other}", "video2text": f"{other}2{query}"}
        out |= {f"val/{names[d]}_{k}": v for d, m in metrics.items() for k, v in m.items()}
    return out | {
        "val/samples": float(len(audio_present)),
        "val/samples_with_audio": float(audio_present.sum()),
    }
