"""`tools/make_shards.py`: raw (audio, text, video) triples → WebDataset shards, in parallel.

Rows are cut into groups of --samples_per_shard in manifest order; group g is shard g. Groups go
to jobs round-robin (--num_jobs/--job_index, or a SLURM array) and, inside a job, to --workers
processes, so every process writes disjoint shards without coordination.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from avtpretrain.contract import format as fmt
from avtpretrain.io import atomic_write_text
from avtpretrain.writer import shardwriter as sw
from avtpretrain.writer.build import BuildSettings
from avtpretrain.writer.cli import build_settings, parse_args
from avtpretrain.writer.folder import check_settings, fingerprint, remove_prefix
from avtpretrain.writer.manifest import ManifestError, read_manifest
from avtpretrain.writer.pool import run_groups
from avtpretrain.writer.summary import print_summary


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
        remove_prefix(out_dir, prefix)
    if not args.merge_only:
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
    if stopped:
        print(
            f"make_shards.py: stopped: more than --max_errors={args.max_errors} samples "
            f"rejected; see {out_dir / fmt.ERRORS_FILE}",
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
