"""Writing shard groups crash-safely, and merging their records into sizes/stats/errors files.

Rows of the manifest are cut into groups of `samples_per_shard`; group g becomes shard
`<prefix>-<g>.tar` (split into `_01`, `_02`… parts only under --max_shard_bytes). A group is
written to temporary files, renamed, and only then marked done by `.progress/<shard>.json`, which
also holds its sample counts, statistics and rejections. A rerun skips marked groups and rebuilds
the others from scratch; outputs are deterministic, so an interrupted run plus a rerun equals an
uninterrupted run. A group whose every row is rejected is done with no shard at all: an empty tar
would count as a shard and starve a reader worker.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avtpretrain.contract import format as fmt
from avtpretrain.io import atomic_write_text
from avtpretrain.writer.build import BuildSettings, Rejected
from avtpretrain.writer.clips import build_samples
from avtpretrain.writer.manifest import SourceSample

PROGRESS_DIR = ".progress"
# Member order inside a sample: any order reads back; a fixed one gives reproducible bytes.
_MEMBER_ORDER = (fmt.META_EXT, fmt.TEXT_EXT, fmt.AUDIO_EXT)


def shard_pattern(prefix: str) -> re.Pattern[str]:
    """Exactly this prefix's shard names: `train` must not match `train-hq-000000.tar`."""
    return re.compile(rf"{re.escape(prefix)}-\d{{6,}}(?:_\d{{2,}})?\.tar")


def temp_pattern(prefix: str) -> re.Pattern[str]:
    """This prefix's temporary shards (`.<shard>.<pid>.tmp`)."""
    return re.compile(rf"\.{shard_pattern(prefix).pattern}\.\d+\.tmp")


def marker_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}-\d{{6,}}\.json")


def matching(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))


@dataclass(frozen=True)
class GroupSpec:
    group: int
    prefix: str
    out_dir: str
    max_shard_bytes: int | None = None


def _tar_entry_size(data: bytes) -> int:
    return 512 + (len(data) + 511) // 512 * 512


class TarShard:
    """A tar being written under a temporary name; `commit()` renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # The pid keeps a dying writer and its replacement from ever sharing a temporary file.
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # Kept open across add() calls and closed by commit()/abort(): not a `with` block.
        self.tar = tarfile.open(self.tmp, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
        self.count = 0
        self.bytes = 0

    def add(self, key: str, members: dict[str, bytes]) -> None:
        exts = [e for e in _MEMBER_ORDER if e in members] + sorted(
            set(members) - set(_MEMBER_ORDER)
        )
        for ext in exts:
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(members[ext]), 0, 0o644
            self.tar.addfile(info, io.BytesIO(members[ext]))
            self.bytes += _tar_entry_size(members[ext])
        self.count += 1

    def commit(self) -> None:
        self.tar.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.tar.close()
        self.tmp.unlink(missing_ok=True)


def marker_path(out_dir: Path, prefix: str, group: int) -> Path:
    return out_dir / PROGRESS_DIR / f"{fmt.shard_name(prefix, group)[: -len('.tar')]}.json"


def group_files(out_dir: Path, prefix: str, group: int) -> list[Path]:
    """Every file a group may have left: its shards (all parts) and their temporaries."""
    first = fmt.shard_name(prefix, group)
    parts = f"{first[: -len('.tar')]}_*.tar"
    found = [out_dir / first, *out_dir.glob(f".{first}.*.tmp")]
    found += list(out_dir.glob(parts)) + list(out_dir.glob(f".{parts}.*.tmp"))
    return [p for p in found if p.exists()]


def is_done(out_dir: Path, prefix: str, group: int) -> bool:
    marker = marker_path(out_dir, prefix, group)
    if not marker.is_file():
        return False
    record = json.loads(marker.read_text(encoding="utf-8"))
    return all((out_dir / name).is_file() for name in record["shards"])


def _sample_stats(members: dict[str, bytes]) -> dict[str, float]:
    meta = json.loads(members[fmt.META_EXT])
    return {
        "video_seconds": meta["video"]["duration"] or 0.0,
        "audio_seconds": meta["audio"]["duration"] if meta["audio"] else 0.0,
        "bytes": sum(len(b) for b in members.values()),
        "without_audio": 0 if meta["modalities"]["audio"] else 1,
    }


def write_group(
    spec: GroupSpec,
    sources: Iterable[SourceSample],
    settings: BuildSettings,
    on_sample: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Build and write one group from scratch; returns (and saves) its done-record."""
    out_dir = Path(spec.out_dir)
    for stale in group_files(out_dir, spec.prefix, spec.group):
        stale.unlink()
    shards: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    totals: Counter[str] = Counter()
    part = TarShard(out_dir / fmt.shard_name(spec.prefix, spec.group))
    try:
        for src, members in build_samples(sources, settings):
            on_sample()
            if isinstance(members, Rejected):
                errors.append(_error_record(src, members))
                continue
            size = sum(_tar_entry_size(b) for b in members.values())
            if spec.max_shard_bytes and part.count and part.bytes + size > spec.max_shard_bytes:
                part.commit()
                shards[part.path.name] = part.count
                name = fmt.shard_name(spec.prefix, spec.group, len(shards))
                part = TarShard(out_dir / name)
            part.add(src.key, members)
            totals.update(_sample_stats(members))
        if part.count:
            part.commit()
            shards[part.path.name] = part.count
        else:
            part.abort()
    except BaseException:
        part.abort()
        raise
    record = {
        "group": spec.group,
        "shards": shards,
        "samples": sum(shards.values()),
        "errors": errors,
        "stats": dict(totals),
    }
    atomic_write_text(marker_path(out_dir, spec.prefix, spec.group), json.dumps(record))
    return record


