"""tools/show_audio_gain.py: the demo's with/without-sound table from four evaluation folders, its
bars, and a clear refusal of a folder that is not what it should be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avtpretrain.eval.audio_gain import main

R = {"r1": 0.0, "r5": 0.0, "r10": 0.0, "medianR": 1.0, "meanR": 1.0}


def _folder(path: Path, results: dict, info: dict) -> Path:
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps(results))
    (path / "info.json").write_text(json.dumps({"split": "val", **info}))
    return path


def _qa(path: Path, where: float, how: float) -> Path:
    results = {"overall_acc": (where + how) / 2, "where_acc": where, "how_acc": how}
    prior = {"overall_acc": 30.0, "where_acc": 25.0, "how_acc": 50.0}
    return _folder(path, results, {"baselines": {"question_prior": prior}})


@pytest.fixture
def folders(tmp_path: Path) -> list[str]:
    chance = {"r1": 2.0}
    video = _folder(tmp_path / "rv", {"text2video": R | {"r1": 10.0}}, {})
    sound = _folder(
        tmp_path / "ra",
        {"text2video": R | {"r1": 14.0}, "text2audio": R | {"r1": 12.0}},
        {"chance": {"text2video": chance, "text2audio": chance}, "with_audio": True},
    )
    qa = [_qa(tmp_path / "qv", 30.0, 60.0), _qa(tmp_path / "qa", 90.0, 70.0)]
    return ["--retrieval", str(video), str(sound), "--qa", *map(str, qa)]


def test_table_ratios_and_json(folders: list[str], tmp_path: Path, capsys) -> None:
    out = tmp_path / "gain.json"
    assert main([*folders, "--out", str(out), "--min_t2a", "5", "--min_type", "1.3"]) == 0
    rows = json.loads(out.read_text())
    assert rows["text→video R@1"]["ratio"] == pytest.approx(1.4)
    assert rows["text→audio R@1"]["ratio"] == pytest.approx(6.0)
    assert rows["QA where (direction)"]["ratio"] == pytest.approx(90 / 25)
    assert rows["QA how (speed)"]["ratio"] == pytest.approx(70 / 50)
    assert "audio bars: ok" in capsys.readouterr().out


def test_a_missed_bar_fails_naming_it(folders: list[str], capsys) -> None:
    assert main([*folders, "--min_gain", "1.5"]) == 1
    assert "NOT MET: text→video R@1: 1.40x, required >= 1.5x" in capsys.readouterr().out
    assert main([*folders, "--min_gain", "1.4"]) == 0
    assert main([*folders, "--min_type", "1.5"]) == 1
    assert "NOT MET: QA how (speed): 1.40x, required >= 1.5x" in capsys.readouterr().out


def test_a_run_without_sound_is_refused(folders: list[str]) -> None:
    folders[2] = folders[1]  # the video-only run given as the run with sound
    with pytest.raises(SystemExit, match=r"not a run with downstream\.use_audio"):
        main(folders)


def test_a_bar_without_a_baseline_fails(folders: list[str], tmp_path: Path, capsys) -> None:
    qa = _folder(tmp_path / "blind", {"overall_acc": 1.0, "where_acc": 1.0, "how_acc": 1.0}, {})
    folders[-1] = str(qa)  # no baselines in its info.json
    assert main([*folders, "--min_type", "1.5"]) == 1
    assert "QA how (speed): no baseline to compare with" in capsys.readouterr().out
