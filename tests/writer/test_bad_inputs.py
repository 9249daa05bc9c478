"""Every kind of bad input is rejected with its reason, counted, and leaves good samples intact."""

import json
from pathlib import Path

import pytest
import soundfile as sf

from avtpretrain.writer.make_shards import main
from tests.factory import make_audio, make_video, seed_args, tone, write_csv

# key → (stage, reason) that errors.jsonl must give for it
EXPECTED = {
    "missing": ("video", "missing file"),
    "zero": ("video", "zero-byte file"),
    # mp4 keeps its index (moov) at the end: a cut-off file cannot even be opened.
    "truncated": ("video", "cannot open"),
    "garbage": ("video", "cannot open"),
    "noframes": ("video", "no video stream"),
    "lowrate": ("audio", "bad audio sample rate"),
    "latin1": ("text", "not valid UTF-8"),
    "blank": ("text", "empty caption"),
    "escape": ("manifest", "path escapes root"),
    "line12": ("manifest", "malformed row"),
    "good": ("manifest", "duplicate key"),
    "noaudiofile": ("audio", "missing file"),
}


@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    videos, audio, text = root / "videos", root / "audio", root / "text"
    for name in ("good", "zero", "truncated", "garbage", "lowrate", "latin1", "blank", "sixch"):
        make_video(videos / name, seed=len(name))
        (text / f"{name}.txt").parent.mkdir(parents=True, exist_ok=True)
        (text / f"{name}.txt").write_text(f"{name} caption")
    (videos / "zero.mp4").write_bytes(b"")
    data = (videos / "truncated.mp4").read_bytes()
    (videos / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (videos / "garbage.mp4").write_bytes(bytes(range(256)) * 40)
    make_audio(videos / "noframes.wav")  # an audio-only file given as the video
    (text / "noframes.txt").write_text("no frames")
    make_audio(audio / "good.wav")
    sf.write(audio / "lowrate.wav", tone(1.0, 1000), 1000)  # a wrong header-level rate
    make_audio(audio / "sixch.wav", rate=48000, channels=6)  # many channels: downmixed, kept
    (text / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (text / "blank.txt").write_text(" \n\t ")
    (root / "secret.txt").write_text("outside the root")
    rows = [
        ["good.wav", "good.txt", "good.mp4"],
        ["", "good.txt", "missing.mp4"],
        ["", "good.txt", "zero.mp4"],
        ["", "good.txt", "truncated.mp4"],
        ["", "good.txt", "garbage.mp4"],
        ["", "noframes.txt", "noframes.wav"],
        ["lowrate.wav", "lowrate.txt", "lowrate.mp4"],
        ["", "latin1.txt", "latin1.mp4"],
        ["", "blank.txt", "blank.mp4"],
        ["", "../secret.txt", "escape.mp4"],
        ["sixch.wav", "sixch.txt", "sixch.mp4", "unexpected"],
        ["sixch.wav", "sixch.txt", "sixch.mp4"],
        ["good.wav", "good.txt", "good.mp4"],
        ["nothere.wav", "good.txt", "noaudiofile.mp4"],
    ]
    make_video(videos / "noaudiofile")
    write_csv(root / "train.csv", ["audio", "text", "video"], rows)
    (root / "escape").mkdir()
    return root


def run(root: Path, out: Path, *extra: str) -> int:
    return main(seed_args(root, out, "--samples_per_shard", "4", *extra))


def test_each_bad_input_is_rejected_with_its_reason(bad_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(bad_dataset, out) == 0
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    got = {e["key"]: (e["stage"], e["reason"]) for e in errors}
    assert got == EXPECTED
    by_key = {e["key"]: e for e in errors}
    assert by_key["escape"]["sources"]["text"] == "../secret.txt"
    assert "expected 3 fields" in by_key["line12"]["detail"]
    assert "offset 3" in by_key["latin1"]["detail"]
    sizes = json.loads((out / "sizes.json").read_text())
    assert sum(sizes.values()) == 2  # good + sixch
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejected"] == len(EXPECTED) and stats["samples"] == 2
    assert stats["failures"]["video: missing file"] == 1
    assert sum(stats["failures"].values()) == len(EXPECTED)


def test_six_channel_48k_audio_is_downmixed_to_16k_mono(bad_dataset: Path, tmp_path: Path) -> None:
    import io

    import webdataset as wds

    out = tmp_path / "out"
    assert run(bad_dataset, out) == 0
    urls = [str(p) for p in sorted(out.glob("*.tar"))]
    sample = next(s for s in wds.WebDataset(urls, shardshuffle=False) if s["__key__"] == "sixch")
    wave, rate = sf.read(io.BytesIO(sample["flac"]))
    assert rate == 16000 and wave.ndim == 1 and len(wave) == 16000
    assert json.loads(sample["json"])["audio"]["source_channels"] == 6


def test_max_errors_stops_with_exit_1(
    bad_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(bad_dataset, out, "--max_errors", "2") == 1
    assert "more than --max_errors=2" in capsys.readouterr().err
    stats = json.loads((out / "stats.json").read_text())
    assert not stats["complete"] and stats["groups_done"] < stats["groups_total"]
