"""Source samples → shard members in manifest order, with clips (start/end) cut in runs:
consecutive rows cutting the same video (and audio source) are built from one decode of each."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

from avtpretrain.contract import format as fmt
from avtpretrain.writer.audio import encode_flac, extract_audio_clips
from avtpretrain.writer.build import (
    BuildSettings,
    Rejected,
    audio_source,
    build_sample,
    resolve_under,
    sample_captions,
    shard_members,
)
from avtpretrain.writer.manifest import SourceSample
from avtpretrain.writer.transcode import MediaError, transcode_clips

Built = dict[str, bytes] | Rejected


def build_samples(
    sources: Iterable[SourceSample], settings: BuildSettings
) -> Iterator[tuple[SourceSample, Built]]:
    """Each source with its members or its rejection, in order; consecutive clips of one video
    (with the same audio source) come from one decode of it."""
    for _, group in groupby(sources, _run_key):
        run = list(group)
        if run[0].clip is None or run[0].rejected:
            yield run[0], _guarded(lambda r, s: [build_sample(r[0], s)], run, settings)[0]
        else:
            yield from zip(run, _guarded(_build_clips, run, settings), strict=True)


def _run_key(src: SourceSample) -> tuple | int:
    if src.clip is None or src.rejected:
        return id(src)  # equal to no neighbour's: built alone
    return (src.video, src.audio, src.audio_from_video)


def _guarded(build, run: list[SourceSample], settings: BuildSettings) -> list[Built]:
    try:
        return build(run, settings)
    except Rejected as rej:
        return [rej] * len(run)
    except Exception as err:  # noqa: BLE001 - one sample's failure must not end the run
        # Counted and logged like any rejection, with the exception named so it can be fixed.
        return [Rejected("sample", "unexpected error", f"{type(err).__name__}: {err}")] * len(run)


def _build_clips(run: list[SourceSample], settings: BuildSettings) -> list[Built]:
    """Clips of one video: captions checked per clip, the video and audio decoded once."""
    first = run[0]
    video_path = resolve_under(settings.video_root, first.video or "", "video")
    if settings.copy_video:
        raise Rejected("video", "cannot cut clips", "--copy_video keeps sources whole")
    captions: list[list[str] | Rejected] = [
        _rejection_of(sample_captions, s, settings) for s in run
    ]
    windows = [s.clip for s in run if s.clip is not None]
    try:
        videos = transcode_clips(video_path, settings.video, windows)
    except MediaError as err:
        raise Rejected("video", err.reason, err.detail) from None
    audios = _audio_clips(first, video_path, settings, windows)
    out: list[Built] = []
    for src, text, video, audio in zip(run, captions, videos, audios, strict=True):
        problem = next((x for x in (text, video, audio) if isinstance(x, Exception)), None)
        if isinstance(problem, MediaError):
            stage = "video" if problem is video else "audio"
            problem = Rejected(stage, problem.reason, problem.detail)
        if problem is not None:
            out.append(problem)
        else:
            out.append(shard_members(src, text, (fmt.VIDEO_EXT, *video), audio))
    return out


def _rejection_of(build, *args):
    try:
        return build(*args)
    except Rejected as rej:
        return rej


def _audio_clips(src: SourceSample, video_path: Path, settings: BuildSettings, windows) -> list:
    """Per window (flac, meta), (None, None) for a video without sound there, or a rejection."""
    source = audio_source(src, video_path, settings)
    if source is None:
        return [(None, None)] * len(windows)
    path, origin = source
    try:
        found = extract_audio_clips(path, settings.audio, windows)
    except MediaError as err:
        raise Rejected("audio", err.reason, err.detail) from None
    if found is None and origin == "file":
        raise Rejected("audio", "no audio stream", src.audio or "")
    out: list = []
    for clip in found or [None] * len(windows):
        if clip is None or (isinstance(clip, MediaError) and origin == "video_track"):
            out.append((None, None))  # no sound in this part of the video: recorded, not invented
        elif isinstance(clip, MediaError):
            out.append(Rejected("audio", clip.reason, clip.detail))
        else:
            pcm, meta = clip
            out.append((encode_flac(pcm, settings.audio.sample_rate), meta | {"origin": origin}))
    return out
