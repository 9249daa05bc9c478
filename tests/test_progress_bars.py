"""Long jobs show a tqdm bar on stderr and leave stdout as it was: the shard check's table, the
tokenizer's summary line, and nothing from the evaluation loops on ranks other than 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from avtpretrain.eval.loops.progress import counted, eval_bar
from avtpretrain.reader.tokenizer import main as train_tokenizer
from avtpretrain.writer.inspect import main as inspect_shards
from avtpretrain.writer.make_shards import main as make_shards
from tests.factory import seed_args, seed_dataset


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = seed_dataset(tmp_path_factory.mktemp("bars"), 3).parent
    assert make_shards(seed_args(root, root / "shards", "--samples_per_shard", "2")) == 0
    return root / "shards"


def test_inspect_shards_bar_on_stderr_table_on_stdout(
    shards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect_shards([str(shards)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["shard", "samples", "listed", "audio", "MB", "problems"]
    assert [line.split()[0] for line in lines[1:3]] == ["train-000000.tar", "train-000001.tar"]
    assert lines[3] == "2 shards, 3 samples, 0 problem(s)" and len(lines) == 4
    assert "inspecting" in err and "shard" in err


def test_train_tokenizer_bars_on_stderr(
    shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_tokenizer(["--shards", str(shards), "--out", str(tmp_path / "tok")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("made from 3 captions: ") and out.count("\n") == 1
    assert "reading captions" in err and "2/2" in err
    assert "counting words" in err and "3/3" in err


def test_eval_bar_only_on_rank_0(capsys: pytest.CaptureFixture[str]) -> None:
    for is_main in (False, True):
        with eval_bar("eval: videos", is_main, total=3) as bar:
            assert [counted(bar, lambda x: x * 2)(i) for i in range(3)] == [0, 2, 4]
            assert bar.disable != is_main
            assert bar.n == (3 if is_main else 0)
        out, err = capsys.readouterr()
        assert out == ""
        assert ("eval: videos" in err) == is_main
    assert list(eval_bar("zero-shot: reading", False, items=iter("ab"))) == ["a", "b"]
