"""Real-world variety: codecs, containers, sizes, sample rates and channel counts all shard."""

import io
import json
from pathlib import Path

import decord
import pytest
import soundfile as sf
import webdataset as wds

from avtpretrain.writer.make_shards import main
from tests.factory import VIDEO_KINDS, make_audio, make_video, write_jsonl

# (name, video kind, (width, height), audio in the container: (rate, channels) or None)
CASES = [
    ("h264_hd", "h264", (1920, 1080), (48000, 2)),
    ("high444", "h264_high444", (320, 240), (44100, 1)),
    ("mpeg4", "mpeg4", (640, 360), (48000, 6)),
    ("mjpeg", "mjpeg_avi", (160, 120), (11025, 1)),
    ("mpeg2", "mpeg2", (720, 576), (32000, 2)),
    ("vp9", "vp9", (426, 240), (48000, 2)),
    ("silent", "h264", (176, 144), None),
]
FILE_AUDIO = [(11025, 1), (22050, 2), (44100, 6), (48000, 1)]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path]:
    root = tmp_path_factory.mktemp("variety")
    rows = []
    for name, kind, size, audio in CASES:
        rate, channels = audio or (None, 1)
        path = make_video(
            root / "videos" / name,
            kind,
            size,
            num_frames=6,
            fps=12,
            audio_rate=rate,
            audio_channels=channels,
        )
        rows.append({"video": path.name, "caption": f"{name} clip"})
    for i, (rate, channels) in enumerate(FILE_AUDIO):
        make_video(root / "videos" / f"file{i}", "h264", (200, 150))
        make_audio(root / "audio" / f"file{i}.wav", rate, channels, seconds=0.8)
        rows.append({"video": f"file{i}.mp4", "audio": f"file{i}.wav", "caption": f"file {i}"})
    manifest = write_jsonl(root / "variety.jsonl", rows)
    out = root / "shards"
    code = main(
        [
            "--manifest",
            str(manifest),
            "--video_root",
            str(root / "videos"),
            "--audio_root",
            str(root / "audio"),
            "--audio_from_video",
            "--output_dir",
            str(out),
            "--workers",
            "1",
            "--short_side",
            "96",
            "--fps",
            "8",
        ]
    )
    assert code == 0
    urls = [str(p) for p in sorted(out.glob("*.tar"))]
    return {s["__key__"]: s for s in wds.WebDataset(urls, shardshuffle=False)}, out


def test_all_kinds_are_covered() -> None:
    assert {kind for _, kind, _, _ in CASES} == set(VIDEO_KINDS)


def test_nothing_rejected(sharded: tuple[dict, Path]) -> None:
    samples, out = sharded
    assert (out / "errors.jsonl").read_text() == ""
    assert len(samples) == len(CASES) + len(FILE_AUDIO)


@pytest.mark.parametrize(("name", "kind", "size", "audio"), CASES, ids=[c[0] for c in CASES])
def test_video_is_small_h264_that_decord_reads(sharded, name, kind, size, audio) -> None:
    sample = sharded[0][name]
    meta = json.loads(sample["json"])["video"]
    width, height = size
    scale = min(1.0, 96 / min(width, height))
    assert min(meta["width"], meta["height"]) == min(96, min(width, height))
    assert abs(meta["width"] - width * scale) <= 2 and meta["width"] % 2 == 0
    assert meta["codec"] == "h264" and meta["fps"] == 8.0
    assert (
        meta["source_codec"]
        == {
            "h264": "h264",
            "h264_high444": "h264",
            "mpeg4": "mpeg4",
            "mjpeg_avi": "mjpeg",
            "mpeg2": "mpeg2video",
            "vp9": "vp9",
        }[kind]
    )
    reader = decord.VideoReader(io.BytesIO(sample["mp4"]))
    assert len(reader) == meta["num_frames"] == 4  # 6 frames at 12 fps → 0.5 s at 8 fps
    assert reader.get_batch([0, 3]).shape == (2, meta["height"], meta["width"], 3)


@pytest.mark.parametrize(("name", "kind", "size", "audio"), CASES, ids=[c[0] for c in CASES])
def test_container_audio_becomes_16k_mono_flac(sharded, name, kind, size, audio) -> None:
    sample = sharded[0][name]
    meta = json.loads(sample["json"])
    if audio is None:
        assert "flac" not in sample and meta["modalities"]["audio"] is False
        return
    wave, rate = sf.read(io.BytesIO(sample["flac"]))
    assert rate == 16000 and wave.ndim == 1
    assert meta["audio"]["source_sample_rate"] == audio[0]
    assert meta["audio"]["source_channels"] == audio[1]
    assert abs(len(wave) - 0.5 * 16000) < 0.1 * 16000


@pytest.mark.parametrize(("index", "audio"), list(enumerate(FILE_AUDIO)))
def test_audio_files_of_any_rate_and_layout(sharded, index, audio) -> None:
    sample = sharded[0][f"file{index}"]
    wave, rate = sf.read(io.BytesIO(sample["flac"]))
    assert rate == 16000 and wave.ndim == 1 and abs(len(wave) - 0.8 * 16000) <= 16
    assert json.loads(sample["json"])["audio"]["origin"] == "file"
