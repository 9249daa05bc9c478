"""run.max_train_samples and max_eval_samples in finetuning: the first N annotation rows of the
training split and of each evaluated split (rows of missing videos skipped first)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from avtpretrain.config import RunConfig
from avtpretrain.reader.downstream import qa_split, retrieval_split
from avtpretrain.reader.videos import VideoIndex
from tests.finetune.test_missing_videos import data, recipe, run_of  # noqa: F401  (fixture)


def test_the_first_rows_are_kept_after_missing_ones_are_skipped(data: Path) -> None:  # noqa: F811
    index = VideoIndex.from_folder(data / "videos")
    split = retrieval_split(str(data / "ret_train.jsonl"), index, limit=1, first=2)
    assert [c.video for c in split.captions] == ["v0", "v1"]
    questions = qa_split(str(data / "qa_val.jsonl"), index, limit=1, first=1)
    assert [q.video for q in questions.questions] == ["v2"]


def test_finetuning_reads_the_caps_from_the_run_config(data: Path) -> None:  # noqa: F811
    for task in ("retrieval", "qa"):
        cfg = recipe(data, task)
        run = RunConfig(max_train_samples=2, max_eval_samples=1)
        down, _ = run_of(dataclasses.replace(cfg, run=run))
        rows = "captions" if task == "retrieval" else "questions"
        assert len(getattr(down.split("train"), rows)) == 2
        assert len(getattr(down.split("val"), rows)) == 1
