"""Pure bytes → tensor functions: frame sampling, video decode + transform, audio → log-mel fbank.

Nothing here knows about shards, workers or ranks; randomness comes in as a `random.Random`.
"""

from __future__ import annotations

import io
import itertools
import random
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name
import torchaudio

# VideoMAE / ImageNet statistics: what the video encoder's pretrained weights expect.


def sample_frame_indices(
    num_total: int, num_frames: int, strategy: str, rng: random.Random, stride: int = 1
) -> list[int]:
    """Indices of `num_frames` frames out of `num_total` (repeats when the clip is too short).

    rand      one random frame from each of `num_frames` equal segments (ALPRO training)
    uniform   the middle frame of each segment (deterministic; evaluation)
    headtail  half random from the first half, half from the second (ALPRO's headtail)
    stride    `num_frames` consecutive frames `stride` apart from a random start (VideoMAE)
    """
    if num_total < 1:
        raise ValueError("video has no frames")
    if strategy == "stride":
        span = (num_frames - 1) * stride + 1
        start = rng.randint(0, max(num_total - span, 0))
        return [min(start + i * stride, num_total - 1) for i in range(num_frames)]
    if strategy == "headtail":
        half = max(num_total // 2, 1)
        head = sorted(rng.randrange(half) for _ in range(num_frames // 2))
        tail = sorted(
            rng.randrange(half, max(num_total, half + 1)) for _ in range(num_frames - len(head))
        )
        return [min(i, num_total - 1) for i in head + tail]
    edges = np.linspace(0, num_total, num_frames + 1)
    if strategy == "uniform":
        return [min(int((a + b) / 2), num_total - 1) for a, b in itertools.pairwise(edges)]
    if strategy == "rand":
        return [
            min(rng.randrange(int(a), max(int(b), int(a) + 1)), num_total - 1)
            for a, b in itertools.pairwise(edges)
        ]
    raise ValueError(f"unknown frame sampling strategy {strategy!r}")


def clip_offsets(num_total: int, num_clips: int) -> list[tuple[int, int]]:
    """(start, length) of `num_clips` equal windows covering the video, for multi-clip testing."""
    edges = np.linspace(0, num_total, num_clips + 1).astype(int)
    return [(int(a), max(int(b - a), 1)) for a, b in itertools.pairwise(edges)]


def read_video_frames(data: bytes, indices_fn) -> np.ndarray:
    """uint8 [T, H, W, 3]; `indices_fn(num_total)` picks the frames once the length is known."""
    import decord  # per call, inside the worker that decodes: decord must never cross a fork

    try:
        reader = decord.VideoReader(io.BytesIO(data), num_threads=1)
        indices = indices_fn(len(reader))
        try:
            frames = reader.get_batch(indices).asnumpy()
        except decord.DECORDError:
            # decord 0.6's batch copy fails on a few narrow widths; single-frame reads still work.
            frames = np.stack([reader[i].asnumpy() for i in indices])
    except decord.DECORDError as err:
        # DECORDError is a bare Exception: as a RuntimeError it is one of the failures callers
        # count and skip (a corrupt packet inside an otherwise valid file raises it).
        raise RuntimeError(f"decord: {str(err)[:300]}") from None
    del reader  # readers of long videos hold memory: keep them short-lived
    return frames


@dataclass(frozen=True)
class VideoTransform:
    image_size: int
    train: bool
    # Training crops a random square from the frame resized to image_size * scale.
    scale: float = 1.15

    def resized(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) with the short side at the crop size (times `scale` when training)."""
        short = round(self.image_size * (self.scale if self.train else 1.0))
        if height >= width:
            return max(round(height * short / width), short), short
        return short, max(round(width * short / height), short)

    def __call__(self, frames: np.ndarray, rng: random.Random) -> torch.Tensor:
        """uint8 [T, H, W, 3] → uint8 [T, 3, S, S]; one crop for the whole clip.

        Frames stay uint8 until they reach the model, which normalises them on its device
        (`models.encoders.video.normalize_video`): a quarter of the bytes through worker queues
        and collation, and the float maths where it is cheapest.
        """
        # A channels-last uint8 view: torch's antialiased resize has a fast path for exactly
        # this layout (about 10x cheaper than resizing float frames, and cheaper than decord's).
        video = torch.from_numpy(frames).permute(0, 3, 1, 2)
        h, w = video.shape[-2:]
        rh, rw = self.resized(h, w)
        crop = self.image_size
        top, left = _crop_origin((rh, rw), crop, rng if self.train else None)
        if (rh, rw) == (h, w):
            return video[..., top : top + crop, left : left + crop]
        # Crop the matching box of the source first, then resize only that box: the same pixels
        # as resize-then-crop (to within a pixel), at a fraction of the cost.
        y0, y1 = round(top * h / rh), round((top + crop) * h / rh)
        x0, x1 = round(left * w / rw), round((left + crop) * w / rw)
        box = video[..., y0:y1, x0:x1]
        return F.interpolate(
            box, (crop, crop), mode="bilinear", antialias=True, align_corners=False
        )


def _crop_origin(size: tuple[int, int], crop: int, rng: random.Random | None) -> tuple[int, int]:
    h, w = size
    if rng is None:
        return (h - crop) // 2, (w - crop) // 2
    return rng.randint(0, h - crop), rng.randint(0, w - crop)


def read_audio(data: bytes) -> tuple[torch.Tensor, int]:
    """flac/wav bytes → mono float waveform [N] and its sample rate."""
    wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return torch.from_numpy(wave.mean(axis=1)), rate


def read_track_audio(data: bytes, rate: int = 16000) -> tuple[torch.Tensor, int] | None:
    """A video file's own audio track → mono float waveform [N] at `rate`; None without one
    (MSRVTT-style data keeps its sound in the video files, not beside them)."""
    import av  # only where videos carry the audio that a task reads

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                return None
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(container.streams.audio[0])
                for out in resampler.resample(frame)
            ]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.FFmpegError as err:  # not every FFmpegError is a ValueError: callers catch one
        raise ValueError(f"audio track: {err}") from None
    if not sum(len(c) for c in chunks):
        return None  # a track without samples is no sound
    return torch.from_numpy(np.concatenate(chunks)), rate


@dataclass(frozen=True)
class FbankTransform:
    """Kaldi log-mel fbank as AST/the seed compute it, cropped/padded to a fixed length."""

    num_mel_bins: int
    target_frames: int
    mean: float
    std: float
    train: bool
    freq_mask: int = 0  # SpecAugment widths (training only); 0 turns a mask off
    time_mask: int = 0

    def __call__(self, wave: torch.Tensor, rate: int, rng: random.Random) -> torch.Tensor:
        """waveform [N] → normalised fbank [target_frames, num_mel_bins]."""
        wave = wave - wave.mean()
        if wave.numel() < 400:  # shorter than one 25 ms window at 16 kHz
            wave = F.pad(wave, (0, 400 - wave.numel()))
        fbank = torchaudio.compliance.kaldi.fbank(
            wave.unsqueeze(0),
            htk_compat=True,
            sample_frequency=rate,
            use_energy=False,
            window_type="hanning",
            num_mel_bins=self.num_mel_bins,
            dither=0.0,
            frame_shift=10,
        )
        n = fbank.shape[0]
        if n > self.target_frames:
            start = rng.randint(0, n - self.target_frames) if self.train else 0
            fbank = fbank[start : start + self.target_frames]
        elif n < self.target_frames:
            fbank = F.pad(fbank, (0, 0, 0, self.target_frames - n))
        # AST's normalisation: zero mean, std 0.5 over the dataset statistics.
        fbank = (fbank - self.mean) / (self.std * 2)
        if self.train:
            fbank = self._spec_augment(fbank, rng)
        return fbank

    def _spec_augment(self, fbank: torch.Tensor, rng: random.Random) -> torch.Tensor:
        fbank = fbank.clone()
        if self.freq_mask:
            width = rng.randint(0, self.freq_mask)
            start = rng.randint(0, self.num_mel_bins - width)
            fbank[:, start : start + width] = 0
        if self.time_mask:
            width = rng.randint(0, self.time_mask)
            start = rng.randint(0, self.target_frames - width)
            fbank[start : start + width] = 0
        return fbank


def fixed_length_wave(
    wave: torch.Tensor, length: int, rng: random.Random, train: bool
) -> torch.Tensor:
    """The raw-waveform path for encoders that take samples, not a spectrogram."""
    if wave.numel() >= length:
        start = rng.randint(0, wave.numel() - length) if train else 0
        return wave[start : start + length]
    return F.pad(wave, (0, length - wave.numel()))