def _error_record(src: SourceSample, rej: Rejected) -> dict[str, Any]:
    return {
        "key": src.key,
        "line": src.line,
        "sources": {"video": src.video, "audio": src.audio, "text": src.text},
        "stage": rej.stage,
        "reason": rej.reason,
        "detail": rej.detail,
    }


def load_records(out_dir: Path, prefix: str) -> list[dict[str, Any]]:
    """Done-records of every finished group of this prefix, in group order."""
    records = []
    for path in matching(out_dir / PROGRESS_DIR, marker_pattern(prefix)):
        record = json.loads(path.read_text(encoding="utf-8"))
        if all((out_dir / name).is_file() for name in record["shards"]):
            records.append(record)
    return sorted(records, key=lambda r: r["group"])


def merge_records(out_dir: Path, prefix: str, expected_groups: int) -> dict[str, Any]:
    """Write sizes.json, errors.jsonl and stats.json from all done-records; returns the stats."""
    records = load_records(out_dir, prefix)
    sizes = {name: n for r in records for name, n in sorted(r["shards"].items())}
    errors = [e for r in records for e in r["errors"]]
    totals: Counter[str] = Counter()
    for r in records:
        totals.update(r["stats"])
    failures = Counter(f"{e['stage']}: {e['reason']}" for e in errors)
    stats = {
        "shards": len(sizes),
        "groups_done": len(records),
        "groups_total": expected_groups,
        "complete": len(records) == expected_groups,
        "samples": sum(sizes.values()),
        "rejected": len(errors),
        "without_audio": int(totals["without_audio"]),
        "video_seconds": round(totals["video_seconds"], 3),
        "audio_seconds": round(totals["audio_seconds"], 3),
        "bytes": int(totals["bytes"]),
        "failures": dict(sorted(failures.items())),
    }
    atomic_write_text(out_dir / fmt.SIZES_FILE, json.dumps(sizes, indent=1))
    atomic_write_text(
        out_dir / fmt.ERRORS_FILE, "".join(json.dumps(e, sort_keys=True) + "\n" for e in errors)
    )
    return stats
