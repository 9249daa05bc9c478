"""One source sample → the members of one shard sample (`{ext: bytes}`), or a rejection.
Clips cut from a longer video (start/end) are built in runs: writer/clips.py."""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avtpretrain.contract import format as fmt
from avtpretrain.writer.audio import (
    AudioSettings,
    encode_flac,
    extract_audio,
)
from avtpretrain.writer.captions import DEFAULT_MAX_CAPTION_CHARS, caption_problem, normalise_text
from avtpretrain.writer.manifest import SourceSample
from avtpretrain.writer.track import TrackReader
from avtpretrain.writer.transcode import (
    MediaError,
    VideoSettings,
    probe_video,
    transcode_video,
)


class Rejected(Exception):  # noqa: N818 - reads as "raise Rejected(stage, reason)"
    """A rejected sample: `stage` and a short fixed `reason` are counted; `detail` is specific."""

    def __init__(self, stage: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{stage}: {reason}" + (f" ({detail})" if detail else ""))
        self.stage, self.reason, self.detail = stage, reason, detail


@dataclass(frozen=True)
class BuildSettings:
    video_root: str
    audio_root: str | None = None
    text_root: str | None = None
    video: VideoSettings = field(default_factory=VideoSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    copy_video: bool = False
    max_caption_chars: int = DEFAULT_MAX_CAPTION_CHARS


def _path_problem(err: Exception) -> str:
    """A short fixed reason for why the OS could not look a path up."""
    if isinstance(err, UnicodeError):
        return "path not encodable"  # a lone surrogate from a JSON "\ud800" escape
    if isinstance(err, ValueError):
        return "NUL byte in path"  # os.stat's other ValueError for a str path
    if isinstance(err, RuntimeError) or getattr(err, "errno", None) == errno.ELOOP:
        return "symlink loop"  # RuntimeError: Path.resolve() before Python 3.13
    if getattr(err, "errno", None) == errno.ENAMETOOLONG:
        return "path too long"
    return "unreadable path"


def resolve_under(root: str | None, relative: str, what: str) -> Path:
    """The file `relative` inside `root`; rejects paths (or symlinks) that leave the root.

    Any path the OS refuses (a symlink loop, a name past NAME_MAX, a NUL byte) rejects this one
    sample instead of raising out of the run.
    """
    if root is None:
        raise Rejected("manifest", "no root given", f"{what} {relative} but no --{what}_root")
    try:
        base = Path(root).resolve()
        path = (base / relative).resolve()
        inside = path.is_relative_to(base)
        size = path.stat().st_size if inside and path.is_file() else None
    except (OSError, ValueError, RuntimeError) as err:
        detail = f"{relative!r}: {type(err).__name__}: {err}"
        raise Rejected(what, _path_problem(err), detail) from None
    if not inside:
        raise Rejected(
            "manifest", "path escapes root", f"{what} {relative} is outside --{what}_root"
        )
    if size is None:
        raise Rejected(what, "missing file", relative)
    if size == 0:
        raise Rejected(what, "zero-byte file", relative)
    return path


def read_caption(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise Rejected("text", "unreadable file", f"{path.name}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        detail = f"byte {err.object[err.start]:#04x} at offset {err.start} of {path.name}"
        raise Rejected("text", "not valid UTF-8", detail) from None


def sample_captions(src: SourceSample, settings: BuildSettings) -> list[str]:
    raw = list(src.captions)
    if src.text is not None:
        raw.append(read_caption(resolve_under(settings.text_root, src.text, "text")))
    captions = [normalise_text(r) for r in raw]
    for caption in captions:
        problem = caption_problem(caption, settings.max_caption_chars)
        if problem:
            reason, detail = problem
            raise Rejected("text", reason, f"{src.text}: {detail}" if src.text else detail)
    return captions


def _video(
    src: SourceSample, settings: BuildSettings, track: TrackReader | None = None
) -> tuple[Path, str, bytes, dict[str, Any]]:
    path = resolve_under(settings.video_root, src.video or "", "video")
    try:
        if settings.copy_video:
            ext = path.suffix.lstrip(".").lower()
            if ext not in fmt.VIDEO_EXTS:
                raise Rejected("video", "unsupported container", f".{ext} under --copy_video")
            meta = probe_video(path, settings.video)
            return path, ext, _read_bytes(path, "video"), meta
        data, meta = transcode_video(path, settings.video, track)
        return path, fmt.VIDEO_EXT, data, meta
    except MediaError as err:
        raise Rejected("video", err.reason, err.detail) from None


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise Rejected(what, "unreadable file", f"{path.name}: {err.strerror}") from None


def audio_source(src: SourceSample, video_path: Path, settings: BuildSettings):
    """(path, origin) of the sample's audio, or None when it has none to read."""
    if src.audio is not None:
        return resolve_under(settings.audio_root, src.audio, "audio"), "file"
    if src.audio_from_video:
        return video_path, "video_track"
    return None


def _audio(src: SourceSample, video_path: Path, settings: BuildSettings, track=None):
    source = audio_source(src, video_path, settings)
    if source is None:
        return None, None
    path, origin = source
    try:
        if track is not None and track.used and origin == "video_track":
            found = track.result()
        else:
            found = extract_audio(path, settings.audio)
    except MediaError as err:
        raise Rejected("audio", err.reason, err.detail) from None
    if found is None:
        if origin == "file":
            raise Rejected("audio", "no audio stream", src.audio or "")
        return None, None  # a silent video: recorded as "no audio", never invented
    pcm, meta = found
    return encode_flac(pcm, settings.audio.sample_rate), meta | {"origin": origin}


def shard_members(
    src: SourceSample, captions: list[str], video: tuple[str, bytes, dict], audio: tuple
) -> dict[str, bytes]:
    video_ext, video_bytes, video_meta = video
    audio_bytes, audio_meta = audio
    meta = {
        "key": src.key,
        "manifest_line": src.line,
        "original_key": src.original_key,
        "sources": {"video": src.video, "audio": src.audio, "text": src.text},
        "modalities": {"video": True, "audio": audio_bytes is not None, "text": True},
        "video": video_meta | {"ext": video_ext},
        "audio": audio_meta,
        "captions": captions,
    }
    members = {
        fmt.META_EXT: json.dumps(meta, sort_keys=True, ensure_ascii=False).encode("utf-8"),
        fmt.TEXT_EXT: ("\n".join(captions) + "\n").encode("utf-8"),
        video_ext: video_bytes,
    }
    if audio_bytes is not None:
        members[fmt.AUDIO_EXT] = audio_bytes
    return members


def build_sample(src: SourceSample, settings: BuildSettings) -> dict[str, bytes]:
    """Shard members of one sample; raises `Rejected(stage, reason)` for any bad input."""
    if src.rejected:
        raise Rejected(*src.rejected)
    if src.clip is not None:
        raise ValueError("a clip (start/end) is built by clips.build_samples, with its run")
    captions = sample_captions(src, settings)
    track = TrackReader(settings.audio) if src.audio is None and src.audio_from_video else None
    video_path, video_ext, video_bytes, video_meta = _video(src, settings, track)
    audio = _audio(src, video_path, settings, track)
    return shard_members(src, captions, (video_ext, video_bytes, video_meta), audio)
