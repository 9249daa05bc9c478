"""One raw shard sample → model-ready tensors, and a list of those → one padded, masked batch.

Input geometry (frames, image size, mel bins, patch sizes) comes from the model config: the data
pipeline produces exactly what the encoders were built for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from avtpretrain.config import DataConfig, ModelConfig
from avtpretrain.contract import format as fmt
from avtpretrain.reader import decode
from avtpretrain.reader.masking import mlm_mask, random_patch_mask, tube_mask

WAVEFORM_RATE = 16000


class DecodeError(ValueError):
    """A sample that cannot be decoded; `reason` is a short counter name."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class SampleSpec:
    train: bool
    num_frames: int
    image_size: int
    frame_sampling: str
    frame_stride: int
    clips: int
    num_mel_bins: int
    target_frames: int
    audio_mean: float
    audio_std: float
    freq_mask: int
    time_mask: int
    audio_input: str
    waveform_samples: int

    @classmethod
    def build(cls, model: ModelConfig, data: DataConfig, train: bool) -> SampleSpec:
        return cls(
            train=train,
            num_frames=model.video.num_frames,
            image_size=model.video.image_size,
            frame_sampling=data.video_sampling if train else "uniform",
            frame_stride=data.frame_stride,
            clips=1 if train else data.eval_clips,
            num_mel_bins=model.audio.num_mel_bins,
            target_frames=model.audio.target_frames,
            audio_mean=data.audio_mean,
            audio_std=data.audio_std,
            freq_mask=data.spec_freq_mask,
            time_mask=data.spec_time_mask,
            audio_input=data.audio_input,
            waveform_samples=round(data.waveform_seconds * WAVEFORM_RATE),
        )


