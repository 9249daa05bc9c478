"""Bad paths are per-sample rejections; every distinct source gets its own stable, tar-safe key."""

import json
import re
import shutil
from pathlib import Path

import pytest

from avtpretrain.writer import clips
from avtpretrain.writer.make_shards import main
from avtpretrain.writer.manifest import read_manifest
from tests.factory import make_video, write_jsonl

KEY = re.compile(r"[A-Za-z0-9_-]{1,80}")


def caption_run(tmp_path: Path, videos: Path, rows: list[dict], *extra: str) -> tuple[int, Path]:
    manifest = write_jsonl(tmp_path / "train.jsonl", rows)
    out = tmp_path / "out"
    args = ["--manifest", str(manifest), "--video_root", str(videos), "--output_dir", str(out)]
    return main([*args, "--workers", "1", *extra]), out


def errors_of(out: Path) -> dict[int, tuple[str, str, str]]:
    lines = (out / "errors.jsonl").read_text().splitlines()
    return {e["line"]: (e["stage"], e["reason"], e["detail"]) for e in map(json.loads, lines)}


def test_symlink_loop_long_name_and_nul_byte_are_rejected_per_sample(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "good")
    (videos / "loop.mp4").symlink_to("loop.mp4")
    rows = [
        {"video": "good.mp4", "caption": "good"},
        {"video": "loop.mp4", "caption": "a symlink to itself"},
        {"video": "x" * 300 + ".mp4", "caption": "longer than NAME_MAX"},
        {"video": "a\u0000b.mp4", "caption": "a NUL byte"},
        {"video": "\ud800.mp4", "caption": "a lone surrogate, legal in JSON"},
    ]
    code, out = caption_run(tmp_path, videos, rows)
    assert code == 0
    errors = errors_of(out)
    assert {line: e[:2] for line, e in errors.items()} == {
        2: ("video", "symlink loop"),
        3: ("video", "path too long"),
        4: ("video", "NUL byte in path"),
        5: ("video", "path not encodable"),
    }
    stats = json.loads((out / "stats.json").read_text())
    assert stats["samples"] == 1 and stats["failures"]["video: symlink loop"] == 1


def test_an_unexpected_error_in_one_sample_is_a_rejection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "a")
    shutil.copy(videos / "a.mp4", videos / "b.mp4")
    real = clips.build_sample

    def flaky(src, settings):
        if src.key == "b":
            raise RuntimeError("decoder exploded")
        return real(src, settings)

    monkeypatch.setattr(clips, "build_sample", flaky)
    rows = [{"video": "a.mp4", "caption": "a"}, {"video": "b.mp4", "caption": "b"}]
    code, out = caption_run(tmp_path, videos, rows)
    assert code == 0
    assert errors_of(out) == {2: ("sample", "unexpected error", "RuntimeError: decoder exploded")}


def test_distinct_sources_get_distinct_stable_keys(tmp_path: Path) -> None:
    videos = [
        "sub/x.mp4",
        "sub_x.mp4",
        "日本.mp4",
        "中国.mp4",
        "a.mp4",
        "a.avi",
        "clip 1.mp4",
        "n" * 200 + ".mp4",
    ]
    rows = [{"video": v, "caption": "c"} for v in videos] + [{"video": "sub_x.mp4", "caption": "c"}]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    _, samples = read_manifest(path)
    kept, repeated = samples[:-1], samples[-1]
    keys = [s.key for s in kept]
    assert all(s.rejected is None for s in kept)
    assert len(set(keys)) == len(videos) and all(KEY.fullmatch(k) for k in keys)
    assert keys[1] == "sub_x" and keys[4] == "a"  # valid names stay as they are
    assert keys[0].startswith("sub_x-") and keys[6].startswith("clip_1-")
    assert repeated.rejected == ("manifest", "duplicate key", "'sub_x' first on line 2")
    assert [s.key for s in read_manifest(path)[1]] == [s.key for s in samples]  # deterministic


def test_a_long_file_name_gives_a_key_that_fits_the_tar_header(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    long_name = "n" * 200
    make_video(videos / long_name)
    code, out = caption_run(tmp_path, videos, [{"video": f"{long_name}.mp4", "caption": "long"}])
    assert code == 0 and errors_of(out) == {}
    sizes = json.loads((out / "sizes.json").read_text())
    assert sum(sizes.values()) == 1
