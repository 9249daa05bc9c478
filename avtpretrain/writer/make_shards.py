"""`tools/make_shards.py`: raw (audio, text, video) triples → WebDataset shards, in parallel.

Rows are cut into groups of --samples_per_shard in manifest order; group g is shard g. Groups go
to jobs round-robin (--num_jobs/--job_index, or a SLURM array) and, inside a job, to --workers
processes, so every process writes disjoint shards without coordination. The output folder holds
one dataset, and one run (or one run per job index) at a time: see folder.py and lock.py.
Exit 0: done; 1: stopped by --max_errors, or no sample written; 2: unusable input or folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from avtpretrain.contract import format as fmt
from avtpretrain.io import atomic_write_text
from avtpretrain.lock import FolderBusyError
from avtpretrain.writer import shardwriter as sw
from avtpretrain.writer.build import BuildSettings
from avtpretrain.writer.cli import MAPPED_COLUMNS, build_settings, missing_root, parse_args
from avtpretrain.writer.folder import (
    FolderError,
    check_one_dataset,
    check_settings,
    fingerprint,
    remove_prefix,
)
from avtpretrain.writer.lock import folder_lock, settings_lock
from avtpretrain.writer.manifest import ManifestError, SourceSample, read_manifest
from avtpretrain.writer.pool import run_groups
from avtpretrain.writer.summary import print_summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = build_settings(args)
    problem = None if args.merge_only else missing_root(args)
    if problem:
        print(f"make_shards.py: {problem}", file=sys.stderr)
        return 2
    try:
        fmt_name, samples = read_manifest(
            args.manifest,
            args.format,
            audio_from_video=args.audio_from_video,
            video_ext=args.video_ext,
            max_caption_chars=args.max_caption_chars,
            columns_as={c: getattr(args, f"{c}_col") for c in MAPPED_COLUMNS},
        )
    except ManifestError as err:
        print(f"make_shards.py: {err}", file=sys.stderr)
        return 2
    args.output_dir.mkdir(parents=True, exist_ok=True)
    # --merge_only rewrites the folder's totals: it must not run beside any job.
    num_jobs = 1 if args.merge_only else args.num_jobs
    try:
        with folder_lock(args.output_dir, job_index=args.job_index, num_jobs=num_jobs):
            return _run(args, settings, fmt_name, samples)
    except (FolderBusyError, FolderError) as err:
        print(f"make_shards.py: {err}", file=sys.stderr)
        return 2


def _run(
    args: argparse.Namespace,
    settings: BuildSettings,
    fmt_name: str,
    samples: list[SourceSample],
) -> int:
    """Everything done while holding the folder: write this job's groups, merge, summarise."""
    out_dir, prefix, per = args.output_dir, args.prefix, args.samples_per_shard
    check_one_dataset(out_dir, prefix)
    groups = [samples[i : i + per] for i in range(0, len(samples), per)]
    if args.overwrite:
        remove_prefix(out_dir, prefix)
    if not args.merge_only:
        with settings_lock(out_dir):
            check_settings(out_dir, prefix, fingerprint(args, settings, fmt_name))
    mine = [g for g in range(len(groups)) if g % args.num_jobs == args.job_index]
    todo = [g for g in mine if not sw.is_done(out_dir, prefix, g)]
    started = time.perf_counter()
    records, stopped = [], False
    if todo and not args.merge_only:
        records, stopped = _write(args, settings, groups, mine, todo)
    elapsed = time.perf_counter() - started
    stats = sw.merge_records(out_dir, prefix, len(groups))
    stats["last_run"] = _last_run(args, records, len(mine) - len(todo), elapsed)
    atomic_write_text(out_dir / fmt.STATS_FILE, json.dumps(stats, indent=1))
    print_summary(stats, out_dir, fmt_name)
    return _exit_code(args, stopped, set(mine))


def _exit_code(args: argparse.Namespace, stopped: bool, mine: set[int]) -> int:
    errors_file = args.output_dir / fmt.ERRORS_FILE
    if stopped:
        print(
            f"make_shards.py: stopped: more than --max_errors={args.max_errors} samples "
            f"rejected; see {errors_file}",
            file=sys.stderr,
        )
        return 1
    done = [r for r in sw.load_records(args.output_dir, args.prefix) if r["group"] in mine]
    if mine and not sum(r["samples"] for r in done):
        reasons = Counter(f"{e['stage']}: {e['reason']}" for r in done for e in r["errors"])
        common = f", most often '{reasons.most_common(1)[0][0]}'" if reasons else ""
        print(
            f"make_shards.py: no samples written: {reasons.total()} rejected{common}; "
            f"see {errors_file}",
            file=sys.stderr,
        )
        return 1
    return 0


def _write(
    args: argparse.Namespace,
    settings: BuildSettings,
    groups: list,
    mine: list[int],
    todo: list[int],
) -> tuple[list, bool]:
    """Write this job's unfinished groups; returns (records, stopped for too many errors)."""
    out_dir, prefix = args.output_dir, args.prefix
    if len(todo) < args.workers:
        print(
            f"note: {len(todo)} shard(s) to write for {args.workers} workers; lower "
            "--samples_per_shard to keep every worker busy",
            file=sys.stderr,
        )
    done_errors = sum(
        len(r["errors"]) for r in sw.load_records(out_dir, prefix) if r["group"] in mine
    )
    jobs = [(sw.GroupSpec(g, prefix, str(out_dir), args.max_shard_bytes), groups[g]) for g in todo]
    return run_groups(jobs, settings, args.workers, args.max_errors, done_errors)


def _last_run(args: argparse.Namespace, records: list[dict], skipped: int, elapsed: float) -> dict:
    processed = sum(r["samples"] + len(r["errors"]) for r in records)
    return {
        "job": f"{args.job_index}/{args.num_jobs}",
        "workers": args.workers,
        "groups_written": len(records),
        "groups_skipped": skipped,
        "samples_processed": processed,
        "seconds": round(elapsed, 3),
        "samples_per_second": round(processed / elapsed, 3) if elapsed > 0 else None,
    }
