"""One source sample → the members of one shard sample (`{ext: bytes}`), or a rejection."""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avtpretrain.contract import format as fmt
from avtpretrain.writer.captions import DEFAULT_MAX_CAPTION_CHARS, caption_problem, normalise_text
from avtpretrain.writer.manifest import SourceSample
from avtpretrain.writer.transcode import (
    AudioSettings,
    MediaError,
    VideoSettings,
    encode_flac,
    extract_audio,
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


def _captions(src: SourceSample, settings: BuildSettings) -> list[str]:
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


def _video(src: SourceSample, settings: BuildSettings) -> tuple[Path, str, bytes, dict[str, Any]]:
    path = resolve_under(settings.video_root, src.video or "", "video")
    try:
        if settings.copy_video:
            ext = path.suffix.lstrip(".").lower()
            if ext not in fmt.VIDEO_EXTS:
                raise Rejected("video", "unsupported container", f".{ext} under --copy_video")
            meta = probe_video(path, settings.video)
            return path, ext, _read_bytes(path, "video"), meta
        data, meta = transcode_video(path, settings.video)
        return path, fmt.VIDEO_EXT, data, meta
    except MediaError as err:
        raise Rejected("video", err.reason, err.detail) from None


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise Rejected(what, "unreadable file", f"{path.name}: {err.strerror}") from None


def _audio(src: SourceSample, video_path: Path, settings: BuildSettings):
    if src.audio is not None:
        path, origin = resolve_under(settings.audio_root, src.audio, "audio"), "file"
    elif src.audio_from_video:
        path, origin = video_path, "video_track"
    else:
        return None, None
    try:
        found = extract_audio(path, settings.audio)
    except MediaError as err:
        raise Rejected("audio", err.reason, err.detail) from None
    if found is None:
        if origin == "file":
            raise Rejected("audio", "no audio stream", src.audio or "")
        return None, None  # a silent video: recorded as "no audio", never invented
    pcm, meta = found
    return encode_flac(pcm, settings.audio.sample_rate), meta | {"origin": origin}


def build_sample(src: SourceSample, settings: BuildSettings) -> dict[str, bytes]:
    """Shard members of one sample; raises `Rejected(stage, reason)` for any bad input."""
    if src.rejected:
        raise Rejected(*src.rejected)
    captions = _captions(src, settings)
    video_path, video_ext, video_bytes, video_meta = _video(src, settings)
    audio_bytes, audio_meta = _audio(src, video_path, settings)
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
