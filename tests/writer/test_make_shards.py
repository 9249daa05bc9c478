import json
import subprocess
from pathlib import Path

import pytest
import webdataset as wds

from avtpretrain.writer.make_shards import main
from tests.factory import make_video, seed_args, seed_dataset, write_csv, write_jsonl


def read_back(out: Path) -> dict[str, dict]:
    """Every sample through plain webdataset, keyed by __key__ (no project code involved)."""
    sizes = json.loads((out / "sizes.json").read_text())
    urls = [str(out / name) for name in sizes]
    samples = {s["__key__"]: s for s in wds.WebDataset(urls, shardshuffle=False, empty_check=False)}
    assert len(samples) == sum(sizes.values())
    return samples


def tar_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.tar"))}


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_dataset(tmp_path_factory.mktemp("seed"), 5).parent


def test_seed_csv_reads_back_with_webdataset_and_tar(seed_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    assert main(seed_args(seed_root, out, "--samples_per_shard", "2", "--short_side", "32")) == 0
    assert json.loads((out / "sizes.json").read_text()) == {
        "train-000000.tar": 2,
        "train-000001.tar": 2,
        "train-000002.tar": 1,
    }
    samples = read_back(out)
    assert sorted(samples) == [f"clip{i}" for i in range(5)]
    sample = samples["clip3"]
    assert {"json", "txt", "mp4", "flac"} <= set(sample)
    assert sample["txt"] == b"clip number 3 moves right\n"
    meta = json.loads(sample["json"])
    assert meta["modalities"] == {"video": True, "audio": True, "text": True}
    assert meta["sources"] == {"video": "clip3.mp4", "audio": "clip3.wav", "text": "clip3.txt"}
    assert (meta["video"]["width"], meta["video"]["height"]) == (42, 32)  # 64x48 → short side 32
    assert meta["audio"]["sample_rate"] == 16000 and meta["original_key"] == "clip3.mp4"
    listing = subprocess.run(
        ["tar", "tf", str(out / "train-000001.tar")], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listing == [f"clip{i}.{e}" for i in (2, 3) for e in ("json", "txt", "flac", "mp4")]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["samples"] == 5 and stats["rejected"] == 0 and stats["complete"]
    assert stats["video_seconds"] == pytest.approx(5.0)
    assert (out / "errors.jsonl").read_text() == ""


def test_one_and_two_workers_write_identical_shards(seed_root: Path, tmp_path: Path) -> None:
    assert main(seed_args(seed_root, tmp_path / "a", "--samples_per_shard", "2")) == 0
    two = seed_args(seed_root, tmp_path / "b", "--samples_per_shard", "2", "--workers", "2")
    assert main(two) == 0
    assert tar_bytes(tmp_path / "a") == tar_bytes(tmp_path / "b")
    assert len(tar_bytes(tmp_path / "a")) == 3


def test_jobs_write_disjoint_shards_that_add_up(seed_root: Path, tmp_path: Path) -> None:
    assert main(seed_args(seed_root, tmp_path / "one", "--samples_per_shard", "2")) == 0
    for index in ("0", "1"):
        args = seed_args(seed_root, tmp_path / "two", "--samples_per_shard", "2")
        assert main([*args, "--num_jobs", "2", "--job_index", index]) == 0
    assert tar_bytes(tmp_path / "one") == tar_bytes(tmp_path / "two")
    assert (tmp_path / "one/sizes.json").read_text() == (tmp_path / "two/sizes.json").read_text()


def test_max_shard_bytes_splits_a_group(seed_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert (
        main(seed_args(seed_root, out, "--samples_per_shard", "5", "--max_shard_bytes", "60K")) == 0
    )
    sizes = json.loads((out / "sizes.json").read_text())
    assert len(sizes) > 1 and sum(sizes.values()) == 5
    assert list(sizes)[:2] == ["train-000000.tar", "train-000000_01.tar"]
    assert all(p.stat().st_size <= 60 * 1024 for p in out.glob("*.tar") if sizes[p.name] > 1)
    assert len(read_back(out)) == 5


def test_rerun_skips_finished_shards_and_other_settings_need_overwrite(
    seed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    args = seed_args(seed_root, out, "--samples_per_shard", "2")
    assert main(args) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    capsys.readouterr()
    assert main(args) == 0
    assert "0 written, 3 already done" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")} == before
    with pytest.raises(SystemExit, match="samples_per_shard differ"):
        main(seed_args(seed_root, out, "--samples_per_shard", "3"))
    assert main(seed_args(seed_root, out, "--samples_per_shard", "3", "--overwrite")) == 0
    assert json.loads((out / "sizes.json").read_text()) == {
        "train-000000.tar": 3,
        "train-000001.tar": 2,
    }


def test_caption_manifests_csv_and_jsonl(tmp_path: Path) -> None:
    videos, audio = tmp_path / "v", tmp_path / "a"
    make_video(videos / "x", audio_rate=16000)
    make_video(videos / "y")  # no soundtrack
    make_video(videos / "z", audio_rate=16000)
    from tests.factory import make_audio

    make_audio(audio / "z.flac", rate=22050)
    csv_path = write_csv(
        tmp_path / "cap.csv",
        ["video", "caption", "audio"],
        [
            ["x.mp4", "  a  caption\twith spaces ", ""],
            ["y.mp4", "cafe\u0301", ""],
            ["z.mp4", "z", "z.flac"],
        ],
    )
    jsonl_path = write_jsonl(
        tmp_path / "cap.jsonl",
        [{"video": "x.mp4", "caption": ["first", "second"]}, {"video": "y.mp4", "caption": "y"}],
    )
    for manifest in (csv_path, jsonl_path):
        out = tmp_path / manifest.suffix[1:]
        args = [
            "--manifest",
            str(manifest),
            "--video_root",
            str(videos),
            "--audio_root",
            str(audio),
        ]
        assert main([*args, "--audio_from_video", "--output_dir", str(out), "--workers", "1"]) == 0
        samples = read_back(out)
        metas = {k: json.loads(s["json"]) for k, s in samples.items()}
        assert metas["x"]["audio"]["origin"] == "video_track" and "flac" in samples["x"]
        assert metas["y"]["modalities"]["audio"] is False and "flac" not in samples["y"]
        assert json.loads((out / "stats.json").read_text())["without_audio"] == 1
    csv_samples = read_back(tmp_path / "csv")
    assert csv_samples["x"]["txt"] == b"a caption with spaces\n"
    assert csv_samples["y"]["txt"] == "caf\u00e9\n".encode()  # NFC
    assert json.loads(csv_samples["z"]["json"])["audio"]["source_sample_rate"] == 22050
    assert read_back(tmp_path / "jsonl")["x"]["txt"] == b"first\nsecond\n"


def test_alpro_jsonl_takes_audio_from_the_video(tmp_path: Path) -> None:
    make_video(tmp_path / "videos" / "video7", audio_rate=44100, audio_channels=2)
    rows = [
        {"caption": "a man sings", "clip_name": "video7"},
        {"caption": "someone is singing", "clip_name": "video7"},
    ]
    manifest = write_jsonl(tmp_path / "train.jsonl", rows)
    out = tmp_path / "out"
    args = ["--manifest", str(manifest), "--video_root", str(tmp_path / "videos")]
    assert main([*args, "--output_dir", str(out), "--workers", "1"]) == 0
    sample = read_back(out)["video7"]
    meta = json.loads(sample["json"])
    assert sample["txt"] == b"a man sings\nsomeone is singing\n"
    assert meta["original_key"] == "video7"
    assert meta["audio"]["source_channels"] == 2 and meta["audio"]["sample_rate"] == 16000


def test_copy_video_keeps_source_bytes(tmp_path: Path) -> None:
    src = make_video(tmp_path / "videos" / "c", kind="mjpeg_avi")
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"video": "c.avi", "caption": "c"}])
    out = tmp_path / "out"
    args = ["--manifest", str(manifest), "--video_root", str(tmp_path / "videos"), "--copy_video"]
    assert main([*args, "--output_dir", str(out), "--workers", "1"]) == 0
    sample = read_back(out)["c"]
    assert sample["avi"] == src.read_bytes()
    assert json.loads(sample["json"])["video"]["codec"] == "mjpeg"


def test_empty_manifest_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "train.csv"
    manifest.write_text("audio,text,video\n")
    out = tmp_path / "out"
    assert (
        main(["--manifest", str(manifest), "--video_root", str(tmp_path), "--output_dir", str(out)])
        == 2
    )
    assert f"{manifest}: empty manifest" in capsys.readouterr().err
    assert not out.exists()
