"""Shard lists that lie, data that is all broken, shards that vanish: a clear error, never a hang,
a shell command or a silently smaller evaluation."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from avtpretrain.dist import DistInfo
from avtpretrain.reader.counters import StreamStarvedError
from avtpretrain.reader.evaluation import eval_batches
from avtpretrain.reader.loaders import stream_spec, train_stream
from avtpretrain.reader.shards import resolve_shards
from tests.reader.recipes import config


def _copy(shards: Path, to: Path) -> Path:
    shutil.copytree(shards, to)
    return to


def _write_sizes(folder: Path, sizes: dict) -> None:
    (folder / "sizes.json").write_text(json.dumps(sizes))


@pytest.mark.parametrize(
    "name", ["pipe:touch PWNED", "../outside.tar", "/etc/passwd", "sub/x.tar", ".hidden.tar"]
)
def test_sizes_json_names_must_be_plain_shard_files(tmp_path, name) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    _write_sizes(folder, {name: 3})
    with pytest.raises(ValueError, match="not a plain shard file name"):
        resolve_shards([str(folder)])
    assert not (folder / "PWNED").exists() and not Path("PWNED").exists()


def test_sizes_json_naming_a_missing_shard_is_refused(corpus, tmp_path) -> None:
    folder = _copy(corpus[0], tmp_path / "shards")
    next(folder.glob("*.tar")).unlink()
    with pytest.raises(ValueError, match="not in the folder"):
        resolve_shards([str(folder)])


def test_all_shards_empty_names_the_spec(tmp_path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "x-000000.tar").write_bytes(b"")
    _write_sizes(folder, {"x-000000.tar": 0})
    with pytest.raises(ValueError, match=f"{folder}: every listed shard is empty"):
        resolve_shards([str(folder)], [1.0])
    with pytest.raises(ValueError, match="every listed shard is empty"):
        resolve_shards([str(folder)])


def test_a_stream_with_nothing_readable_stops_naming_the_shards(corpus, tmp_path) -> None:
    folder = _copy(corpus[0], tmp_path / "broken")
    for tar in folder.glob("*.tar"):
        tar.write_bytes(b"this is not a tar file" * 100)
    cfg = config((folder, corpus[1]), "data.num_workers=0", "data.max_consecutive_skips=20")
    stream = train_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0)
    with pytest.raises(StreamStarvedError, match=f"{folder}: 20 samples or shards in a row"):
        next(iter(stream))


def test_an_evaluation_shard_deleted_before_evaluation_is_an_error(corpus, tmp_path) -> None:
    folder = _copy(corpus[0], tmp_path / "val")
    cfg = config((folder, corpus[1]), "data.num_workers=0")
    spec = stream_spec(cfg.model, cfg.data, train=False, batch_size=2, dist=DistInfo(), seed=0)
    next(folder.glob("*.tar")).unlink()  # after the run resolved its shards, before it evaluates
    with pytest.raises(FileNotFoundError, match="no longer exist"):
        list(eval_batches(spec))


def test_a_corrupt_packet_inside_a_valid_video_is_a_decode_failure(tmp_path) -> None:
    from avtpretrain.reader.decode import read_video_frames
    from tests.factory import make_video

    data = bytearray(make_video(tmp_path / "v", "h264").read_bytes())
    # What bench/soak.py does to a sample: the middle of the coded frames overwritten in place,
    # the container's index intact (decord then fails with a bare DECORDError, not RuntimeError).
    start, end = data.find(b"mdat"), data.find(b"moov")
    size = (end - start) // 2
    data[start + size // 2 : start + size // 2 + size] = random.Random(0).randbytes(size)
    with pytest.raises(RuntimeError, match="decord"):
        read_video_frames(bytes(data), lambda n: list(range(min(n, 8))))
