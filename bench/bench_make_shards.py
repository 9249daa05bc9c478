"""Benchmark tools/make_shards.py against a bare PyAV transcode of the same clips (the floor).

The floor decodes every source frame, as `ffmpeg -vf fps,scale` does; make_shards skips decoding
frames that nothing references when the kept ones stay within one output frame (the sources here
have B-frames, as camera and web video do), and reads each file once for video and audio. Prints
clips/s for 1 and 2 workers, the ratio of the 1-worker time to the floor's time (target ≤ 0.8; one
worker on this 2-core machine decodes with 2 threads, as make_shards does when workers leave cores
idle), the same ratio with every core busy (2 workers against the floor in 2 processes) and the
2-worker scaling efficiency t1 / (2 · t2) (target ≥ 0.8); writes the figures to
bench/results/bench_make_shards.json. All figures come from one run on the same clips.

    python bench/bench_make_shards.py            # 32 clips, 4 s, 1280x720: about 2 minutes
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing as mp
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from avtpretrain.demo.media import write_video
from avtpretrain.io import atomic_write_text
from avtpretrain.writer.make_shards import main as make_shards

RESULTS = Path(__file__).resolve().parent / "results" / "bench_make_shards.json"


def make_sources(root: Path, clips: int, seconds: float, width: int, height: int, fps: int):
    """H.264 (x264 veryfast: 3 B-frames, pyramid) + AAC clips with moving content, and a
    manifest for them."""
    (root / "videos").mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = int(seconds * fps)
    yy, xx = np.mgrid[0:height, 0:width]
    rows = []
    for c in range(clips):
        base = rng.integers(0, 255, size=(1, height, width, 3), dtype=np.uint8) // 4
        frames = np.repeat(base, n, axis=0)
        for t in range(n):
            cx, cy = (t * 7 + c * 31) % width, (t * 3 + c * 17) % height
            frames[t][(xx - cx) ** 2 + (yy - cy) ** 2 < (height // 6) ** 2] = (200, 60 + c, 90)
        wave = 0.3 * np.sin(2 * np.pi * (300 + 20 * c) * np.arange(int(seconds * 44100)) / 44100)
        stereo = np.stack([wave, wave], axis=1).astype(np.float32)
        write_video(
            root / "videos" / f"c{c}.mp4",
            frames,
            fps,
            audio=stereo,
            sample_rate=44100,
            options={"preset": "veryfast"},
        )
        rows.append({"video": f"c{c}.mp4", "caption": f"clip {c}"})
    manifest = root / "clips.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def floor_transcode(path: Path, fps: float, short_side: int, crf: int, preset: str) -> int:
    """What `ffmpeg -vf fps,scale -c:v libx264 -ac 1 -ar 16000 out.mp4 out.flac` does, in PyAV."""
    with av.open(str(path)) as src:
        vs = src.streams.video[0]
        out_fps = Fraction(min(fps, float(vs.average_rate))).limit_denominator(1001)
        scale = min(1.0, short_side / min(vs.codec_context.width, vs.codec_context.height))
        w = round(vs.codec_context.width * scale / 2) * 2
        h = round(vs.codec_context.height * scale / 2) * 2
        buf = io.BytesIO()
        with av.open(buf, "w", format="mp4") as out:
            os_ = out.add_stream("libx264", rate=out_fps)
            os_.width, os_.height, os_.pix_fmt = w, h, "yuv420p"
            os_.thread_count = 1
            os_.codec_context.gop_size = max(1, round(float(out_fps)))
            os_.codec_context.max_b_frames = 0
            os_.codec_context.options = {"crf": str(crf), "preset": preset, "tune": "fastdecode"}
            last = -1
            for frame in src.decode(vs):
                slot = math.floor(frame.time * out_fps + 1e-3)
                if slot <= last:
                    continue
                last = slot
                img = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
                img.pts, img.time_base = slot, 1 / out_fps
                out.mux(os_.encode(img))
            out.mux(os_.encode(None))
    with av.open(str(path)) as src:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        pcm = [
            o.to_ndarray().reshape(-1) for f in src.decode(audio=0) for o in resampler.resample(f)
        ]
        pcm += [o.to_ndarray().reshape(-1) for o in resampler.resample(None)]
    flac = io.BytesIO()
    sf.write(flac, np.concatenate(pcm), 16000, format="FLAC", subtype="PCM_16")
    return len(buf.getvalue()) + len(flac.getvalue())


def floor_parallel(paths: list[Path], workers: int, args) -> float:
    """The floor on `workers` warm processes: how well this machine itself scales the work."""
    settings = (args.fps, args.short_side, 23, "veryfast")
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        list(pool.map(time.sleep, [0.2] * workers))  # start the workers before timing
        started = time.perf_counter()
        list(pool.map(floor_transcode, paths, *([s] * len(paths) for s in settings)))
        return time.perf_counter() - started


def timed_make_shards(manifest: Path, out: Path, workers: int, args) -> float:
    per = max(1, args.clips // 4)
    argv = [
        "--manifest",
        str(manifest),
        "--video_root",
        str(manifest.parent / "videos"),
        "--audio_from_video",
        "--output_dir",
        str(out),
        "--workers",
        str(workers),
        "--samples_per_shard",
        str(per),
        "--fps",
        str(args.fps),
        "--short_side",
        str(args.short_side),
    ]
    started = time.perf_counter()
    assert make_shards(argv) == 0
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Enough work that the pool's start (about 0.5 s) does not dominate the 2-worker time.
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--source_fps", type=int, default=25)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--short_side", type=int, default=224)
    args = p.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = make_sources(root, args.clips, args.seconds, width, height, args.source_fps)
        paths = [root / "videos" / f"c{c}.mp4" for c in range(args.clips)]
        started = time.perf_counter()
        for path in paths:
            floor_transcode(path, args.fps, args.short_side, 23, "veryfast")
        t_floor = time.perf_counter() - started
        t_floor2 = floor_parallel(paths, 2, args)
        t1 = timed_make_shards(manifest, root / "w1", 1, args)
        t2 = timed_make_shards(manifest, root / "w2", 2, args)
    result = {
        "clips": args.clips,
        "source": f"{width}x{height} @ {args.source_fps} fps, {args.seconds} s, "
        "H.264 with B-frames + AAC stereo",
        "target": f"short side {args.short_side}, {args.fps} fps, x264 crf 23 veryfast "
        "fastdecode, 16k flac",
        "cpus": os.cpu_count(),
        "floor_seconds": round(t_floor, 3),
        "workers1_seconds": round(t1, 3),
        "workers2_seconds": round(t2, 3),
        "floor_clips_per_s": round(args.clips / t_floor, 2),
        "workers1_clips_per_s": round(args.clips / t1, 2),
        "workers2_clips_per_s": round(args.clips / t2, 2),
        "ratio_project_over_floor": round(t1 / t_floor, 3),
        # With every core busy (no idle core for decoder threads): 2 workers vs 2 floor processes.
        "ratio_2workers_over_floor_2proc": round(t2 / t_floor2, 3),
        "scaling_efficiency_2_workers": round(t1 / (2 * t2), 3),
        "floor_2proc_seconds": round(t_floor2, 3),
        "machine_scaling_efficiency_2proc": round(t_floor / (2 * t_floor2), 3),
    }
    print(f"\n{'measure':<34}{'value':>12}  target")
    print(f"{'floor (bare PyAV) clips/s':<34}{result['floor_clips_per_s']:>12}")
    print(f"{'make_shards 1 worker clips/s':<34}{result['workers1_clips_per_s']:>12}")
    print(f"{'make_shards 2 workers clips/s':<34}{result['workers2_clips_per_s']:>12}")
    print(f"{'time ratio project / floor':<34}{result['ratio_project_over_floor']:>12}  <= 0.8")
    both = result["ratio_2workers_over_floor_2proc"]
    print(f"{'  2 workers / floor in 2 processes':<34}{both:>12}  <= 0.8")
    print(
        f"{'2-worker scaling efficiency':<34}{result['scaling_efficiency_2_workers']:>12}  >= 0.8"
    )
    ceiling = result["machine_scaling_efficiency_2proc"]
    print(f"{'  machine ceiling (floor, 2 procs)':<34}{ceiling:>12}")
    atomic_write_text(RESULTS, json.dumps(result, indent=1))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
