"""Random access to clips by id: videos (and their sound) from a folder of files or from
make_shards output; sounds alone (audio–text retrieval) from a folder of audio files or shards.

Finetuning reads annotation rows in any order, so it needs the video of one id at a time.
webdataset 1.0.2 only streams tars, so shards are indexed once from their tar headers (names,
offsets, sizes; no payload is read) and a video is one seek + read after that.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from avtpretrain.contract import format as fmt
from avtpretrain.reader import decode
from avtpretrain.reader.annotations import AnnotationError, video_key
from avtpretrain.reader.audio_annotations import audio_key
from avtpretrain.reader.shards import resolve_shards

SHOWN = 5  # missing ids named in messages and results: enough to find the pattern, still one line


@dataclass(frozen=True)
class Missing:
    """Annotated videos that are not in the index: how many, the first few in file order, and
    how many annotation rows name them."""

    count: int = 0
    first: tuple[str, ...] = ()
    rows: int = 0

    def shown(self) -> str:
        more = ", ..." if self.count > len(self.first) else ""
        return ", ".join(repr(k) for k in self.first) + more

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "first": list(self.first), "rows": self.rows}


@dataclass(frozen=True)
class _Member:
    path: str
    offset: int
    size: int


def _member_bytes(member: _Member) -> bytes:
    with Path(member.path).open("rb") as f:
        f.seek(member.offset)
        return f.read(member.size)


def _bytes(found: Path | _Member) -> bytes:
    return found.read_bytes() if isinstance(found, Path) else _member_bytes(found)


def _shard_members(specs: list[str]) -> tuple[str, dict[str, _Member], dict[str, _Member]]:
    """(description, video members, flac members) of make_shards output, keyed by sample."""
    shards = resolve_shards(specs)
    videos: dict[str, _Member] = {}
    sounds: dict[str, _Member] = {}
    for url in shards.urls:
        with tarfile.open(url) as tar:
            for info in tar:
                parts = fmt.split_member(info.name)
                if not (info.isfile() and parts):
                    continue
                member = _Member(url, info.offset_data, info.size)
                if parts[1] in fmt.VIDEO_EXTS:
                    videos.setdefault(parts[0], member)
                elif parts[1] == fmt.AUDIO_EXT:
                    sounds.setdefault(parts[0], member)
    return shards.describe(), videos, sounds


def _folder_files(root: Path, field: str, listing, exts: frozenset[str]) -> list[Path]:
    """The files of `listing(root)` with one of `exts`, sorted."""
    if not root.is_dir():
        raise AnnotationError(f"downstream.{field}: {root} is not a folder")
    return sorted(p for p in listing(root) if p.suffix.lstrip(".").lower() in exts and p.is_file())


def _first_by_key(files: list[Path], key) -> dict[str, Path | _Member]:
    """key(file name) → the first file of that key, in the files' order."""
    where: dict[str, Path | _Member] = {}
    for path in files:
        where.setdefault(key(path.name), path)
    return where


class _Index:
    """Which clip ids are there, and the check of annotation ids against them."""

    noun = "video"

    def __init__(self, where: dict[str, Path | _Member], source: str) -> None:
        self._where = where
        self.source = source

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def require(self, keys: list[str], what: str, limit: int = 0) -> Missing:
        """The clips among `keys` (one per annotation row) that are not there; fails before
        training when more than `limit` distinct clips are missing."""
        absent = [k for k in keys if k not in self._where]
        distinct = list(dict.fromkeys(absent))
        missing = Missing(len(distinct), tuple(distinct[:SHOWN]), len(absent))
        if missing.count > limit:
            raise AnnotationError(
                f"{what}: {missing.count} {self.noun} id(s) not found in {self.source}, more "
                f"than downstream.max_missing_videos={limit} (first: {missing.shown()}; ids "
                "match file names or shard keys without extension)"
            )
        return missing


class SoundIndex(_Index):
    """clip key → its sound, for audio–text retrieval: a folder of audio files (`<id>.<ext>`,
    wav/flac/mp3/..., in subfolders too: Clotho ships one folder per split) or the flac members
    of make_shards output."""

    noun = "audio clip"

    @classmethod
    def from_folder(cls, root: str | Path) -> SoundIndex:
        root = Path(root)
        files = _folder_files(root, "audio_root", lambda r: r.rglob("*"), fmt.AUDIO_EXTS)
        return cls(_first_by_key(files, audio_key), str(root))

    @classmethod
    def from_shards(cls, specs: list[str]) -> SoundIndex:
        source, _, sounds = _shard_members(specs)
        return cls(dict(sounds), source)

    def audio(self, key: str) -> tuple[torch.Tensor, int]:
        """The clip's sound as a mono waveform and its rate. A folder's files go through FFmpeg
        (m4a, aac, opus... as well as wav and flac), resampled to 16 kHz as make_shards does."""
        found = self._where[key]
        if not isinstance(found, Path):
            return decode.read_audio(_member_bytes(found))
        wave = decode.read_track_audio(found.read_bytes())
        if wave is None:
            raise ValueError(f"{found}: no audio stream")
        return wave


class VideoIndex(_Index):
    """video_key → bytes; built from a folder (`<id>.<ext>`) or from shards (`<key>.mp4`). A
    clip's sound (`audio`) is its shard's flac member, or a video file's own audio track."""

    def __init__(
        self, where: dict[str, Path | _Member], source: str, sound: dict[str, _Member] | None = None
    ) -> None:
        super().__init__(where, source)
        self._sound = sound  # None: a folder, whose videos carry their own audio tracks

    @classmethod
    def from_folder(cls, root: str | Path) -> VideoIndex:
        root = Path(root)
        files = _folder_files(root, "video_root", lambda r: r.iterdir(), fmt.VIDEO_EXTS)
        return cls(_first_by_key(files, video_key), str(root))

    @classmethod
    def from_shards(cls, specs: list[str]) -> VideoIndex:
        source, videos, sounds = _shard_members(specs)
        return cls(dict(videos), source, sounds)

    def read(self, key: str) -> bytes:
        return _bytes(self._where[key])

    def audio(self, key: str, data: bytes | None = None) -> tuple[torch.Tensor, int] | None:
        """The clip's sound as a mono waveform and its rate; None when it has none. `data`: the
        video's bytes when the caller has read them already."""
        if self._sound is None:
            return decode.read_track_audio(self.read(key) if data is None else data)
        found = self._sound.get(key)
        return decode.read_audio(_member_bytes(found)) if found is not None else None
