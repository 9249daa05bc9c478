"""The end-of-run summary of make_shards.py: totals, this run's share, speed, rejections."""

from __future__ import annotations

import shutil
from pathlib import Path


def print_summary(stats: dict, out_dir: Path, fmt_name: str) -> None:
    run = stats["last_run"]
    width = shutil.get_terminal_size((100, 20)).columns
    print("-" * min(width, 72))
    rows = [
        ("output", f"{out_dir} ({fmt_name} manifest)"),
        (
            "shards",
            f"{stats['shards']} ({stats['groups_done']}/{stats['groups_total']} groups done)",
        ),
        ("this run", f"{run['groups_written']} written, {run['groups_skipped']} already done"),
        (
            "samples",
            f"{stats['samples']} written, {stats['rejected']} rejected, "
            f"{stats['without_audio']} without audio",
        ),
        (
            "media",
            f"{stats['video_seconds']:.1f}s video, {stats['audio_seconds']:.1f}s audio, "
            f"{stats['bytes'] / 1e6:.1f} MB",
        ),
        (
            "speed",
            f"{run['samples_processed']} samples in {run['seconds']:.1f}s "
            f"({run['samples_per_second'] or 0:.1f} samples/s)",
        ),
    ]
    rows += [(f"  {reason}", str(n)) for reason, n in stats["failures"].items()]
    for name, value in rows:
        print(f"{name:>28}  {value}")
