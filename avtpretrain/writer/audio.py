"""Any audio → mono 16-bit PCM at a fixed rate (PyAV's libswresample), whole or cut into clips.

A source cut into clips is decoded once, from just before its first clip to the end of its last,
and each clip is a slice of that PCM.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf

from avtpretrain.writer.transcode import MediaError, media_origin, open_media

Window = tuple[float, float]  # (start, end) in seconds from the start of the source


@dataclass(frozen=True)
class AudioSettings:
    sample_rate: int = 16000
    min_source_rate: int = 4000  # below this a header is wrong, not merely odd
    max_source_rate: int = 384000
    max_seconds: float = 30.0

    @property
    def max_samples(self) -> int:
        """`max_seconds` of output samples: what a whole source's audio is cut to."""
        return int(self.max_seconds * self.sample_rate)


def mono_resampler(rate: int) -> Any:
    # libswresample downmixes any channel layout to mono and resamples in one step.
    return av.AudioResampler(format="s16", layout="mono", rate=rate)


def resampled(resampler: Any, frame: Any) -> list[np.ndarray]:
    """The int16 chunks one decoded frame gives (None: what the resampler still holds)."""
    return [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]


def checked_stream(src: Any, settings: AudioSettings) -> Any:
    stream = src.streams.audio[0]
    rate = stream.codec_context.sample_rate
    if not rate or not settings.min_source_rate <= rate <= settings.max_source_rate:
        raise MediaError(
            "bad audio sample rate",
            f"{rate} Hz, expected {settings.min_source_rate}..{settings.max_source_rate}",
        )
    return stream


def audio_meta(stream: Any, pcm: np.ndarray, settings: AudioSettings) -> dict[str, Any]:
    ctx = stream.codec_context
    return {
        "sample_rate": settings.sample_rate,
        "num_samples": int(pcm.size),
        "duration": pcm.size / settings.sample_rate,
        "source_sample_rate": ctx.sample_rate,
        "source_channels": ctx.channels,
        "source_codec": ctx.name,
    }


def extract_audio(path: Path, settings: AudioSettings) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Mono int16 PCM at `sample_rate` from the first audio stream; None when there is none."""
    with open_media(path) as src:
        if not src.streams.audio:
            return None
        stream = checked_stream(src, settings)
        chunks, _ = _resample(src, stream, settings.sample_rate, limit=settings.max_samples)
    return pcm_result(stream, chunks, settings)


def pcm_result(stream: Any, chunks: list[np.ndarray], settings: AudioSettings):
    """The first `max_seconds` of the decoded chunks as one mono int16 array, and its meta."""
    pcm = np.concatenate(chunks)[: settings.max_samples] if chunks else np.zeros(0, np.int16)
    if pcm.size == 0:
        raise MediaError("no audio samples")
    return pcm, audio_meta(stream, pcm, settings)


def extract_audio_clips(
    path: Path, settings: AudioSettings, windows: list[Window]
) -> list[tuple[np.ndarray, dict[str, Any]] | MediaError] | None:
    """One (PCM, meta) or MediaError per window, from one decode; None when there is no audio.
    A window longer than `max_seconds` keeps its first `max_seconds`."""
    with open_media(path) as src:
        if not src.streams.audio:
            return None
        stream = checked_stream(src, settings)
        origin, rate = media_origin(src), settings.sample_rate
        first = min(s for s, _ in windows)
        last = max(min(e, s + settings.max_seconds) for s, e in windows)
        # A second early: the packet a seek lands on starts with the decoder's priming samples.
        seek_to = max(first - 1.0, 0.0)
        chunks, t0 = _resample(src, stream, rate, until=origin + last, seek=origin + seek_to)
    if seek_to > 0 and t0 is None and chunks:
        raise MediaError("no audio timestamps", "clips cannot be cut from this audio")
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    at = (t0 - origin) if t0 is not None else 0.0  # source time of pcm[0]
    out: list[tuple[np.ndarray, dict[str, Any]] | MediaError] = []
    for start, asked in windows:
        end = min(asked, start + settings.max_seconds)
        # Audio that starts after `start` (a late stream) gives a shorter clip, never a shifted one.
        a, b = round((start - at) * rate), round((end - at) * rate)
        piece = pcm[max(a, 0) : max(b, 0)]
        if piece.size == 0:
            out.append(MediaError("no audio samples", f"clip {start:g}-{end:g} s"))
        else:
            out.append((piece, audio_meta(stream, piece, settings) | {"clip": [start, end]}))
    return out


def _resample(
    src: Any,
    stream: Any,
    rate: int,
    limit: int | None = None,
    until: float | None = None,
    seek: float = 0.0,
) -> tuple[list[np.ndarray], float | None]:
    """PCM chunks from a seek to `seek` seconds (0: none) until `limit` samples or a frame at
    `until` seconds, and the time of the first decoded frame."""
    resampler = mono_resampler(rate)
    chunks, total, first = [], 0, None
    try:
        if seek > 0:
            src.seek(round(seek / stream.time_base), stream=stream, backward=True)
        for frame in src.decode(stream):
            if first is None:
                first = frame.time
            if until is not None and frame.time is not None and frame.time >= until:
                break
            new = resampled(resampler, frame)
            chunks += new
            total += sum(c.size for c in new)
            if limit is not None and total >= limit:
                break
        chunks += resampled(resampler, None)
    except av.FFmpegError as err:
        raise MediaError("audio decode failed", f"{type(err).__name__}: {err}") from None
    return chunks, first


def encode_flac(pcm: np.ndarray, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()
