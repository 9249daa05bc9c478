"""Benchmark the streaming pipeline against the seed's naive loader and a decode-only floor.

On generated 4 s clips at 1280x720 (H.264 + 44.1 kHz wav), one run measures samples/s of:
  pipeline  make_shards output → avtpretrain.reader.stream (decode, transforms, fbank, tokens,
            masks)
  naive     the seed's approach: decode the raw 720p source and wav the manifest names, per
            sample, with the same frame count, transforms, fbank and tokenizer
  floor     decord get_batch of the same number of frames from the shard videos, nothing else
All three run with the same worker count, in interleaved rounds (median reported).
Targets: pipeline/naive >= 5, pipeline/floor >= 0.7.
Then (loader_memory.py) the loader workers' peak resident memory and the time to the first batch
at the base recipe's shuffle settings, with a 64 MB bound, without a buffer, and with the whole
buffer filled before the first batch.
Writes bench/results/bench_loader.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from loader_memory import memory_report, print_memory  # bench/ is on sys.path when run
from torch.utils.data import DataLoader, Dataset

from avtpretrain.config import load_model_config, load_recipe
from avtpretrain.demo.media import write_audio, write_video
from avtpretrain.dist import DistInfo
from avtpretrain.io import atomic_write_text
from avtpretrain.reader import decode
from avtpretrain.reader.loaders import train_stream
from avtpretrain.reader.tokenizer import shard_captions, train_wordpiece
from avtpretrain.writer.make_shards import main as make_shards

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "bench_loader.json"


def make_sources(root: Path, clips: int, seconds: float, fps: int) -> Path:
    for sub in ("videos", "audio", "text"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    n, h, w = int(seconds * fps), 720, 1280
    yy, xx = np.mgrid[0:h, 0:w]
    rows = []
    for c in range(clips):
        # A camera pan over a textured scene plus a moving object: detail and motion like footage,
        # rather than flat colour that any decoder skims through.
        coarse = rng.integers(0, 256, size=(h // 16 + 2, w // 16 + 4, 3), dtype=np.uint8)
        scene = np.kron(coarse, np.ones((16, 16, 1), dtype=np.uint8))
        scene = scene + rng.integers(0, 24, size=scene.shape, dtype=np.uint8)
        frames = np.empty((n, h, w, 3), dtype=np.uint8)
        for t in range(n):
            dx = (t * 2) % 48
            frames[t] = scene[:h, dx : dx + w]
            cx, cy = (40 * t + 97 * c) % w, (11 * t + 53 * c) % h
            frames[t][(xx - cx) ** 2 + (yy - cy) ** 2 < 120**2] = (220, 40 + 5 * c, 60)
        write_video(root / "videos" / f"c{c}.mp4", frames, fps, options={"preset": "veryfast"})
        wave = 0.3 * np.sin(2 * np.pi * (200 + 30 * c) * np.arange(int(seconds * 44100)) / 44100)
        write_audio(root / "audio" / f"c{c}.wav", wave.astype(np.float32), 44100)
        (root / "text" / f"c{c}.txt").write_text(f"a red disc number {c} moves across")
        rows.append([f"c{c}.wav", f"c{c}.txt", f"c{c}.mp4"])
    with (root / "train.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["audio", "text", "video"], *rows])
    return root / "train.csv"


class NaiveDataset(Dataset):
    """The seed's loader: every sample decodes its raw source files."""

    def __init__(self, root: Path, model, data, tokenizer) -> None:
        with (root / "train.csv").open() as f:
            self.rows = list(csv.DictReader(f))
        self.root, self.model, self.tokenizer = root, model, tokenizer
        self.video_tf = decode.VideoTransform(model.video.image_size, train=True)
        self.fbank = decode.FbankTransform(
            model.audio.num_mel_bins,
            model.audio.target_frames,
            data.audio_mean,
            data.audio_std,
            True,
        )

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row, rng = self.rows[i], random.Random(i)
        video_bytes = (self.root / "videos" / row["video"]).read_bytes()

        def pick(n: int) -> list[int]:
            return decode.sample_frame_indices(n, self.model.video.num_frames, "rand", rng)

        frames = decode.read_video_frames(video_bytes, pick)
        wave, rate = sf.read(self.root / "audio" / row["audio"], dtype="float32", always_2d=True)
        text = (self.root / "text" / row["text"]).read_text()
        tokens = self.tokenizer(text, padding="max_length", max_length=32, truncation=True)
        return {
            "video": self.video_tf(frames, rng),
            "audio": self.fbank(torch.from_numpy(wave.mean(axis=1)), rate, rng),
            "input_ids": torch.tensor(tokens["input_ids"]),
        }


