"""Composition of the data pipeline from configs: shards + tokenizer + decoder + collator."""

from __future__ import annotations

from avtpretrain.config import DataConfig, ModelConfig
from avtpretrain.dist import DistInfo
from avtpretrain.reader.evaluation import eval_batches
from avtpretrain.reader.remote import Retry
from avtpretrain.reader.samples import Collator, MaskSpec, SampleDecoder, SampleSpec
from avtpretrain.reader.shards import resolve_shards
from avtpretrain.reader.stream import DataState, StreamSpec, TrainStream
from avtpretrain.reader.tokenizer import load_tokenizer


def stream_spec(
    model: ModelConfig,
    data: DataConfig,
    *,
    train: bool,
    batch_size: int,
    dist: DistInfo,
    seed: int,
    pin_memory: bool = False,
) -> StreamSpec:
    shards = resolve_shards(
        data.train_shards if train else data.val_shards,
        (data.train_weights or None) if train else None,
    )
    tokenizer = load_tokenizer(data.tokenizer)
    masks = MaskSpec.build(model, data) if train else None
    return StreamSpec(
        shards=shards,
        batch_size=batch_size,
        dist=dist,
        num_workers=data.num_workers,
        seed=seed,
        shuffle_buffer=data.shuffle_buffer if train else 0,
        shuffle_initial=min(data.shuffle_initial, data.shuffle_buffer),
        decoder=SampleDecoder(SampleSpec.build(model, data, train)),
        collator=Collator(tokenizer, model.text.max_length, masks),
        max_consecutive_skips=data.max_consecutive_skips,
        pin_memory=pin_memory,
        retry=Retry(data.shard_retries, data.shard_retry_backoff_s),
        shuffle_bytes=data.shuffle_buffer_mb * 2**20,
    )


def train_stream(
    model: ModelConfig,
    data: DataConfig,
    *,
    batch_size: int,
    dist: DistInfo,
    seed: int,
    state: DataState | None = None,
    max_samples: int | None = None,
    pin_memory: bool = False,
) -> TrainStream:
    """The training stream; `max_samples` (the seed's --max_train_samples) caps an epoch.
    `pin_memory` for a CUDA run: page-locked batches copy to the GPU asynchronously."""
    spec = stream_spec(
        model, data, train=True, batch_size=batch_size, dist=dist, seed=seed, pin_memory=pin_memory
    )
    samples = data.samples_per_epoch or spec.shards.total_samples
    if max_samples is not None:
        samples = min(samples, max_samples)
    return TrainStream(spec, state, samples)


def eval_stream(
    model: ModelConfig, data: DataConfig, *, batch_size: int, dist: DistInfo, seed: int
):
    return eval_batches(
        stream_spec(model, data, train=False, batch_size=batch_size, dist=dist, seed=seed)
    )
