"""`tools/make_shards.py`: raw (audio, text, video) triples → WebDataset shards, in parallel.

Rows are cut into groups of --samples_per_shard in manifest order; group g is shard g. Groups go
to jobs round-robin (--num_jobs/--job_index, or a SLURM array) and, inside a job, to --workers
processes, so every process writes disjoint shards without coordination.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from avtpretrain.data import format as fmt
from avtpretrain.data import shardwriter as sw
from avtpretrain.data.build import BuildSettings
from avtpretrain.data.manifest import FORMATS, ManifestError, SourceSample, read_manifest
from avtpretrain.data.transcode import AudioSettings, VideoSettings
from avtpretrain.io import atomic_write_text

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text: str) -> int:
    """'512M', '1.5G', '1000000' → bytes."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1] if value and value[-1] in _UNITS else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 512M or 2G, got {text!r}") from None
    return int(number * _UNITS[unit])


def _slurm_default(name: str, fallback: int) -> int:
    if name == "count" and "SLURM_ARRAY_TASK_COUNT" in os.environ:
        return int(os.environ["SLURM_ARRAY_TASK_COUNT"])
    if name == "index" and "SLURM_ARRAY_TASK_ID" in os.environ:
        return int(os.environ["SLURM_ARRAY_TASK_ID"]) - int(
            os.environ.get("SLURM_ARRAY_TASK_MIN", 0)
        )
    return fallback


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make_shards.py", description=__doc__.split("\n")[0])
    io_ = p.add_argument_group("input and output")
    io_.add_argument("--manifest", required=True, type=Path, help="CSV or JSONL manifest")
    io_.add_argument("--format", choices=("auto", *FORMATS), default="auto")
    io_.add_argument("--video_root", required=True)
    io_.add_argument("--audio_root", help="root of the manifest's audio files")
    io_.add_argument("--text_root", help="root of the manifest's caption .txt files (seed format)")
    io_.add_argument(
        "--audio_from_video",
        action="store_true",
        help="take audio from the video's own track when a row names no audio file "
        "(always on for alpro manifests)",
    )
    io_.add_argument("--video_ext", default=".mp4", help="alpro: video file = clip_name + this")
    io_.add_argument("--output_dir", type=Path, help="default: shards/<manifest stem>")
    io_.add_argument("--prefix", help="shard name prefix (default: the manifest's stem)")
    io_.add_argument(
        "--overwrite",
        action="store_true",
        help="delete this prefix's shards and progress, then start over",
    )
    io_.add_argument(
        "--merge_only",
        action="store_true",
        help="only rewrite sizes.json/stats.json/errors.jsonl from finished groups",
    )
    sh = p.add_argument_group("sharding")
    sh.add_argument("--samples_per_shard", type=int, default=1000)
    sh.add_argument("--max_shard_bytes", type=parse_bytes, help="split a shard past this (512M)")
    sh.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sh.add_argument("--num_jobs", type=int, default=_slurm_default("count", 1))
    sh.add_argument("--job_index", type=int, default=_slurm_default("index", 0))
    sh.add_argument(
        "--max_errors", type=int, help="exit 1 once more samples than this are rejected"
    )
    media = p.add_argument_group("media")
    media.add_argument("--fps", type=float, default=VideoSettings.fps)
    media.add_argument("--short_side", type=int, default=VideoSettings.short_side)
    media.add_argument("--max_seconds", type=float, default=VideoSettings.max_seconds)
    media.add_argument("--crf", type=int, default=VideoSettings.crf)
    media.add_argument("--preset", default=VideoSettings.preset, help="x264 preset")
    media.add_argument("--tune", default=VideoSettings.tune, help="x264 tune ('none' for none)")
    media.add_argument("--sample_rate", type=int, default=AudioSettings.sample_rate)
    media.add_argument("--copy_video", action="store_true", help="store source videos untouched")
    args = p.parse_args(argv)
    if args.samples_per_shard < 1 or args.workers < 1 or args.num_jobs < 1:
        p.error("--samples_per_shard, --workers and --num_jobs must be >= 1")
    if args.overwrite and args.num_jobs > 1:
        p.error("--overwrite with --num_jobs > 1 would delete other jobs' shards; clear it first")
    if not 0 <= args.job_index < args.num_jobs:
        p.error(f"--job_index must be in [0, {args.num_jobs}), got {args.job_index}")
    if args.fps <= 0 or args.short_side < 2 or args.sample_rate < 1000:
        p.error("--fps must be > 0, --short_side >= 2 and --sample_rate >= 1000")
    args.prefix = args.prefix or fmt.sanitize_key(args.manifest.stem)
    args.output_dir = args.output_dir or Path("shards") / args.prefix
    return args


def build_settings(args: argparse.Namespace) -> BuildSettings:
    video = VideoSettings(
        fps=args.fps,
        short_side=args.short_side,
        max_seconds=args.max_seconds,
        crf=args.crf,
        preset=args.preset,
        tune=None if args.tune in (None, "none") else args.tune,
    )
    audio = AudioSettings(sample_rate=args.sample_rate, max_seconds=args.max_seconds)
    return BuildSettings(
        video_root=args.video_root,
        audio_root=args.audio_root,
        text_root=args.text_root,
        video=video,
        audio=audio,
        copy_video=args.copy_video,
    )


def _fingerprint(args: argparse.Namespace, settings: BuildSettings, fmt_name: str) -> dict:
    """What must not change between a run and its resume (worker/job counts may)."""
    return {
        "manifest_sha256": hashlib.sha256(args.manifest.read_bytes()).hexdigest(),
        "format": fmt_name,
        "samples_per_shard": args.samples_per_shard,
        "max_shard_bytes": args.max_shard_bytes,
        "build": asdict(settings),
    }


