"""bench_loader.py's memory and start-up part: peak resident memory of the loader workers and the
time to the first batch, at the base recipe's shuffle settings and with a tighter byte bound.

The bench's shards are listed many times over so that each worker streams more raw bytes than
its shuffle buffer may hold: the bound, not the data, is then what limits the buffer.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from avtpretrain.config import DataConfig
from avtpretrain.dist import DistInfo
from avtpretrain.reader.loaders import train_stream


def children_peak_rss_mb() -> float:
    """The largest peak resident set (VmHWM) among this process's live child processes, in MB.
    Forked workers count the pages they share with this process too: the figure is an upper
    bound of what each worker adds."""
    me, peak = os.getpid(), 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            status = (stat.parent / "status").read_text() if ppid == me else ""
        except (OSError, IndexError, ValueError):
            continue  # a process that exited between the listing and the read: not a worker
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def _self_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmRSS line")


def measure(model: Any, data: DataConfig, batch_size: int, batches: int) -> dict[str, float]:
    """Time to the first batch from a fresh stream, then the workers' peak RSS after `batches`."""
    gc.collect()  # an earlier stream's persistent workers end with it, not with the measure
    stream = train_stream(model, data, batch_size=batch_size, dist=DistInfo(), seed=0)
    started = time.perf_counter()
    it = iter(stream)
    next(it)
    first = time.perf_counter() - started
    for _ in range(batches - 1):
        next(it)
    peak = children_peak_rss_mb()
    del it, stream  # persistent workers end with their loader
    return {"first_batch_s": round(first, 2), "worker_peak_rss_mb": round(peak, 1)}


def memory_report(model: Any, data: DataConfig, base: DataConfig, args) -> dict[str, Any]:
    """Three settings over the same tiled shards: the base recipe's shuffle (samples, initial
    fill, MB bound), a 64 MB bound, and a full initial fill (the old behaviour) for contrast."""
    tiled = replace(data, train_shards=data.train_shards * args.tile)
    common = {"shuffle_buffer": base.shuffle_buffer, "samples_per_epoch": None}
    settings = {
        "base recipe": {"shuffle_initial": base.shuffle_initial, "shuffle_buffer_mb": 1024},
        "64 MB bound": {"shuffle_initial": base.shuffle_initial, "shuffle_buffer_mb": 64},
        "no shuffle buffer": {"shuffle_buffer": 0, "shuffle_initial": 1},
        "full initial fill": {"shuffle_initial": base.shuffle_buffer, "shuffle_buffer_mb": 1024},
    }
    batches = args.clips * args.tile // args.batch_size // 2  # half of the stream: buffers full
    out: dict[str, Any] = {"parent_rss_mb": round(_self_rss_mb(), 1), "settings": {}}
    for name, fields in settings.items():
        cfg = replace(tiled, **(common | fields))
        out["settings"][name] = fields | measure(model, cfg, args.batch_size, batches)
    return out


def print_memory(report: dict[str, Any], workers: int) -> None:
    print(f"\n{'shuffle setting':<20}{'first batch s':>14}{'worker peak RSS MB':>20}")
    for name, row in report["settings"].items():
        print(f"{name:<20}{row['first_batch_s']:>14}{row['worker_peak_rss_mb']:>20}")
    print(f"({workers} workers; the parent's own RSS is {report['parent_rss_mb']} MB, shared")
    print(" with forked workers and counted in their RSS)")
