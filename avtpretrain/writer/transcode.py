"""Offline video work with PyAV: a source video → small H.264 mp4(s), whole or cut into clips,
once per clip when sharding so that training never decodes 1080p sources. Frames no other frame
references go undecoded when the kept ones stay within one output frame of each other; clips of
one source come from one decode, from a seek before the first to the end of the last."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from avtpretrain.writer.h264 import ClipEncoder

Window = tuple[float, float]  # (start, end) in seconds from the start of the source
Result = tuple[bytes, dict[str, Any]]


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
    max_duration_s: float = 3600.0  # not for clips cut with start/end: only their span is decoded
    # Skip decoding frames no other frame needs, when the kept ones stay within one output frame
    # of each other (checked while decoding; a source where they do not is decoded again whole).
    decode_less: bool = True
    # Decoder threads (frame threading: the same frames of a valid stream, bit for bit). More
    # than one only when worker processes leave cores idle; not part of what a resume matches.
    decode_threads: int = 1


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


def check_source(meta: dict[str, Any], settings: VideoSettings, whole: bool = True) -> None:
    """Reject a source its header shows to be too large or (`whole`) too long, undecoded."""
    width, height = meta["source_width"] or 0, meta["source_height"] or 0
    if width * height > settings.max_source_pixels:
        raise MediaError(
            "source too large",
            f"{width}x{height} = {width * height} pixels, "
            f"limit --max_source_pixels={settings.max_source_pixels}",
        )
    duration = meta["source_duration"]
    if whole and duration is not None and duration > settings.max_duration_s:
        raise MediaError(
            "source too long",
            f"{duration:.1f} s, limit --max_duration_s={settings.max_duration_s:g}",
        )


def open_media(path: Path) -> Any:
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


def _decoded(container: Any, stream: Any, track: Any = None) -> Iterator[Any]:
    """The video stream's frames; an audio `track` is fed its stream's packets as they pass."""
    if track is None or track.stream is None:
        yield from container.decode(stream)
        return
    for packet in container.demux(stream, track.stream):
        if packet.stream is stream:
            yield from packet.decode()
        else:
            track.feed(packet)


def _frame_times(decoded: Iterable[Any], stream: Any, max_seconds: float):
    """Decoded frames with their time since the first frame (index-based without timestamps)."""
    fps = _source_fps(stream) or 25.0
    first = None
    try:
        for n, frame in enumerate(decoded):
            t = frame.time if frame.time is not None else n / fps
            first = t if first is None else first
            if t - first >= max_seconds:
                return
            yield t - first, frame
    except av.FFmpegError as err:
        raise MediaError("video decode failed", f"{type(err).__name__}: {err}") from None


def media_origin(container: Any) -> float:
    """Time 0 of clip windows: the container's start, as players and `ffmpeg -ss` count it."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def _window_frames(container: Any, stream: Any, first: float, last: float):
    """Decoded frames with their time from the container's start, from a seek to the keyframe
    before `first` up to `last`."""
    origin = media_origin(container)
    try:
        if first > 0:
            offset = round((origin + first) / stream.time_base)
            container.seek(offset, stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.time is None:
                raise MediaError("no frame timestamps", "clips cannot be cut from this video")
            t = frame.time - origin
            if t >= last:
                return
            yield t, frame
    except av.FFmpegError as err:
        raise MediaError("video decode failed", f"{type(err).__name__}: {err}") from None


def _encode(frames, clips: list[ClipEncoder], meta: dict, settings: VideoSettings, skip: bool):
    """Feed each decoded frame to the clips whose next slot it fills, reformatted once; a clip is
    finished (its encoder freed) once the frames pass its end. None when frames skipped in
    decoding came further apart than one output frame: decode again, every frame."""
    gap, prev, size = 1 / float(clips[0].fps) - 1e-3, None, None
    results: dict[int, Result | MediaError] = {}
    for t, frame in frames:
        if skip and (frame.time is None or (prev is not None and t - prev > gap)):
            return None  # without timestamps, skipped frames would shift the times
        prev = t
        for i, clip in enumerate(clips):
            if i not in results and t >= clip.end:
                results[i] = _result(clip, meta)
        wanted = [
            (c, slot)
            for i, c in enumerate(clips)
            if i not in results and (slot := c.slot(t)) is not None
        ]
        if not wanted:
            continue
        size = size or target_size(frame.width, frame.height, settings.short_side)
        image = frame.reformat(
            width=size[0], height=size[1], format="yuv420p", interpolation=settings.interpolation
        )
        for clip, slot in wanted:
            clip.encode(slot, image, t)
    for i, clip in enumerate(clips):
        if i not in results:
            results[i] = _result(clip, meta)
    late = [c for c in clips if c.first_time is None or c.first_time - max(c.start, 0) > gap]
    if skip and late:
        return None  # a clip with no frame, or a first frame later than a full decode's would be
    return [results[i] for i in range(len(clips))]


def _decode(
    path: Path, settings: VideoSettings, windows: list[Window] | None, track: Any = None
) -> list | None:
    with open_media(path) as src:
        if not src.streams.video:
            raise MediaError("no video stream")
        stream = src.streams.video[0]
        meta = _video_source_meta(src, stream) | {"cut": windows is not None}
        check_source(meta, settings, whole=windows is None)
        source_fps = meta["source_fps"] or settings.fps
        fps = Fraction(min(settings.fps, source_fps)).limit_denominator(1001)
        skip = settings.decode_less and source_fps >= 2 * fps
        if skip:
            stream.codec_context.skip_frame = "NONREF"
        # Always set: PyAV's default is as many slice threads as the machine has CPUs, in every
        # worker process.
        stream.thread_type = "AUTO" if settings.decode_threads > 1 else "SLICE"
        stream.thread_count = settings.decode_threads
        if windows is None:
            clips = [ClipEncoder(fps, settings)]
            if track is not None:
                track.start(src)
            decoded = _decoded(src, stream, track)
            frames = _frame_times(decoded, stream, settings.max_seconds)
        else:
            clips = [
                ClipEncoder(fps, settings, s, min(e, s + settings.max_seconds)) for s, e in windows
            ]
            first, last = min(c.start for c in clips), max(c.end for c in clips)
            frames = _window_frames(src, stream, first, last)
        results = _encode(frames, clips, meta, settings, skip)
        if results is not None and track is not None and isinstance(results[0], tuple):
            track.finish(src)  # (a video without frames is rejected: its audio is not needed)
        return results


def _transcode(
    path: Path, settings: VideoSettings, windows: list[Window] | None, track: Any = None
) -> list:
    results = _decode(path, settings, windows, track)
    if results is None:  # the first decode's encoders are gone before the second starts
        results = _decode(path, replace(settings, decode_less=False), windows, track)
    return results


def _result(clip: ClipEncoder, source: dict[str, Any]) -> Result | MediaError:
    source = dict(source)
    cut = source.pop("cut")
    done = clip.finish()
    if done is None:
        known = source["source_duration"]
        lasts = f"a {known:g} s source" if known is not None else "a source of unknown length"
        return MediaError(
            "no video frames", f"clip {clip.start:g}-{clip.end:g} s of {lasts}" if cut else ""
        )
    data, meta = done
    if cut:
        meta["clip"] = {
            "start": clip.start,
            "end": clip.end,
            "first_frame": clip.first_time,
            "last_frame": clip.last_time,
        }
    return data, source | meta


def transcode_video(path: Path, settings: VideoSettings, track: Any = None) -> Result:
    """Re-encode the first `max_seconds` at ≤ `fps` and ≤ `short_side` as H.264/yuv420p mp4;
    a `track` (writer/track.py) reads the audio track from the same read of the file."""
    [result] = _transcode(path, settings, None, track)
    if isinstance(result, MediaError):
        raise result
    return result


def transcode_clips(path: Path, settings: VideoSettings, windows: list[Window]) -> list:
    """One (mp4, meta) or MediaError per (start, end) window, all from one decode of `path`;
    a window longer than `max_seconds` keeps its first `max_seconds`."""
    return _transcode(path, settings, windows)


def probe_video(path: Path, settings: VideoSettings) -> dict[str, Any]:
    """Metadata of a video stored as is (--copy_video); decodes it to prove it has frames."""
    with open_media(path) as src:
        if not src.streams.video:
            raise MediaError("no video stream")
        stream = src.streams.video[0]
        meta = _video_source_meta(src, stream)
        check_source(meta, settings)
        count = sum(1 for _ in _frame_times(src.decode(stream), stream, settings.max_seconds))
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
