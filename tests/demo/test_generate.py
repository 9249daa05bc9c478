import io
import json
from pathlib import Path

import decord
import numpy as np
import pytest
import soundfile as sf

from avtpretrain.demo import render
from avtpretrain.demo.generate import main

ARGS = ["--num_clips", "8", "--size", "64", "--fps", "8", "--seconds", "1.0"]
TEXT_FILES = (
    "train.csv",
    "validation.csv",
    "test.csv",
    "demo_meta.json",
    "qa/train_ans2label.json",
)


def generate(out: Path, seed: int) -> Path:
    assert main(["--out", str(out), "--seed", str(seed), *ARGS]) == 0
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("demo") / "a", seed=3)


def text_files(root: Path) -> dict[str, bytes]:
    names = [
        *TEXT_FILES,
        *(f"{d}/{s}.jsonl" for d in ("ret", "qa") for s in ("train", "val", "test")),
    ]
    files = {n: (root / n).read_bytes() for n in names}
    files |= {f"text/{p.name}": p.read_bytes() for p in sorted((root / "text").glob("*.txt"))}
    return files


def clips(root: Path) -> list[dict]:
    return json.loads((root / "demo_meta.json").read_text())["clips"]


def test_same_seed_is_byte_identical(demo: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "b", seed=3)
    assert text_files(again) == text_files(demo)
    for sub in ("videos", "audio"):
        for path in sorted((demo / sub).iterdir()):
            assert (again / sub / path.name).read_bytes() == path.read_bytes(), path.name


def test_other_seed_differs(demo: Path, tmp_path: Path) -> None:
    other = generate(tmp_path / "c", seed=4)
    assert text_files(other)["demo_meta.json"] != text_files(demo)["demo_meta.json"]


def test_manifests_reference_existing_files(demo: Path) -> None:
    rows = []
    for name in ("train.csv", "validation.csv", "test.csv"):
        lines = (demo / name).read_text().splitlines()
        assert lines[0] == "audio,text,video"
        rows += [line.split(",") for line in lines[1:]]
    assert len(rows) == 8
    for audio, text, video in rows:
        assert (demo / "audio" / audio).is_file()
        assert (demo / "text" / text).read_text().strip()
        assert (demo / "videos" / video).is_file()
    ret = [json.loads(x) for x in (demo / "ret/test.jsonl").read_text().splitlines()]
    assert ret and all(set(r) == {"caption", "clip_name"} for r in ret)
    qa = [json.loads(x) for x in (demo / "qa/train.jsonl").read_text().splitlines()]
    assert {r["answer_type"] for r in qa} == {"what", "how", "where", "who"}
    ans2label = json.loads((demo / "qa/train_ans2label.json").read_text())
    assert sorted(ans2label.values()) == list(range(len(ans2label)))
    assert {r["answer"] for r in qa} <= set(ans2label)


def test_video_reads_back_with_decord_and_shows_the_caption(demo: Path) -> None:
    for clip in clips(demo):
        data = (demo / "videos" / f"{clip['clip_id']}.mp4").read_bytes()
        reader = decord.VideoReader(io.BytesIO(data))
        assert len(reader) == 8 and reader.get_avg_fps() == pytest.approx(8.0)
        frames = reader.get_batch([0, 7]).asnumpy().astype(np.float32)
        assert frames.shape == (2, 64, 64, 3)
        # The shape is the set of pixels far from the dark background: check colour and motion.
        mask = frames.max(axis=-1) > 100
        want = np.array(render.RGB[clip["color"]], dtype=np.float32)
        seen = frames[mask].mean(axis=0)
        assert np.abs(seen - want).max() < 40, (clip, seen)
        (y0, x0), (y1, x1) = (np.argwhere(m).mean(axis=0) for m in mask)
        move_x, move_y = x1 - x0, y1 - y0
        expect = {"left": move_x < -3, "right": move_x > 3, "up": move_y < -3, "down": move_y > 3}
        assert expect[clip["direction"]], (clip, move_x, move_y)
        audio = decord.AudioReader(io.BytesIO(data), sample_rate=16000, mono=True)
        assert audio.shape[1] >= 16000


def test_audio_reads_back_with_soundfile_and_pitch_follows_colour(demo: Path) -> None:
    for clip in clips(demo):
        wave, rate = sf.read(demo / "audio" / f"{clip['clip_id']}.wav", dtype="float32")
        assert rate == 16000 and wave.shape == (16000,)
        if clip["direction"] in ("left", "right"):  # no pitch glide: one dominant frequency
            spectrum = np.abs(np.fft.rfft(wave))
            peak_hz = np.argmax(spectrum) * rate / len(wave)
            assert abs(peak_hz - render.PITCH_HZ[clip["color"]]) < 15, (clip, peak_hz)


def test_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--size", "33"])
    assert "--size: expected an even number" in capsys.readouterr().err
