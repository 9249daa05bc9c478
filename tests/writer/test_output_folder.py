"""One dataset and one run per output folder, and a run that writes nothing says so."""

import json
import os
import socket
from pathlib import Path

import pytest

from avtpretrain.writer import shardwriter as sw
from avtpretrain.writer.folder import remove_prefix
from avtpretrain.writer.lock import folder_lock
from avtpretrain.writer.make_shards import main
from tests.factory import seed_args, seed_dataset, write_csv


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_dataset(tmp_path_factory.mktemp("folder"), 3).parent


def folder_state(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_second_prefix_is_refused_and_damages_nothing(
    seed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(seed_args(seed_root, out, "--samples_per_shard", "2")) == 0
    before = folder_state(out)
    capsys.readouterr()
    for extra in ((), ("--overwrite",), ("--merge_only",)):
        args = seed_args(seed_root, out, "--prefix", "train-hq", *extra)
        assert main(args) == 2
        line = one_line(capsys.readouterr().err)
        assert str(out) in line and "'train'" in line and "one dataset per folder" in line
        assert folder_state(out) == before


def test_prefix_globs_match_exactly(tmp_path: Path) -> None:
    progress = tmp_path / sw.PROGRESS_DIR
    progress.mkdir()
    names = ["train-000000.tar", "train-hq-000000.tar", ".train-hq-000000.tar.7.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    record = {"group": 0, "shards": {"train-hq-000000.tar": 1}, "samples": 1, "errors": []}
    (progress / "train-hq-000000.json").write_text(json.dumps(record | {"stats": {}}))
    (progress / "settings-train-hq.json").write_text("{}")
    assert sw.load_records(tmp_path, "train") == []
    remove_prefix(tmp_path, "train")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".progress",
        ".train-hq-000000.tar.7.tmp",
        "train-hq-000000.tar",
    ]
    assert sorted(p.name for p in progress.iterdir()) == [
        "settings-train-hq.json",
        "train-hq-000000.json",
    ]


def test_a_second_run_into_a_busy_folder_exits_2_naming_the_holder(
    seed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with folder_lock(out):  # stands for another run holding the folder
        assert main(seed_args(seed_root, out)) == 2
    line = one_line(capsys.readouterr().err)
    assert str(out) in line and f"{os.getpid()}@{socket.gethostname()}" in line
    assert not list(out.glob("*.tar"))
    assert main(seed_args(seed_root, out)) == 0  # released on exit


def test_a_stale_lock_file_does_not_block(seed_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / sw.PROGRESS_DIR).mkdir(parents=True)
    (out / sw.PROGRESS_DIR / "lock").write_text("999999@a-host-that-died\n")
    assert main(seed_args(seed_root, out)) == 0


def test_array_jobs_share_a_folder_but_not_a_job(seed_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = seed_args(seed_root, out, "--samples_per_shard", "1", "--num_jobs", "2")
    with folder_lock(out, job_index=0, num_jobs=2):
        assert main([*args, "--job_index", "1"]) == 0
        assert main([*args, "--job_index", "0"]) == 2
        assert main(seed_args(seed_root, out, "--samples_per_shard", "1")) == 2
    assert main([*args, "--job_index", "0"]) == 0
    assert sorted(json.loads((out / "sizes.json").read_text())) == [
        "train-000000.tar",
        "train-000001.tar",
        "train-000002.tar",
    ]


def test_all_rows_rejected_exits_1_and_writes_no_shard(
    seed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_csv(tmp_path / "train.csv", ["audio", "text", "video"], [["", "clip0.txt", "no.mp4"]])
    args = seed_args(seed_root, tmp_path / "out")
    args[args.index("--manifest") + 1] = str(tmp_path / "train.csv")
    assert main(args) == 1
    assert "no samples written" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.tar"))
    assert json.loads((tmp_path / "out" / "sizes.json").read_text()) == {}


def test_a_group_with_every_row_rejected_leaves_no_empty_shard(
    seed_root: Path, tmp_path: Path
) -> None:
    rows = [["", "clip0.txt", "clip0.mp4"], ["", "clip1.txt", "no.mp4"]]
    write_csv(tmp_path / "train.csv", ["audio", "text", "video"], rows)
    args = seed_args(seed_root, tmp_path / "out", "--samples_per_shard", "1")
    args[args.index("--manifest") + 1] = str(tmp_path / "train.csv")
    assert main(args) == 0
    assert [p.name for p in (tmp_path / "out").glob("*.tar")] == ["train-000000.tar"]
    assert json.loads((tmp_path / "out" / "sizes.json").read_text()) == {"train-000000.tar": 1}
    assert main(args) == 0  # the empty group counts as done on a rerun


def test_a_missing_media_root_exits_2(
    seed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = seed_args(seed_root, tmp_path / "out")
    args[args.index("--video_root") + 1] = str(tmp_path / "nowhere")
    assert main(args) == 2
    line = one_line(capsys.readouterr().err)
    assert "--video_root" in line and str(tmp_path / "nowhere") in line
    assert not list((tmp_path / "out").glob("*.tar"))


def test_help_states_the_max_errors_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--max_errors" in text and "default: no limit" in text


@pytest.mark.parametrize("prefix", ["-train", "my data", ".hidden", "a/b"])
def test_a_prefix_the_reader_would_refuse_is_refused_up_front(
    seed_root: Path, tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*seed_args(seed_root, tmp_path / "out"), "--prefix", prefix])
    assert stop.value.code == 2 and "--prefix" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
