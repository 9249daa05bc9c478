"""An output folder's settings record: a resume must use the settings the shards were made with."""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from avtpretrain.io import atomic_write_text
from avtpretrain.writer import shardwriter as sw
from avtpretrain.writer.build import BuildSettings


def fingerprint(args: argparse.Namespace, settings: BuildSettings, fmt_name: str) -> dict:
    """What must not change between a run and its resume (worker/job counts may)."""
    return {
        "manifest_sha256": hashlib.sha256(args.manifest.read_bytes()).hexdigest(),
        "format": fmt_name,
        "samples_per_shard": args.samples_per_shard,
        "max_shard_bytes": args.max_shard_bytes,
        "build": asdict(settings),
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


def remove_prefix(out_dir: Path, prefix: str) -> None:
    for path in out_dir.glob(f"{prefix}-*.tar"):
        path.unlink()
    for path in out_dir.glob(f".{prefix}-*.tar.*.tmp"):
        path.unlink()
    progress = out_dir / sw.PROGRESS_DIR
    if progress.is_dir():
        for path in progress.glob(f"*{prefix}*.json"):
            path.unlink()
