import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from avtpretrain.writer.inspect import main as inspect_main
from avtpretrain.writer.make_shards import main
from tests.factory import seed_args, seed_dataset


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = seed_dataset(tmp_path_factory.mktemp("insp"), 4).parent
    assert main(seed_args(root, root / "shards", "--samples_per_shard", "2")) == 0
    return root / "shards"


@pytest.fixture
def copy(good: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(good, tmp_path / "s"))


def rewrite(path: Path, order: list[int]) -> None:
    """Rewrite a tar with its members in `order` (indices into the original member list)."""
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(path, "w") as tar:
        for i in order:
            info, data = members[i]
            tar.addfile(info, io.BytesIO(data))


def run(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = inspect_main([str(folder), "--decode", "5"])
    return code, capsys.readouterr().out


def test_good_shards_pass(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(good, capsys)
    assert code == 0, out
    assert "2 shards, 4 samples, 0 problem(s)" in out


def test_non_consecutive_members(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rewrite(copy / "train-000000.tar", [0, 1, 2, 4, 5, 6, 7, 3])  # clip0.mp4 moved to the end
    code, out = run(copy, capsys)
    assert code == 1 and "clip0: files not consecutive" in out


def test_duplicate_key_across_shards(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(copy / "train-000000.tar", copy / "train-000001.tar")
    code, out = run(copy, capsys)
    assert code == 1 and "clip0: key also in train-000000.tar" in out


def test_sizes_mismatch_and_unlisted(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / "sizes.json").write_text(json.dumps({"train-000000.tar": 3}))
    code, out = run(copy, capsys)
    assert code == 1
    assert "sizes.json says 3 samples, found 2" in out
    assert "train-000001.tar: not in sizes.json" in out


def test_truncated_tar_and_missing_member(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = (copy / "train-000001.tar").read_bytes()
    (copy / "train-000001.tar").write_bytes(data[: len(data) // 2 + 100])
    rewrite(copy / "train-000000.tar", [0, 1, 2, 3, 4, 5, 6])  # clip1.mp4 dropped
    code, out = run(copy, capsys)
    assert code == 1
    assert "clip1: missing video" in out
    assert "train-000001.tar: unreadable tar" in out


def test_undecodable_video_is_caught(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy / "train-000000.tar"
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            if info.name == "clip0.mp4":
                data = b"\\x00" * len(data)
            tar.addfile(info, io.BytesIO(data))
    code, out = run(copy, capsys)
    assert code == 1 and "clip0: video does not decode with decord" in out
