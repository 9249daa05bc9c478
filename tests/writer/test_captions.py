"""Captions survive as written (Unicode line separators, quoted line breaks) or are rejected."""

import json
import shutil
from pathlib import Path

from avtpretrain.writer.make_shards import main
from avtpretrain.writer.manifest import read_manifest
from tests.factory import make_video, write_csv, write_jsonl


def test_jsonl_rows_holding_unicode_line_separators_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    rows = [
        {"video": "a.mp4", "caption": "one\u2028two"},
        {"video": "b.mp4", "caption": "three\x85four"},
        {"video": "c.mp4", "caption": "five"},
    ]
    # ensure_ascii=False keeps U+2028/U+0085 raw in the file, as many writers do.
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    _, samples = read_manifest(path)
    assert [(s.line, s.captions, s.rejected) for s in samples] == [
        (1, ("one\u2028two",), None),
        (2, ("three\x85four",), None),
        (3, ("five",), None),
    ]


def test_a_quoted_csv_caption_keeps_its_line_break(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "m.csv",
        ["video", "caption"],
        [["a.mp4", "first line\nsecond line"], ["b.mp4", "x\u2028y"], ["c.mp4", "c"]],
    )
    _, samples = read_manifest(path)
    assert [(s.line, s.captions, s.rejected) for s in samples] == [
        (2, ("first line\nsecond line",), None),
        (4, ("x\u2028y",), None),
        (5, ("c",), None),
    ]


def test_zero_width_and_overlong_captions_are_rejected_per_row(tmp_path: Path) -> None:
    rows = [
        {"clip_name": "a", "caption": "fine"},
        {"clip_name": "a", "caption": "x" * 2001},
        {"clip_name": "b", "caption": "\u200b\ufeff \u2060"},
        {"clip_name": "c", "caption": "y" * 2000},
        {"clip_name": "d", "caption": "half a pair \ud800"},
    ]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    _, samples = read_manifest(path)
    by_line = {s.line: s for s in samples}
    assert by_line[1].captions == ("fine",) and by_line[1].rejected is None
    assert by_line[2].rejected == (
        "text",
        "caption too long",
        "2001 characters, limit --max_caption_chars=2000",
    )
    assert by_line[3].rejected[:2] == ("text", "empty caption")
    assert by_line[4].rejected is None
    assert by_line[5].rejected[:2] == ("text", "not valid UTF-8")
    _, wider = read_manifest(path, max_caption_chars=3000)
    assert [s.line for s in wider if s.rejected] == [3, 5]


def test_caption_limits_end_to_end(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "a")
    shutil.copy(videos / "a.mp4", videos / "b.mp4")
    shutil.copy(videos / "a.mp4", videos / "c.mp4")
    text = tmp_path / "text"
    text.mkdir()
    (text / "a.txt").write_text("\ufeff\u200b\n")  # only format characters
    (text / "b.txt").write_text("z" * 40)
    (text / "c.txt").write_text("z" * 30)
    rows = [["", "a.txt", "a.mp4"], ["", "b.txt", "b.mp4"], ["", "c.txt", "c.mp4"]]
    manifest = write_csv(tmp_path / "train.csv", ["audio", "text", "video"], rows)
    out = tmp_path / "out"
    args = ["--manifest", str(manifest), "--video_root", str(videos), "--text_root", str(text)]
    code = main([*args, "--output_dir", str(out), "--workers", "1", "--max_caption_chars", "30"])
    assert code == 0
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [(e["key"], e["stage"], e["reason"]) for e in errors] == [
        ("a", "text", "empty caption"),
        ("b", "text", "caption too long"),
    ]
    assert "40 characters, limit --max_caption_chars=30" in errors[1]["detail"]
    assert json.loads((out / "stats.json").read_text())["samples"] == 1
