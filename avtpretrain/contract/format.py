"""The shard contract, shared by the writer, the reader and the inspector (stdlib only).

A shard is a plain tar read by `webdataset.WebDataset`: the files of one sample are consecutive and
named `<key>.<ext>`, where the key has no dot. Each sample has
  json  metadata: sources, modalities present, video/audio properties, all captions
  txt   captions, UTF-8, one per line (training picks one; the first is the canonical one)
  mp4   the video (or the source's own extension under --copy_video)
  flac  mono audio, only when the sample has audio (json says so either way)
Beside the shards: sizes.json (shard file name → sample count), stats.json, errors.jsonl.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SIZES_FILE = "sizes.json"
STATS_FILE = "stats.json"
ERRORS_FILE = "errors.jsonl"
META_EXT = "json"
TEXT_EXT = "txt"
AUDIO_EXT = "flac"
VIDEO_EXT = "mp4"
# Containers a --copy_video sample may carry; the reader decodes any of them.
VIDEO_EXTS = frozenset({"mp4", "avi", "mkv", "webm", "mov", "mpg", "mpeg", "m4v", "ts"})
# Audio files that audio datasets (AudioCaps, Clotho) come as; their names lose these for keys.
AUDIO_EXTS = frozenset({"wav", "flac", "mp3", "ogg", "opus", "m4a", "aac"})
REQUIRED_EXTS = frozenset({META_EXT, TEXT_EXT})

_KEY_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_SHARD_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.tar")


def sanitize_key(key: str) -> str:
    """Replace every run of characters outside [A-Za-z0-9_-] (dots, slashes, spaces) with `_`."""
    return _KEY_BAD_CHARS.sub("_", key).strip("_") or "_"


def is_shard_file(name: str) -> bool:
    """A plain `NAME.tar` in its folder: no path, no `pipe:`, not hidden."""
    return _SHARD_FILE.fullmatch(name) is not None


def shard_name(prefix: str, group: int, part: int = 0) -> str:
    """`prefix-000012.tar`; a group split by --max_shard_bytes goes on as `prefix-000012_01.tar`."""
    return f"{prefix}-{group:06d}.tar" if part == 0 else f"{prefix}-{group:06d}_{part:02d}.tar"


def split_member(name: str) -> tuple[str, str] | None:
    """(key, extension) as webdataset reads a member name; None for names it drops."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("__") or "." not in base:
        return None
    key, ext = base.split(".", 1)
    prefix = name[: len(name) - len(base)]
    return prefix + key, ext.lower()


def read_sizes(folder: Path) -> dict[str, int]:
    path = Path(folder) / SIZES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"{path}: cannot read shard sizes ({err})") from None
    return parse_sizes(text, str(path))


def parse_sizes(text: str, path: str) -> dict[str, int]:
    """A sizes.json's text (from a folder, or beside shards behind URLs), checked: `path` names
    it in errors."""
    try:
        sizes = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: cannot read shard sizes ({err})") from None
    if not isinstance(sizes, dict):
        raise ValueError(f"{path}: expected a mapping of shard file name to sample count")
    for name, count in sizes.items():
        # The names become paths and webdataset URLs: `pipe:cmd` or `../x` would run a command
        # or read outside the folder.
        if not is_shard_file(name):
            raise ValueError(f"{path}: {name!r} is not a plain shard file name (NAME.tar)")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{path}: {name}: expected a sample count >= 0, got {count!r}")
    return sizes
