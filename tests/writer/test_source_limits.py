"""Video is never upscaled; sources past the size or length limits are rejected undecoded."""

import json
import tarfile
from pathlib import Path

import pytest

from avtpretrain.writer import transcode
from avtpretrain.writer.make_shards import main
from avtpretrain.writer.transcode import MediaError, VideoSettings, target_size, transcode_video
from tests.factory import make_video, write_jsonl


def test_target_size_never_exceeds_the_source() -> None:
    assert target_size(3, 5, 224) == (2, 4)
    assert target_size(7, 7, 224) == (6, 6)
    assert target_size(64, 48, 32) == (42, 32)
    with pytest.raises(MediaError, match="source too small"):
        target_size(1, 1, 224)


def test_limits_reject_from_the_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_video(tmp_path / "v", size=(64, 48), num_frames=16, fps=8)  # 2 s

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a source that its header already ruled out")

    monkeypatch.setattr(transcode, "_frame_times", no_decoding)
    with pytest.raises(MediaError, match="source too large") as err:
        transcode_video(path, VideoSettings(max_source_pixels=3000))
    assert err.value.detail == "64x48 = 3072 pixels, limit --max_source_pixels=3000"
    with pytest.raises(MediaError, match="source too long") as err:
        transcode_video(path, VideoSettings(max_duration_s=1.5))
    assert "limit --max_duration_s=1.5" in err.value.detail


def test_tiny_odd_and_oversized_sources_end_to_end(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "dot", "h264_high444", (1, 1), num_frames=4)
    make_video(videos / "odd", "h264_high444", (3, 5), num_frames=4)
    make_video(videos / "wide", "h264", (96, 48), num_frames=4)
    make_video(videos / "long", "h264", (16, 16), num_frames=24, fps=8)  # 3 s
    rows = [{"video": f"{n}.mp4", "caption": n} for n in ("dot", "odd", "wide", "long")]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    out = tmp_path / "out"
    args = ["--manifest", str(manifest), "--video_root", str(videos), "--output_dir", str(out)]
    limits = ["--max_source_pixels", "4000", "--max_duration_s", "2"]
    assert main([*args, "--workers", "1", *limits]) == 0
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert {e["key"]: (e["stage"], e["reason"]) for e in errors} == {
        "dot": ("video", "source too small"),
        "wide": ("video", "source too large"),
        "long": ("video", "source too long"),
    }
    with tarfile.open(out / "m-000000.tar") as tar:
        meta = json.loads(tar.extractfile("odd.json").read())
    assert (meta["video"]["width"], meta["video"]["height"]) == (2, 4)
