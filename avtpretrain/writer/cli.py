"""make_shards.py's command line: flags, their checks, and the build settings they give."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from avtpretrain.contract import format as fmt
from avtpretrain.writer.audio import AudioSettings
from avtpretrain.writer.build import BuildSettings
from avtpretrain.writer.captions import DEFAULT_MAX_CAPTION_CHARS
from avtpretrain.writer.manifest import FORMATS
from avtpretrain.writer.transcode import VideoSettings

DESCRIPTION = (
    "`tools/make_shards.py`: raw (audio, text, video) triples → WebDataset shards, in parallel."
)
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


# Manifest columns a user may map from their own names; start/end cut clips from a longer video.
MAPPED_COLUMNS = ("video", "caption", "audio", "key", "start", "end")


def _io_args(p: argparse.ArgumentParser) -> None:
    io_ = p.add_argument_group("input and output")
    io_.add_argument("--manifest", required=True, type=Path, help="CSV, JSONL or Parquet manifest")
    for column in MAPPED_COLUMNS:
        io_.add_argument(
            f"--{column}_col",
            metavar="NAME",
            help=f"the manifest's column holding `{column}` (video2dataset style: --video_col url)",
        )
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
    io_.add_argument(
        "--output_dir",
        type=Path,
        help="default: shards/<manifest stem>; holds one dataset (one --prefix) only",
    )
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


def _sharding_args(p: argparse.ArgumentParser) -> None:
    sh = p.add_argument_group("sharding")
    sh.add_argument("--samples_per_shard", type=int, default=1000)
    sh.add_argument("--max_shard_bytes", type=parse_bytes, help="split a shard past this (512M)")
    sh.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    sh.add_argument("--num_jobs", type=int, default=_slurm_default("count", 1))
    sh.add_argument("--job_index", type=int, default=_slurm_default("index", 0))
    sh.add_argument(
        "--max_errors",
        type=int,
        default=None,
        help="stop with exit 1 once more samples than this are rejected "
        "(default: no limit; every rejection is still counted and logged)",
    )


def _media_args(p: argparse.ArgumentParser) -> None:
    media = p.add_argument_group("media")
    media.add_argument("--fps", type=float, default=VideoSettings.fps)
    media.add_argument("--short_side", type=int, default=VideoSettings.short_side)
    media.add_argument("--max_seconds", type=float, default=VideoSettings.max_seconds)
    media.add_argument("--crf", type=int, default=VideoSettings.crf)
    media.add_argument("--preset", default=VideoSettings.preset, help="x264 preset")
    media.add_argument("--tune", default=VideoSettings.tune, help="x264 tune ('none' for none)")
    media.add_argument("--sample_rate", type=int, default=AudioSettings.sample_rate)
    media.add_argument("--copy_video", action="store_true", help="store source videos untouched")
    media.add_argument(
        "--decode_all_frames",
        action="store_true",
        help="decode every source frame, even those no kept frame needs (slower; each output "
        "frame is then the first source frame at or after its time, not merely within one "
        "output frame of it; also finishes folders begun before frames were skipped)",
    )
    limits = p.add_argument_group("limits (a sample past one is rejected, with the reason)")
    limits.add_argument(
        "--max_source_pixels",
        type=int,
        default=VideoSettings.max_source_pixels,
        help="largest source frame, width x height (default: %(default)s, 8K)",
    )
    limits.add_argument(
        "--max_duration_s",
        type=float,
        default=VideoSettings.max_duration_s,
        help="longest source video in seconds (default: %(default)s)",
    )
    limits.add_argument(
        "--max_caption_chars",
        type=int,
        default=DEFAULT_MAX_CAPTION_CHARS,
        help="longest caption, after normalising (default: %(default)s)",
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make_shards.py", description=DESCRIPTION)
    _io_args(p)
    _sharding_args(p)
    _media_args(p)
    args = p.parse_args(argv)
    if args.samples_per_shard < 1 or args.workers < 1 or args.num_jobs < 1:
        p.error("--samples_per_shard, --workers and --num_jobs must be >= 1")
    if args.overwrite and args.num_jobs > 1:
        p.error("--overwrite with --num_jobs > 1 would delete other jobs' shards; clear it first")
    if not 0 <= args.job_index < args.num_jobs:
        p.error(f"--job_index must be in [0, {args.num_jobs}), got {args.job_index}")
    if args.fps <= 0 or args.short_side < 2 or args.sample_rate < 1000:
        p.error("--fps must be > 0, --short_side >= 2 and --sample_rate >= 1000")
    if args.max_source_pixels < 4 or args.max_duration_s <= 0 or args.max_caption_chars < 1:
        p.error("--max_source_pixels must be >= 4, --max_duration_s > 0, --max_caption_chars >= 1")
    args.prefix = args.prefix or fmt.sanitize_key(args.manifest.stem)
    if not fmt.is_shard_file(fmt.shard_name(args.prefix, 0)):
        # The reader accepts only plain NAME.tar shard names (see read_sizes).
        p.error(
            f"--prefix {args.prefix!r}: expected letters, digits, '_', '-' or '.', starting with a "
            "letter, digit or '_'"
        )
    args.output_dir = args.output_dir or Path("shards") / args.prefix
    return args


def missing_root(args: argparse.Namespace) -> str | None:
    """A one-line message naming the first given media root that is not a folder, if any."""
    for flag in ("video_root", "audio_root", "text_root"):
        root = getattr(args, flag)
        if root is not None and not Path(root).is_dir():
            return f"--{flag} {root}: no such folder (every sample would be rejected)"
    return None


def build_settings(args: argparse.Namespace) -> BuildSettings:
    video = VideoSettings(
        fps=args.fps,
        short_side=args.short_side,
        max_seconds=args.max_seconds,
        crf=args.crf,
        preset=args.preset,
        tune=None if args.tune in (None, "none") else args.tune,
        max_source_pixels=args.max_source_pixels,
        max_duration_s=args.max_duration_s,
        decode_less=not args.decode_all_frames,
        decode_threads=max(1, len(os.sched_getaffinity(0)) // args.workers),
    )
    audio = AudioSettings(sample_rate=args.sample_rate, max_seconds=args.max_seconds)
    return BuildSettings(
        video_root=args.video_root,
        audio_root=args.audio_root,
        text_root=args.text_root,
        video=video,
        audio=audio,
        copy_video=args.copy_video,
        max_caption_chars=args.max_caption_chars,
    )
