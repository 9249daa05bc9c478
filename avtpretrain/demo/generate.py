"""`tools/make_demo_data.py`: write the demo clips and their manifests in the formats users have.

Layout under --out:
  videos/<id>.mp4   H.264 (+ AAC soundtrack unless --no_audio_track)
  audio/<id>.wav    16-bit mono (or .flac)            text/<id>.txt   one caption
  train.csv validation.csv test.csv                    seed format: audio,text,video
  ret/{train,val,test}.jsonl                           ALPRO retrieval: caption, clip_name
  qa/{train,val,test}.jsonl  qa/train_ans2label.json   ALPRO QA (question, answer, video_id, ...)
  demo_meta.json                                       generator settings + per-clip ground truth
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import random
import time
from pathlib import Path

from tqdm import tqdm

from avtpretrain.demo import render, scene
from avtpretrain.demo.media import write_audio, write_video
from avtpretrain.io import atomic_write_text

SPLITS = ("train", "val", "test")
CSV_NAMES = {"train": "train.csv", "val": "validation.csv", "test": "test.csv"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make_demo_data.py", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--num_clips", type=int, default=240)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--size", type=int, default=64, help="frame width and height (even)")
    p.add_argument("--sample_rate", type=int, default=16000)
    p.add_argument("--audio_format", choices=("wav", "flac"), default="wav")
    p.add_argument("--no_audio_track", action="store_true", help="mp4s without a soundtrack")
    p.add_argument("--val_fraction", type=float, default=0.15)
    p.add_argument("--test_fraction", type=float, default=0.15)
    args = p.parse_args(argv)
    if args.num_clips < 3:
        p.error("--num_clips: need at least 3 (one per split)")
    if args.size < 16 or args.size % 2:
        p.error(f"--size: expected an even number >= 16 (H.264 needs even sizes), got {args.size}")
    if not 0 < args.val_fraction + args.test_fraction < 1:
        p.error("--val_fraction + --test_fraction must be in (0, 1)")
    return args


def split_of(index: int, args: argparse.Namespace) -> str:
    n_val = max(1, round(args.num_clips * args.val_fraction))
    n_test = max(1, round(args.num_clips * args.test_fraction))
    n_train = args.num_clips - n_val - n_test
    return "train" if index < n_train else "val" if index < n_train + n_val else "test"


def write_clip(spec: scene.ClipSpec, index: int, args: argparse.Namespace) -> str:
    """Write one clip's video, audio and caption; returns the caption."""
    num_frames = round(args.seconds * args.fps)
    frames = render.render_frames(spec, num_frames, args.size, seed=args.seed * 1_000_003 + index)
    wave = render.render_audio(spec, args.seconds, args.sample_rate, seed=args.seed + index)
    track = None if args.no_audio_track else wave
    video_path = args.out / "videos" / f"{spec.clip_id}.mp4"
    write_video(video_path, frames, args.fps, audio=track, sample_rate=args.sample_rate)
    write_audio(args.out / "audio" / f"{spec.clip_id}.{args.audio_format}", wave, args.sample_rate)
    caption = scene.pick_caption(spec, random.Random(f"{args.seed}/{spec.clip_id}"))
    atomic_write_text(args.out / "text" / f"{spec.clip_id}.txt", caption + "\n")
    return caption


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def _csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["audio", "text", "video"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_manifests(specs, split, caption, args: argparse.Namespace) -> dict[str, int]:
    """All manifests from the specs; returns the number of rows per manifest."""
    out, counts = args.out, {}
    rng = random.Random(f"{args.seed}/captions")
    for name in SPLITS:
        chosen = [s for s in specs if split[s.clip_id] == name]
        csv_rows = [
            {
                "audio": f"{s.clip_id}.{args.audio_format}",
                "text": f"{s.clip_id}.txt",
                "video": f"{s.clip_id}.mp4",
            }
            for s in chosen
        ]
        atomic_write_text(out / CSV_NAMES[name], _csv(csv_rows))
        # Training gets two phrasings per clip (MSRVTT has several captions per video); evaluation
        # gets the clip's own caption so that there is exactly one ground truth per query.
        ret = []
        for s in chosen:
            texts = [caption[s.clip_id]]
            if name == "train":
                texts.append(rng.choice([c for c in scene.captions(s) if c != texts[0]]))
            ret += [{"caption": t, "clip_name": s.clip_id} for t in texts]
        qa = [
            {
                "question": q.question,
                "answer": q.answer,
                "answer_type": q.answer_type,
                "video_id": s.clip_id,
            }
            for s in chosen
            for q in scene.qa_pairs(s)
        ]
        atomic_write_text(out / "ret" / f"{name}.jsonl", _jsonl(ret))
        atomic_write_text(out / "qa" / f"{name}.jsonl", _jsonl(qa))
        counts.update(
            {f"{name} clips": len(chosen), f"ret/{name}": len(ret), f"qa/{name}": len(qa)}
        )
        if name == "train":
            answers = sorted({row["answer"] for row in qa})
            ans2label = {a: i for i, a in enumerate(answers)}
            atomic_write_text(out / "qa" / "train_ans2label.json", json.dumps(ans2label, indent=1))
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    specs = scene.sample_clips(args.num_clips, args.seed)
    split = {s.clip_id: split_of(i, args) for i, s in enumerate(specs)}
    caption = {}
    for i, spec in enumerate(tqdm(specs, desc="demo clips", unit="clip")):
        caption[spec.clip_id] = write_clip(spec, i, args)
    counts = write_manifests(specs, split, caption, args)
    # The output path is left out so that the same seed gives the same bytes wherever it is written.
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    meta = {
        "settings": settings,
        "clips": [dataclasses.asdict(s) | {"split": split[s.clip_id]} for s in specs],
    }
    atomic_write_text(args.out / "demo_meta.json", json.dumps(meta, indent=1, sort_keys=True))
    elapsed = time.perf_counter() - started
    print(
        f"wrote {len(specs)} clips to {args.out} in {elapsed:.1f}s "
        f"({len(specs) / elapsed:.1f} clips/s)"
    )
    for key, value in counts.items():
        print(f"  {key:>12}: {value}")
    return 0
