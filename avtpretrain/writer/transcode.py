"""Offline media work with PyAV: video → small H.264 mp4, any audio → mono PCM at a fixed rate.

Done once per clip when sharding, so that training never decodes 1080p sources. Encoders run
single-threaded: parallelism comes from worker processes, and one thread keeps x264 output
byte-for-byte reproducible, which is what makes an interrupted run resume to identical shards.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf


class MediaError(ValueError):
    """A media file cannot be used: a short fixed `reason` (counted) and a specific `detail`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class VideoSettings:
    fps: float = 8.0  # target frame rate; never above the source's
    short_side: int = 224  # target short side in pixels; never upscaled
    max_seconds: float = 30.0
    crf: int = 23
    preset: str = "veryfast"
    # fastdecode (no CABAC, no deblocking) makes training-time decode about 2x faster for about
    # 12% more bytes: shards are decoded every epoch but encoded once.
    tune: str | None = "fastdecode"
    interpolation: str = "AREA"  # AREA averages pixels when shrinking: no aliasing
    # Past 8K a frame is more likely a broken header than footage, and decoding each one costs
    # seconds; past an hour the source is a whole recording, not a clip (only the first
    # max_seconds would be kept). Both are checked from the header, before any decoding.
    max_source_pixels: int = 7680 * 4320
    max_duration_s: float = 3600.0


@dataclass(frozen=True)
class AudioSettings:
    sample_rate: int = 16000
    min_source_rate: int = 4000  # below this a header is wrong, not merely odd
    max_source_rate: int = 384000
    max_seconds: float = 30.0


