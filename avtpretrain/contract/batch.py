"""The batch contract: what the reader's collators produce and tasks, engine and evaluation read.

A `TypedDict` rather than a class: batches cross DataLoader worker queues as plain dicts, and the
type checker still sees every key. Training batches are `Batch`; the extra bookkeeping that
downstream and evaluation batches carry is `ItemBatch`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # the contract itself stays standard-library only
    from torch import Tensor


class Batch(TypedDict, total=False):
    keys: list[str]  # sample keys, one per row: the row count the loop reports throughput with
    input_ids: Tensor  # [B, L] caption (or question) tokens
    attention_mask: Tensor  # [B, L] 1 = real token
    video: Tensor  # uint8 [B, T, 3, S, S] (or [B, C, T, 3, S, S] with C eval clips)
    video_present: Tensor  # bool [B]; False = undecodable, zero-filled, never invented
    audio: Tensor  # [B, frames, bins] fbank or [B, samples] waveform
    audio_present: Tensor  # bool [B]; False = no audio track, zero-filled
    mlm_input_ids: Tensor  # [B, L] BERT-masked ids (pretraining)
    mlm_labels: Tensor  # [B, L] -100 where nothing is predicted
    video_mask: Tensor  # bool [B, tubes], True = hidden (pretraining)
    audio_mask: Tensor  # bool [B, patches], True = hidden (pretraining)
    labels: Tensor  # [B] answer class (QA), -100 for an answer outside the vocabulary


class ItemBatch(Batch, total=False):
    index: Tensor  # [B] item indices into the split's videos
    failed: list[int]  # item indices whose video could not be decoded (left out of the batch)
