"""What downstream evaluation needs besides the model: ranks, device, data and tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from avtpretrain.data.downstream import collate_videos, video_items
from avtpretrain.data.mapped import eval_loader
from avtpretrain.data.samples import SampleDecoder
from avtpretrain.data.videos import VideoIndex
from avtpretrain.dist import DistInfo
from avtpretrain.engine.collective import lockstep


@dataclass(frozen=True)
class EvalSetup:
    info: DistInfo
    device: torch.device
    dtype: torch.dtype
    tokenizer: Any
    max_length: int
    index: VideoIndex
    decoder: SampleDecoder  # evaluation spec: uniform frames, data.eval_clips clips
    batch_size: int
    num_workers: int
    seed: int
    aggregation: str

    def tokens(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.tokenizer(texts, padding="max_length", truncation=True,
                           max_length=self.max_length, return_tensors="pt")  # fmt: skip
        return t["input_ids"].to(self.device), t["attention_mask"].to(self.device)


def encode_video_batch(model, video: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 [B, T, 3, S, S] or [B, C, T, 3, S, S] → (token states [B, C, N, H] on device,
    unit embeddings [B, C, D] as float32 on the CPU)."""
    if video.dim() == 5:
        video = video.unsqueeze(1)
    b, c = video.shape[:2]
    tokens = model.encode_video(video.flatten(0, 1).to(device))
    emb = model.embed("video", tokens).float().cpu().view(b, c, -1)
    return tokens.view(b, c, *tokens.shape[1:]), emb


def over_videos(setup: EvalSetup, videos: list[str], fn) -> tuple[list[Any], list[int]]:
    """fn over this rank's share of `videos` in batches, in step with the other ranks;
    returns (fn's results, indices of videos that could not be decoded)."""
    items = video_items(videos, setup.index, setup.decoder, setup.seed)
    loader = eval_loader(items, collate_videos, batch_size=setup.batch_size, dist=setup.info,
                         num_workers=setup.num_workers)  # fmt: skip
    failed: list[int] = []

    def tap() -> Iterator[dict]:
        for batch in loader:
            failed.extend(batch["failed"])
            yield batch

    results = lockstep(tap(), len(loader), fn, setup.device, lambda b: len(b["index"]) == 0)
    return results, failed
