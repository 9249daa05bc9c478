"""An output folder's records: one dataset per folder, made with one set of settings.

Two prefixes in one folder would share sizes.json, stats.json and errors.jsonl (each run rewrites
them from its own groups), so a second prefix is refused rather than kept apart by convention.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path

from avtpretrain.io import atomic_write_text
from avtpretrain.writer import shardwriter as sw
from avtpretrain.writer.build import BuildSettings

# Bumped when the key rule (keys.py) changes: a resume must not mix keys made by two rules.
KEY_RULE = 2
_ANY_SHARD = re.compile(r"(?P<prefix>.+)-\d{6,}(?:_\d{2,})?\.tar")
_ANY_SETTINGS = re.compile(r"settings-(?P<prefix>.+)\.json")


class FolderError(ValueError):
    """The output folder cannot take this run (it holds another dataset)."""


def fingerprint(args: argparse.Namespace, settings: BuildSettings, fmt_name: str) -> dict:
    """What must not change between a run and its resume (worker/job counts may)."""
    build = asdict(settings)
    del build["video"]["decode_threads"]  # follows --workers, which may change on a resume
    if not settings.video.decode_less:
        # Recorded as folders begun before frames were skipped recorded it: --decode_all_frames
        # finishes them.
        del build["video"]["decode_less"]
    return {
        "manifest_sha256": hashlib.sha256(args.manifest.read_bytes()).hexdigest(),
        "format": fmt_name,
        "samples_per_shard": args.samples_per_shard,
        "max_shard_bytes": args.max_shard_bytes,
        "build": build,
        "key_rule": KEY_RULE,
    }


def check_settings(out_dir: Path, prefix: str, fingerprint: dict) -> None:
    path = out_dir / sw.PROGRESS_DIR / f"settings-{prefix}.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != fingerprint:
            changed = sorted(k for k in fingerprint if old.get(k) != fingerprint[k])
            raise SystemExit(
                f"make_shards.py: {out_dir} holds shards '{prefix}' made with other settings "
                f"({', '.join(changed)} differ); rerun with --overwrite or another --output_dir"
            )
    atomic_write_text(path, json.dumps(fingerprint, indent=1, sort_keys=True))


def other_dataset(out_dir: Path, prefix: str) -> tuple[str, str] | None:
    """(prefix, file showing it) of a dataset other than `prefix` in the folder, if any."""
    found = [(p, _ANY_SHARD) for p in out_dir.iterdir()] if out_dir.is_dir() else []
    progress = out_dir / sw.PROGRESS_DIR
    found += [(p, _ANY_SETTINGS) for p in progress.iterdir()] if progress.is_dir() else []
    for path, pattern in sorted(found):
        match = pattern.fullmatch(path.name)
        if match and match["prefix"] != prefix:
            return match["prefix"], str(path.relative_to(out_dir))
    return None


def check_one_dataset(out_dir: Path, prefix: str) -> None:
    other = other_dataset(out_dir, prefix)
    if other:
        raise FolderError(
            f"{out_dir} already holds dataset '{other[0]}' ({other[1]}); one dataset per folder: "
            f"use another --output_dir for '{prefix}', or --prefix {other[0]} to continue that one"
        )


def remove_prefix(out_dir: Path, prefix: str) -> None:
    """Delete this prefix's shards, temporaries and progress records, and nothing else."""
    progress = out_dir / sw.PROGRESS_DIR
    doomed = sw.matching(out_dir, sw.shard_pattern(prefix))
    doomed += sw.matching(out_dir, sw.temp_pattern(prefix))
    doomed += sw.matching(progress, sw.marker_pattern(prefix))
    doomed += sw.matching(progress, re.compile(re.escape(f"settings-{prefix}.json")))
    for path in doomed:
        path.unlink()
