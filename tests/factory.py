"""Test media made on the fly with PyAV and soundfile: every codec, size and audio layout."""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from avtpretrain.demo.media import write_audio, write_video


def frames(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """A bright square drifting right over noise, so every frame differs."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 60, size=(n, height, width, 3), dtype=np.uint8)
    side = max(4, min(width, height) // 4)
    for t in range(n):
        x = (t * width // max(n, 1)) % max(width - side, 1)
        out[t, :side, x : x + side] = (230, 200, 40)
    return out


def tone(seconds: float, rate: int, channels: int = 1, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * hz * t).astype(np.float32)
    return wave if channels == 1 else np.repeat(wave[:, None], channels, axis=1)


VIDEO_KINDS = {
    # name: (file suffix, codec, container, pix_fmt, encoder options)
    "h264": (".mp4", "libx264", "mp4", "yuv420p", {}),
    "h264_high444": (".mp4", "libx264", "mp4", "yuv444p", {"profile": "high444"}),
    "mpeg4": (".mp4", "mpeg4", "mp4", "yuv420p", {}),
    "mjpeg_avi": (".avi", "mjpeg", "avi", "yuvj420p", {}),
    "mpeg2": (".mpg", "mpeg2video", "mpeg", "yuv420p", {}),
    "vp9": (".webm", "libvpx-vp9", "webm", "yuv420p", {"deadline": "realtime"}),
}


def make_video(path: Path, kind: str = "h264", *args, **kwargs) -> Path:
    """Write a test video of `kind` (see VIDEO_KINDS); returns its path with the kind's suffix.

    decord bundles its own FFmpeg, and once it is imported PyAV's libvpx-vp9 encoder fails to
    open in that process; VP9 files are then made in a fresh process.
    """
    if kind == "vp9" and "decord" in sys.modules:
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            return pool.submit(_make_video, path, kind, *args, **kwargs).result()
    return _make_video(path, kind, *args, **kwargs)


def _make_video(
    path: Path,
    kind: str = "h264",
    size: tuple[int, int] = (64, 48),
    num_frames: int = 8,
    fps: int = 8,
    audio_rate: int | None = None,
    audio_channels: int = 1,
    seed: int = 0,
    audio_hz: float = 440.0,
) -> Path:
    suffix, codec, container, pix_fmt, options = VIDEO_KINDS[kind]
    path = path.with_suffix(suffix)
    audio = tone(num_frames / fps, audio_rate, audio_channels, audio_hz) if audio_rate else None
    audio_codec = {"webm": "libopus", "avi": "pcm_s16le", "mpeg": "mp2"}.get(container, "aac")
    write_video(
        path,
        frames(num_frames, *size, seed=seed),
        fps,
        codec=codec,
        container_format=container,
        pix_fmt=pix_fmt,
        options=options,
        audio=audio,
        sample_rate=audio_rate or 16000,
        audio_codec=audio_codec,
    )
    return path


def make_audio(
    path: Path, rate: int = 16000, channels: int = 1, seconds: float = 1.0, hz: float = 440.0
) -> Path:
    write_audio(path, tone(seconds, rate, channels, hz), rate)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def seed_dataset(root: Path, n: int, with_audio: bool = True) -> Path:
    """A seed-format dataset of n small clips under root; returns the manifest path."""
    for sub in ("videos", "audio", "text"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        make_video(root / "videos" / f"clip{i}", seed=i)
        if with_audio:
            make_audio(root / "audio" / f"clip{i}.wav", seconds=1.0)
        (root / "text" / f"clip{i}.txt").write_text(f"clip number {i} moves right\n")
        rows.append([f"clip{i}.wav" if with_audio else "", f"clip{i}.txt", f"clip{i}.mp4"])
    return write_csv(root / "train.csv", ["audio", "text", "video"], rows)


def seed_args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--manifest",
        str(root / "train.csv"),
        "--video_root",
        str(root / "videos"),
        "--audio_root",
        str(root / "audio"),
        "--text_root",
        str(root / "text"),
        "--output_dir",
        str(out),
        "--workers",
        "1",
        *extra,
    ]