class SampleDecoder:
    """raw {ext: bytes} → {"key", "caption", "video", "audio", "video_present", "audio_present"}."""

    def __init__(self, spec: SampleSpec) -> None:
        self.spec = spec
        self.video_tf = decode.VideoTransform(spec.image_size, spec.train)
        self.fbank_tf = decode.FbankTransform(
            spec.num_mel_bins,
            spec.target_frames,
            spec.audio_mean,
            spec.audio_std,
            spec.train,
            spec.freq_mask,
            spec.time_mask,
        )

    def __call__(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        try:
            captions = raw[fmt.TEXT_EXT].decode("utf-8").splitlines()
        except (KeyError, UnicodeDecodeError) as err:
            raise DecodeError("bad caption", str(err)) from None
        if not captions:
            raise DecodeError("empty caption")
        video_ext = next((e for e in raw if e in fmt.VIDEO_EXTS), None)
        if video_ext is None:
            raise DecodeError("missing video")
        return {
            "key": raw["__key__"],
            "caption": rng.choice(captions) if self.spec.train else captions[0],
            "video": self.video(raw[video_ext], rng),
            "video_present": True,
            **self._audio(raw.get(fmt.AUDIO_EXT), rng),
        }

    def video(self, data: bytes, rng: random.Random) -> torch.Tensor:
        """Encoded video bytes → uint8 [T, 3, S, S], or [clips, T, 3, S, S] for several clips."""
        spec = self.spec

        def pick(total: int) -> list[int]:
            picks = []
            for start, length in decode.clip_offsets(total, spec.clips):
                rel = decode.sample_frame_indices(
                    length, spec.num_frames, spec.frame_sampling, rng, spec.frame_stride
                )
                picks += [start + i for i in rel]
            return picks

        try:
            frames = decode.read_video_frames(data, pick)
        except (RuntimeError, ValueError, IndexError) as err:  # decode turns DECORDError into one
            raise DecodeError("video decode failed", str(err)[:200]) from None
        clips = [
            self.video_tf(c, rng)
            for c in frames.reshape(spec.clips, spec.num_frames, *frames.shape[1:])
        ]
        return clips[0] if spec.clips == 1 else torch.stack(clips)

    def _audio(self, data: bytes | None, rng: random.Random) -> dict[str, Any]:
        if data is None:
            return self.sound(None, rng)
        try:
            wave, rate = decode.read_audio(data)
        except (RuntimeError, ValueError) as err:  # LibsndfileError is a RuntimeError
            raise DecodeError("audio decode failed", str(err)[:200]) from None
        return self.sound((wave, rate), rng)

    def sound(self, wave: tuple[torch.Tensor, int] | None, rng: random.Random) -> dict[str, Any]:
        """A mono waveform and its rate (None: the clip has no sound) → the audio tower's input
        and its presence flag."""
        spec = self.spec
        if wave is None:
            if spec.audio_input == "waveform":
                shape: tuple[int, ...] = (spec.waveform_samples,)
            else:
                shape = (spec.target_frames, spec.num_mel_bins)
            # Absent audio stays absent: zeros that the presence mask tells the model to ignore.
            return {"audio": torch.zeros(shape), "audio_present": False}
        samples, rate = wave
        if spec.audio_input == "waveform":
            if rate != WAVEFORM_RATE:
                raise DecodeError("audio rate", f"{rate} Hz, waveform input needs {WAVEFORM_RATE}")
            audio = decode.fixed_length_wave(samples, spec.waveform_samples, rng, spec.train)
        else:
            audio = self.fbank_tf(samples, rate, rng)
        return {"audio": audio, "audio_present": True}


@dataclass(frozen=True)
class MaskSpec:
    mlm_probability: float
    video_ratio: float
    audio_ratio: float
    video_time_tubes: int
    video_patches_per_frame: int
    audio_patches: int

    @classmethod
    def build(cls, model: ModelConfig, data: DataConfig) -> MaskSpec:
        v, a = model.video, model.audio
        return cls(
            mlm_probability=data.mlm_probability,
            video_ratio=data.video_mask_ratio,
            audio_ratio=data.audio_mask_ratio,
            video_time_tubes=v.grid[0],
            video_patches_per_frame=v.patches_per_frame,
            audio_patches=a.num_patches,
        )


class Collator:
    """Decoded samples → a batch with tokens, presence flags and (for training) masks."""

    def __init__(self, tokenizer: Any, max_length: int, masks: MaskSpec | None) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.masks = masks

    def __call__(self, samples: list[dict[str, Any]], gen: torch.Generator) -> dict[str, Any]:
        tokens = self.tokenizer(
            [s["caption"] for s in samples],
            # To the batch's longest caption, not max_length: a 10-word caption padded to 128
            # tokens costs the text tower and the fusion 10x the work. A multiple of 8 keeps the
            # shapes tensor-core friendly and the set of shapes small.
            padding="longest",
            pad_to_multiple_of=8 if self.max_length % 8 == 0 else None,  # never past max_length
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        batch = {
            "keys": [s["key"] for s in samples],
            "input_ids": tokens["input_ids"],
            "attention_mask": tokens["attention_mask"],
        }
        if "video" in samples[0]:  # audio_retrieval items have none
            batch["video"] = torch.stack([s["video"] for s in samples])
            batch["video_present"] = torch.tensor([s["video_present"] for s in samples])
        if "audio" in samples[0]:  # downstream items carry audio only when a task uses it
            batch["audio"] = torch.stack([s["audio"] for s in samples])
            batch["audio_present"] = torch.tensor([s["audio_present"] for s in samples])
        if self.masks is not None:
            batch |= self._masks(tokens, len(samples), gen)
        return batch

    def _masks(self, tokens: Any, n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        m = self.masks
        special = tokens["special_tokens_mask"].bool() | ~tokens["attention_mask"].bool()
        mlm_ids, mlm_labels = mlm_mask(
            tokens["input_ids"],
            special,
            m.mlm_probability,
            self.tokenizer.mask_token_id,
            len(self.tokenizer),
            gen,
        )
        return {
            "mlm_input_ids": mlm_ids,
            "mlm_labels": mlm_labels,
            "video_mask": tube_mask(
                n, m.video_time_tubes, m.video_patches_per_frame, m.video_ratio, gen
            ),
            "audio_mask": random_patch_mask(n, m.audio_patches, m.audio_ratio, gen),
        }
