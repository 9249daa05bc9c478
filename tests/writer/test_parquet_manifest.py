"""Parquet manifests and mapped column names (video2dataset style), into the same samples a CSV
gives; a mapped column that does not exist is a one-line error naming the flag."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from avtpretrain.writer.make_shards import main as make_shards
from avtpretrain.writer.manifest import ManifestError, read_manifest
from tests.factory import make_video, write_csv


def _parquet(path: Path, columns: dict[str, list]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_with_mapped_columns_reads_like_the_csv(tmp_path) -> None:
    rows = {"url": ["a.mp4", "b.mp4", None], "txt": ["a cat", "a dog", "no video"]}
    parquet = _parquet(tmp_path / "m.parquet", rows | {"id": ["k1", "k2", "k3"]})
    cells = [["a.mp4", "a cat", "k1"], ["b.mp4", "a dog", "k2"], ["", "no video", "k3"]]
    csv = write_csv(tmp_path / "m.csv", ["video", "caption", "key"], cells)
    mapping = {"video": "url", "caption": "txt", "key": "id"}
    fmt, from_parquet = read_manifest(parquet, columns_as=mapping)
    _, from_csv = read_manifest(csv)
    assert fmt == "caption"
    # The same samples; a rejected row is named by its line (a Parquet row's index).
    assert [(s.video, s.captions, s.rejected) for s in from_parquet] == [
        (s.video, s.captions, s.rejected) for s in from_csv
    ]
    assert [s.key for s in from_parquet[:2]] == ["k1", "k2"] == [s.key for s in from_csv[:2]]
    assert from_parquet[2].rejected == ("manifest", "missing field", "video")


def test_a_mapped_column_that_is_not_there_names_the_flag(tmp_path) -> None:
    parquet = _parquet(tmp_path / "m.parquet", {"url": ["a.mp4"], "caption": ["a cat"]})
    with pytest.raises(ManifestError, match=r"m.parquet: --video_col link: no such column"):
        read_manifest(parquet, columns_as={"video": "link"})


def test_make_shards_takes_a_parquet_manifest_and_column_flags(tmp_path) -> None:
    (tmp_path / "videos").mkdir()
    for i in range(2):
        make_video(tmp_path / "videos" / f"v{i}.mp4", seed=i)
    manifest = _parquet(
        tmp_path / "clips.parquet", {"url": ["v0.mp4", "v1.mp4"], "txt": ["one", "two"]}
    )
    out = tmp_path / "shards"
    args = ["--manifest", str(manifest), "--video_root", str(tmp_path / "videos")]
    args += ["--video_col", "url", "--caption_col", "txt", "--output_dir", str(out)]
    assert make_shards([*args, "--workers", "1"]) == 0
    assert (out / "sizes.json").read_text().count(":") == 1 and sum(1 for _ in out.glob("*.tar"))