class FloorDataset(Dataset):
    def __init__(self, videos: list[bytes], num_frames: int) -> None:
        self.videos, self.num_frames = videos, num_frames

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> torch.Tensor:
        def pick(n: int) -> list[int]:
            return decode.sample_frame_indices(n, self.num_frames, "uniform", random.Random(i))

        return torch.from_numpy(decode.read_video_frames(self.videos[i], pick))


def rate(batches, warmup: int = 1) -> float:
    """Samples/s over all batches after the first `warmup` (worker start-up excluded)."""
    it = iter(batches)
    for _ in range(warmup):
        next(it)
    started, n = time.perf_counter(), 0
    for batch in it:
        n += len(batch["video"] if isinstance(batch, dict) else batch)
    return n / (time.perf_counter() - started)


def shard_videos(shards: Path) -> list[bytes]:
    import tarfile

    out = []
    for tar_path in sorted(shards.glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            out += [tar.extractfile(m).read() for m in tar if m.name.endswith(".mp4")]
    return out


def shard(root: Path) -> Path:
    """make_shards over the generated sources: 4 samples a shard, 2 workers."""
    shards = root / "shards"
    argv = ["--manifest", str(root / "train.csv"), "--video_root", str(root / "videos")]
    argv += ["--audio_root", str(root / "audio"), "--text_root", str(root / "text")]
    argv += ["--output_dir", str(shards), "--samples_per_shard", "4", "--workers", "2"]
    assert make_shards(argv) == 0
    return shards


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--source_fps", type=int, default=30)
    p.add_argument("--model", default="base", help="model config whose input geometry is used")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch_size", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tile", type=int, default=32, help="memory part: list the shards this often")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_sources(root, args.clips, args.seconds, args.source_fps)
        shards = shard(root)
        tok_dir = train_wordpiece(shard_captions([str(shards)]), 200, root / "tok")
        cfg = load_recipe(
            REPO / "pretrain/demo.yaml",
            [
                f"data.train_shards=[{shards}]",
                f"data.tokenizer={tok_dir}",
                f"data.num_workers={args.workers}",
                "data.shuffle_buffer=8",
                f"data.samples_per_epoch={4 * args.clips}",
            ],
        )
        cfg = replace(cfg, model=load_model_config(args.model, REPO / "pretrain" / "demo.yaml"))
        stream = train_stream(
            cfg.model, cfg.data, batch_size=args.batch_size, dist=DistInfo(), seed=0
        )
        naive = NaiveDataset(root, cfg.model, cfg.data, stream.spec.collator.tokenizer)
        # Four passes, like the pipeline's 4 x clips samples: long enough to time steadily.
        floor = FloorDataset(shard_videos(shards) * 4, cfg.model.video.num_frames)
        loaders = {
            "pipeline": lambda: stream,  # each iteration is one epoch; its workers persist
            "naive": lambda: DataLoader(naive, args.batch_size, num_workers=args.workers),
            "floor": lambda: DataLoader(floor, args.batch_size, num_workers=args.workers),
        }
        # Interleaved rounds, median per loader: this machine's speed drifts within a minute.
        rounds = {name: [] for name in loaders}
        for _ in range(args.rounds):
            for name, make in loaders.items():
                rounds[name].append(rate(make()))
        results = {name: float(np.median(r)) for name, r in rounds.items()}
        loaders.clear()
        stream = None  # its persistent workers would count in the memory figures
        base = load_recipe(REPO / "pretrain/base.yaml").data
        memory = memory_report(cfg.model, cfg.data, base, args) if args.memory else None
    report(args, cfg, results, rounds, memory)


def report(args, cfg, results: dict[str, float], rounds: dict, memory: dict | None) -> None:
    v, a = cfg.model.video, cfg.model.audio
    out = {
        "clips": args.clips,
        "source": f"1280x720 @ {args.source_fps} fps, {args.seconds} s, H.264 (x264 veryfast High, "
        "textured pan + moving disc); 44.1 kHz wav",
        "input": f"{v.num_frames}x{v.image_size}^2 video, {a.target_frames}x{a.num_mel_bins} fbank",
        "workers": args.workers,
        "batch_size": args.batch_size,
        "samples_per_s": {k: round(x, 2) for k, x in results.items()},
        "rounds": {k: [round(x, 2) for x in r] for k, r in rounds.items()},
        "pipeline_over_naive": round(results["pipeline"] / results["naive"], 2),
        "pipeline_over_floor": round(results["pipeline"] / results["floor"], 2),
        "memory": memory,
    }
    print(f"\n{'loader':<12}{'samples/s (median)':>20}  rounds")
    for name, value in out["samples_per_s"].items():
        print(f"{name:<12}{value:>20}  {out['rounds'][name]}")
    print(f"pipeline / naive = {out['pipeline_over_naive']} (target >= 5)")
    print(f"pipeline / floor = {out['pipeline_over_floor']} (target >= 0.7)")
    if memory:
        print_memory(memory, args.workers)
    atomic_write_text(RESULTS, json.dumps(out, indent=1))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