def _check_settings(out_dir: Path, prefix: str, fingerprint: dict) -> None:
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


def _remove_prefix(out_dir: Path, prefix: str) -> None:
    for path in out_dir.glob(f"{prefix}-*.tar"):
        path.unlink()
    for path in out_dir.glob(f".{prefix}-*.tar.*.tmp"):
        path.unlink()
    progress = out_dir / sw.PROGRESS_DIR
    if progress.is_dir():
        for path in progress.glob(f"*{prefix}*.json"):
            path.unlink()


_COUNTER: Any = None  # a worker process's shared progress counter, set by its initializer
_PARENT = 0


def _init_worker(counter: Any) -> None:
    global _COUNTER, _PARENT
    _COUNTER, _PARENT = counter, os.getppid()
    # A worker must not outlive a killed parent: a rerun would rebuild the same group beside it.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _tick() -> None:
    if os.getppid() != _PARENT:  # orphaned before the death signal could be set
        os._exit(1)
    with _COUNTER.get_lock():
        _COUNTER.value += 1


def _run_group(spec: sw.GroupSpec, sources: list[SourceSample], settings: BuildSettings) -> dict:
    return sw.write_group(spec, sources, settings, on_sample=_tick)


def run_groups(
    todo: list[tuple[sw.GroupSpec, list[SourceSample]]],
    settings: BuildSettings,
    workers: int,
    max_errors: int | None,
    errors_before: int,
) -> tuple[list[dict], bool]:
    """Write the groups; returns (records, whether it stopped early for too many errors)."""
    total = sum(len(sources) for _, sources in todo)
    # The pool forks before the progress bar starts its monitor thread: forking a process that
    # has threads is unsafe, and fork (unlike spawn) costs the workers no start-up imports.
    pool = _Pool(todo, settings, workers) if workers > 1 else None
    records, errors = [], errors_before
    with tqdm(total=total, desc="samples", unit="sample", smoothing=0.1) as bar:
        results = pool.records(bar) if pool else _inline(todo, settings, bar)
        try:
            for record in results:
                records.append(record)
                errors += len(record["errors"])
                if max_errors is not None and errors > max_errors:
                    return records, True
        finally:
            if pool:
                pool.close(bar)
    return records, False


def _inline(todo, settings: BuildSettings, bar: tqdm):
    for spec, sources in todo:
        yield sw.write_group(spec, sources, settings, on_sample=lambda: bar.update(1))


class _Pool:
    """Worker processes writing whole groups, with a shared per-sample progress counter."""

    def __init__(self, todo, settings: BuildSettings, workers: int) -> None:
        ctx = mp.get_context("fork")
        self.counter = ctx.Value("q", 0)
        self.executor = ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.counter,),
        )
        self.pending = {self.executor.submit(_run_group, s, src, settings) for s, src in todo}

    def records(self, bar: tqdm):
        """Done-records in the order groups finish."""
        while self.pending:
            done, self.pending = wait(self.pending, timeout=0.5, return_when=FIRST_COMPLETED)
            bar.update(self.counter.value - bar.n)
            for future in done:
                yield future.result()

    def close(self, bar: tqdm) -> None:
        # Reached early on --max_errors or an exception: drop queued groups, finish running ones.
        self.executor.shutdown(wait=True, cancel_futures=True)
        bar.update(self.counter.value - bar.n)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = build_settings(args)
    try:
        fmt_name, samples = read_manifest(
            args.manifest,
            args.format,
            audio_from_video=args.audio_from_video,
            video_ext=args.video_ext,
        )
    except ManifestError as err:
        print(f"make_shards.py: {err}", file=sys.stderr)
        return 2
    out_dir, prefix, per = args.output_dir, args.prefix, args.samples_per_shard
    groups = [samples[i : i + per] for i in range(0, len(samples), per)]
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.overwrite:
        _remove_prefix(out_dir, prefix)
    if not args.merge_only:
        _check_settings(out_dir, prefix, _fingerprint(args, settings, fmt_name))
    mine = [g for g in range(len(groups)) if g % args.num_jobs == args.job_index]
    todo = [g for g in mine if not sw.is_done(out_dir, prefix, g)]
    started = time.perf_counter()
    records, stopped = [], False
    if todo and not args.merge_only:
        if len(todo) < args.workers:
            print(
                f"note: {len(todo)} shard(s) to write for {args.workers} workers; lower "
                "--samples_per_shard to keep every worker busy",
                file=sys.stderr,
            )
        done_errors = sum(
            len(r["errors"]) for r in sw.load_records(out_dir, prefix) if r["group"] in mine
        )
        jobs = [
            (sw.GroupSpec(g, prefix, str(out_dir), args.max_shard_bytes), groups[g]) for g in todo
        ]
        records, stopped = run_groups(jobs, settings, args.workers, args.max_errors, done_errors)
    elapsed = time.perf_counter() - started
    stats = sw.merge_records(out_dir, prefix, len(groups))
    processed = sum(r["samples"] + len(r["errors"]) for r in records)
    stats["last_run"] = {
        "job": f"{args.job_index}/{args.num_jobs}",
        "workers": args.workers,
        "groups_written": len(records),
        "groups_skipped": len(mine) - len(todo),
        "samples_processed": processed,
        "seconds": round(elapsed, 3),
        "samples_per_second": round(processed / elapsed, 3) if elapsed > 0 else None,
    }
    atomic_write_text(out_dir / fmt.STATS_FILE, json.dumps(stats, indent=1))
    print_summary(stats, out_dir, fmt_name)
    if stopped:
        print(
            f"make_shards.py: stopped: more than --max_errors={args.max_errors} samples "
            f"rejected; see {out_dir / fmt.ERRORS_FILE}",
            file=sys.stderr,
        )
        return 1
    return 0


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
