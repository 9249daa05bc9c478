from pathlib import Path

import pytest

from avtpretrain.contract.format import sanitize_key, shard_name, split_member
from avtpretrain.contract.keys import path_key
from avtpretrain.writer.manifest import ManifestError, read_manifest
from tests.factory import write_csv, write_jsonl


def test_keys_have_no_dots_or_slashes() -> None:
    for path in ("a/b.c.mp4", "clip 1.avi"):
        assert "." not in path_key(path) and "/" not in path_key(path)
    assert path_key("clip3.mp4") == "clip3"
    assert sanitize_key("v1.2") == "v1_2"
    assert split_member("dir/k_1.flac") == ("dir/k_1", "flac")
    assert split_member("__meta__.json") is None and split_member("README") is None


def test_shard_names_are_zero_padded_and_parts_do_not_collide() -> None:
    assert shard_name("train", 12) == "train-000012.tar"
    assert shard_name("train", 12, 1) == "train-000012_01.tar"
    assert shard_name("train", 1_000_000) == "train-1000000.tar"


def test_seed_csv(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "m.csv",
        ["audio", "text", "video"],
        [
            ["a.wav", "a.txt", "x/a.mp4"],
            ["", "b.txt", "b.mp4"],
            ["c.wav", "c.txt", "c.mp4", "extra"],
        ],
    )
    fmt, samples = read_manifest(path)
    assert fmt == "seed"
    # `x/a` is not a key as it stands: sanitised, plus a hash so `x_a.mp4` could not collide.
    assert samples[0].key.startswith("x_a-") and samples[1].key == "b"
    assert samples[0].audio == "a.wav" and samples[1].audio is None
    assert samples[2].rejected[:2] == ("manifest", "malformed row")
    assert "expected 3 fields" in samples[2].rejected[2]


def test_caption_jsonl_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    write_jsonl(path, [{"video": "a.mp4", "caption": "one"}, {"video": "a.mp4", "caption": "two"}])
    path.write_text(path.read_text() + "{not json\n[1, 2]\n")
    fmt, samples = read_manifest(path, audio_from_video=True)
    assert fmt == "caption"
    assert samples[0].captions == ("one",) and samples[0].audio_from_video
    assert samples[1].rejected == ("manifest", "duplicate key", "'a' first on line 1")
    assert samples[2].rejected[1] == "malformed row" and samples[2].line == 3
    assert "expected a JSON object" in samples[3].rejected[2]


def test_alpro_merges_captions_per_clip(tmp_path: Path) -> None:
    rows = [
        {"caption": "a dog", "clip_name": "video1", "sen_id": 1},
        {"caption": "a cat", "clip_name": "video2"},
        {"caption": "a dog runs", "clip_name": "video1"},
        {"clip_name": "video3"},
    ]
    fmt, samples = read_manifest(write_jsonl(tmp_path / "train.jsonl", rows))
    assert fmt == "alpro"
    assert [(s.key, s.captions) for s in samples[:2]] == [
        ("video1", ("a dog", "a dog runs")),
        ("video2", ("a cat",)),
    ]
    assert samples[0].video == "video1.mp4" and samples[0].audio_from_video
    assert samples[2].rejected == ("manifest", "missing field", "caption")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty manifest"),
        ("audio,text,video\n", "empty manifest"),
        ("a,b\n1,2\n", "cannot tell the manifest format"),
    ],
)
def test_unusable_manifests(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)
