"""The summary picture: drawn headless from a log and result folders, written atomically."""

import json
from pathlib import Path

import pytest

from avtpretrain.eval.plot import main, read_log, series


def write_run(root: Path) -> tuple[Path, Path, Path]:
    log = root / "pretrain" / "log.jsonl"
    log.parent.mkdir(parents=True)
    rows = [
        {
            "step": s,
            "train/loss": 5.0 / s,
            "train/loss/mlm": 2.0 / s,
            "train/acc/mlm": s / 10,
            "train/lr": 1e-3,
        }
        for s in range(1, 6)
    ]
    rows.append({"summary": {"steps": 5}})
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ret, qa = root / "ret", root / "qa"
    for folder in (ret, qa):
        folder.mkdir()
    metrics = {"r1": 20.0, "r5": 60.0, "r10": 90.0, "medianR": 3.0, "meanR": 4.0}
    (ret / "results.json").write_text(json.dumps({"text2video": metrics, "video2text": metrics}))
    chance = {"r1": 2.0, "r5": 10.0, "r10": 20.0, "medianR": 25.0, "meanR": 25.0}
    info = {"split": "val", "queries": 50, "chance": {"text2video": chance}}
    (ret / "info.json").write_text(json.dumps(info))
    accs = {
        "overall_acc": 50.0,
        "what_acc": 70.0,
        "who_acc": 40.0,
        "how_acc": 60.0,
        "where_acc": 30.0,
        "when_acc": 0.0,
    }
    ratios = {
        f"{t}_ratio": [20.0, 0 if t == "when" else 10]
        for t in ("what", "who", "how", "where", "when")
    }
    (qa / "results.json").write_text(json.dumps({**accs, "ratios": ratios}))
    base = {"majority_answer": {"answer": "x", **accs}, "question_prior": accs}
    (qa / "info.json").write_text(json.dumps({"split": "val", "questions": 40, "baselines": base}))
    return log, ret, qa


def test_the_picture_is_a_png(tmp_path: Path) -> None:
    log, ret, qa = write_run(tmp_path)
    out = tmp_path / "summary.png"
    assert main([str(log), "--retrieval", str(ret), "--qa", str(qa), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000  # six panels, not an empty canvas
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_log_reading_skips_the_summary_and_missing_keys(tmp_path: Path) -> None:
    log, _, _ = write_run(tmp_path)
    records = read_log(log)
    assert len(records) == 5
    assert series(records, "train/acc/mlm") == ([1, 2, 3, 4, 5], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert series(records, "train/loss/mvm") == ([], [])


def test_an_unreadable_log_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="cannot read the training log"):
        read_log(tmp_path / "missing.jsonl")


def test_a_resumed_log_keeps_the_later_record_of_a_step(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [
        {"step": 1, "train/loss": 3.0},
        {"step": 2, "train/loss": 2.0},
        {"step": 2, "val/text2video_r1": 9.0},
        {"step": 2, "train/loss": 2.5},
        {"step": 3, "train/loss": 1.0},
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    assert series(read_log(log), "train/loss") == ([1, 2, 3], [3.0, 2.5, 1.0])
    assert series(read_log(log), "val/text2video_r1") == ([2], [9.0])
    log.write_text(log.read_text() + '{"step": 4, "train/lo')
    with pytest.raises(SystemExit, match=r"log.jsonl:7: not JSON"):
        read_log(log)


def test_results_without_baselines_or_without_qa(tmp_path: Path) -> None:
    log, ret, qa = write_run(tmp_path)
    info = json.loads((qa / "info.json").read_text())
    (qa / "info.json").write_text(json.dumps(info | {"baselines": None}))
    for extra in (["--qa", str(qa)], ["--retrieval", str(ret)]):
        out = tmp_path / f"{len(extra[0])}.png"
        assert main([str(log), *extra, "--out", str(out)]) == 0
        assert out.read_bytes()[:4] == b"\x89PNG"
