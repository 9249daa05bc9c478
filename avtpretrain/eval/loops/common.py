"""What downstream evaluation needs besides the model: ranks, device, data and tokenizer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from avtpretrain.contract.batch import ItemBatch
from avtpretrain.dist import DistInfo
from avtpretrain.engine.collective import lockstep
from avtpretrain.eval.loops.progress import counted, eval_bar
from avtpretrain.models.model import AVTModel
from avtpretrain.reader.downstream import VIDEO_ONLY, Index, Reads, collate_videos, video_items
from avtpretrain.reader.mapped import eval_loader
from avtpretrain.reader.samples import SampleDecoder


@dataclass(frozen=True)
class EvalSetup:
    info: DistInfo
    device: torch.device
    dtype: torch.dtype
    tokenizer: Any
    max_length: int
    index: Index
    decoder: SampleDecoder  # evaluation spec: uniform frames, data.eval_clips clips
    batch_size: int
    num_workers: int
    seed: int
    aggregation: str
    reads: Reads = VIDEO_ONLY  # what each clip is read as: video, sound, or both

    def tokens(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.tokenizer(
            texts,
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return t["input_ids"].to(self.device), t["attention_mask"].to(self.device)


def encode_video_batch(
    model: AVTModel, video: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 [B, T, 3, S, S] or [B, C, T, 3, S, S] → (token states [B, C, N, H] on device,
    unit embeddings [B, C, D] as float32 on the CPU)."""
    if video.dim() == 5:
        video = video.unsqueeze(1)
    b, c = video.shape[:2]
    tokens = model.encode_video(video.flatten(0, 1).to(device))
    emb = model.embed("video", tokens).float().cpu().view(b, c, -1)
    return tokens.view(b, c, *tokens.shape[1:]), emb


def encode_audio_batch(
    model: AVTModel, audio: torch.Tensor, setup: EvalSetup
) -> tuple[torch.Tensor, torch.Tensor]:
    """fbank [B, T, F] or waveform [B, N] → (token states [B, M, H] on the device, unit
    embeddings [B, D] as float32 on the CPU)."""
    # The engine's dtype: a bf16/fp16 module takes half-precision features.
    tokens = model.encode_audio(audio.to(setup.device, setup.dtype))
    return tokens, model.embed("audio", tokens).float().cpu()


def beside_clips(
    sound: tuple[torch.Tensor, torch.Tensor], n_clips: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A video's sound (token states [P, M, H], presence [P]) repeated beside each of its
    `n_clips` clips, in the clip-major order of `video.flatten(0, 1)`."""
    return sound[0].repeat_interleave(n_clips, 0), sound[1].repeat_interleave(n_clips, 0)


def over_videos(
    setup: EvalSetup, videos: list[str], fn: Callable[[ItemBatch], Any]
) -> tuple[list[Any], list[int]]:
    """fn over this rank's share of `videos` in batches, in step with the other ranks;
    returns (fn's results, indices of videos that could not be decoded)."""
    items = video_items(videos, setup.index, setup.decoder, setup.seed, setup.reads)
    loader = eval_loader(
        items,
        collate_videos,
        batch_size=setup.batch_size,
        dist=setup.info,
        num_workers=setup.num_workers,
    )
    failed: list[int] = []

    def tap() -> Iterator[ItemBatch]:
        for batch in loader:
            failed.extend(batch["failed"])
            yield batch

    with eval_bar("eval: videos", setup.info.is_main, len(loader)) as bar:
        results = lockstep(
            tap(), len(loader), counted(bar, fn), setup.device, lambda b: len(b["index"]) == 0
        )
    return results, failed