def target_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Short side to `short_side` (never up), aspect kept, even sizes (H.264 needs them).

    Each side is the nearest even number but never above the source's: rounding 7 up to 8 would
    be an upscale. A side under 2 pixels has no even size that is not an upscale.
    """
    if min(width, height) < 2:
        raise MediaError(
            "source too small",
            f"{width}x{height} pixels; H.264 needs 2x2 and sources are never upscaled",
        )
    scale = min(1.0, short_side / min(width, height))
    return _even(width * scale, width), _even(height * scale, height)


def _even(x: float, source: int) -> int:
    return max(2, min(round(x / 2) * 2, source // 2 * 2))


def check_source(meta: dict[str, Any], settings: VideoSettings) -> None:
    """Reject a source its header shows to be too large or too long, before decoding it."""
    width, height = meta["source_width"] or 0, meta["source_height"] or 0
    if width * height > settings.max_source_pixels:
        raise MediaError(
            "source too large",
            f"{width}x{height} = {width * height} pixels, "
            f"limit --max_source_pixels={settings.max_source_pixels}",
        )
    duration = meta["source_duration"]
    if duration is not None and duration > settings.max_duration_s:
        raise MediaError(
            "source too long",
            f"{duration:.1f} s, limit --max_duration_s={settings.max_duration_s:g}",
        )


def _open(path: Path) -> Any:
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise MediaError("cannot open", f"{type(err).__name__}: {err}") from None


def _source_fps(stream: Any) -> float | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else None


def _video_source_meta(container: Any, stream: Any) -> dict[str, Any]:
    duration = float(container.duration / av.time_base) if container.duration else None
    return {
        "source_codec": stream.codec_context.name,
        "source_width": stream.codec_context.width,
        "source_height": stream.codec_context.height,
        "source_fps": _source_fps(stream),
        "source_duration": duration,
    }


def _frame_times(container: Any, stream: Any, max_seconds: float):
    """Decoded frames with their time since the first frame (index-based without timestamps)."""
    fps = _source_fps(stream) or 25.0
    first = None
    try:
        for n, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else n / fps
            first = t if first is None else first
            if t - first >= max_seconds:
                return
            yield t - first, frame
    except av.FFmpegError as err:
        raise MediaError("video decode failed", f"{type(err).__name__}: {err}") from None


def transcode_video(path: Path, settings: VideoSettings) -> tuple[bytes, dict[str, Any]]:
    """Re-encode the first `max_seconds` at ≤ `fps` and ≤ `short_side` as H.264/yuv420p mp4."""
    with _open(path) as src:
        if not src.streams.video:
            raise MediaError("no video stream")
        stream = src.streams.video[0]
        meta = _video_source_meta(src, stream)
        check_source(meta, settings)
        out_fps = Fraction(min(settings.fps, meta["source_fps"] or settings.fps)).limit_denominator(
            1001
        )
        buf, out, ostream, count, last_slot = io.BytesIO(), None, None, 0, -1
        for t, frame in _frame_times(src, stream, settings.max_seconds):
            # Output frame k shows the first source frame at or after k / fps (1 ms tolerance);
            # later source frames in the same slot are dropped.
            slot = math.floor(t * out_fps + 1e-3)
            if slot <= last_slot:
                continue
            last_slot = slot
            if out is None:
                width, height = target_size(frame.width, frame.height, settings.short_side)
                out = av.open(buf, mode="w", format="mp4", options={"fflags": "+bitexact"})
                ostream = _h264_stream(out, out_fps, width, height, settings)
            image = frame.reformat(
                width=ostream.width,
                height=ostream.height,
                format="yuv420p",
                interpolation=settings.interpolation,
            )
            image.pts, image.time_base = slot, 1 / out_fps
            out.mux(ostream.encode(image))
            count += 1
        if out is None:
            raise MediaError("no video frames")
        out.mux(ostream.encode(None))
        out.close()
    meta |= {
        "codec": "h264",
        "width": ostream.width,
        "height": ostream.height,
        "fps": float(out_fps),
        "num_frames": count,
        "duration": (last_slot + 1) / float(out_fps),
    }
    return buf.getvalue(), meta


# x264's MB-tree rate control was seen to encode the same small frames to different bytes from one
# call to the next in a process (it reads lookahead memory it has not written); without it every
# encode is byte-reproducible, which the resumable, byte-identical shards rely on.
X264_REPRODUCIBLE = "mbtree=0"


def _h264_stream(out: Any, fps: Fraction, width: int, height: int, settings: VideoSettings):
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.thread_count = 1
    # A keyframe every second keeps random access cheap when training samples a few frames, and
    # no B-frames spares the decoder frame reordering (measured: ~6% faster, same size).
    stream.codec_context.gop_size = max(1, round(float(fps)))
    stream.codec_context.max_b_frames = 0
    options = {
        "crf": str(settings.crf),
        "preset": settings.preset,
        "x264-params": X264_REPRODUCIBLE,
    }
    if settings.tune:
        options["tune"] = settings.tune
    stream.codec_context.options = options
    return stream


def probe_video(path: Path, settings: VideoSettings) -> dict[str, Any]:
    """Metadata of a video stored as is (--copy_video); decodes it to prove it has frames."""
    with _open(path) as src:
        if not src.streams.video:
            raise MediaError("no video stream")
        stream = src.streams.video[0]
        meta = _video_source_meta(src, stream)
        check_source(meta, settings)
        count = sum(1 for _ in _frame_times(src, stream, settings.max_seconds))
    if count == 0:
        raise MediaError("no video frames")
    return meta | {
        "codec": meta["source_codec"],
        "width": meta["source_width"],
        "height": meta["source_height"],
        "fps": meta["source_fps"],
        "num_frames": count,
        "duration": meta["source_duration"],
    }


def extract_audio(path: Path, settings: AudioSettings) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Mono int16 PCM at `sample_rate` from the first audio stream; None when there is none."""
    with _open(path) as src:
        if not src.streams.audio:
            return None
        stream = src.streams.audio[0]
        ctx = stream.codec_context
        rate, channels = ctx.sample_rate, ctx.channels
        if not rate or not settings.min_source_rate <= rate <= settings.max_source_rate:
            raise MediaError(
                "bad audio sample rate",
                f"{rate} Hz, expected {settings.min_source_rate}..{settings.max_source_rate}",
            )
        limit = int(settings.max_seconds * settings.sample_rate)
        chunks = _resample(src, stream, settings.sample_rate, limit)
    pcm = np.concatenate(chunks)[:limit] if chunks else np.zeros(0, np.int16)
    if pcm.size == 0:
        raise MediaError("no audio samples")
    meta = {
        "sample_rate": settings.sample_rate,
        "num_samples": int(pcm.size),
        "duration": pcm.size / settings.sample_rate,
        "source_sample_rate": rate,
        "source_channels": channels,
        "source_codec": ctx.name,
    }
    return pcm, meta


def _resample(src: Any, stream: Any, rate: int, limit: int) -> list[np.ndarray]:
    # libswresample downmixes any channel layout to mono and resamples in one step.
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    chunks, total = [], 0
    try:
        for frame in src.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
                total += chunks[-1].size
            if total >= limit:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as err:
        raise MediaError("audio decode failed", f"{type(err).__name__}: {err}") from None
    return chunks


def encode_flac(pcm: np.ndarray, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()
