"""Annotation rows naming a video that is not there (DiDeMo has one): skipped and counted, in
training and evaluation alike, and the run fails only past downstream.max_missing_videos."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from avtpretrain.config import (
    ConfigError,
    DataConfig,
    DownstreamConfig,
    FinetuneConfig,
    load_model_config,
    load_recipe,
)
from avtpretrain.dist import DistInfo
from avtpretrain.reader.annotations import AnnotationError
from avtpretrain.reader.downstream import qa_split, retrieval_split
from avtpretrain.reader.samples import SampleDecoder, SampleSpec
from avtpretrain.reader.tokenizer import train_wordpiece
from avtpretrain.reader.videos import VideoIndex
from avtpretrain.run.downstream import for_task
from tests.factory import make_video, write_jsonl

REPO = Path(__file__).resolve().parents[2]
PRESENT = ("v0", "v1", "v2")
ROWS_FILE = {"retrieval": "ranks.jsonl", "qa": "predictions.jsonl"}
CAPTIONS = ["a square moves right", "a bright block slides", "noise and a square", "it drifts"]


def caption_rows(videos: list[str]) -> list[dict]:
    return [{"caption": CAPTIONS[i % 4], "clip_name": v} for i, v in enumerate(videos)]


def question_rows(videos: list[str]) -> list[dict]:
    return [
        {"question": "what moves?", "answer": "square", "video_id": v, "answer_type": "what"}
        for v in videos
    ]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny videos; annotations that name them and the missing `gone` and `lost`."""
    root = tmp_path_factory.mktemp("missing")
    (root / "videos").mkdir()
    for i, key in enumerate(PRESENT):
        make_video(root / "videos" / key, seed=i)
    # Two rows name `gone` (a video's several captions): both are skipped, one video counted.
    ret = ["v0", "gone", "v1", "gone", "v2", "v0"]
    write_jsonl(root / "ret_train.jsonl", caption_rows(ret))
    write_jsonl(root / "ret_val.jsonl", caption_rows(["v0", "v1", "gone", "v2"]))
    write_jsonl(root / "ret_two.jsonl", caption_rows(["v0", "gone", "lost", "v1"]))
    write_jsonl(root / "ret_none.jsonl", caption_rows(["gone", "lost"]))
    write_jsonl(root / "qa_train.jsonl", question_rows(["v0", "gone", "v1", "v2"]))
    write_jsonl(root / "qa_val.jsonl", question_rows(["lost", "v2", "v1", "v0"]))
    (root / "ans2label.json").write_text(json.dumps({"square": 0, "circle": 1}))
    train_wordpiece([*CAPTIONS, "what moves?"], 100, root / "tokenizer")
    return root


def recipe(data: Path, task: str, limit: int = 10, train: str | None = None) -> FinetuneConfig:
    prefix = "ret" if task == "retrieval" else "qa"
    downstream = DownstreamConfig(
        task=task,
        train_ann=str(data / (train or f"{prefix}_train.jsonl")),
        val_ann=str(data / f"{prefix}_val.jsonl"),
        ans2label=str(data / "ans2label.json") if task == "qa" else None,
        video_root=str(data / "videos"),
        max_missing_videos=limit,
    )
    return FinetuneConfig(
        model=load_model_config("tiny"),
        downstream=downstream,
        data=DataConfig(tokenizer=str(data / "tokenizer"), num_workers=0),
    )


def run_of(cfg: FinetuneConfig) -> tuple:
    """The downstream unit of `cfg` on one CPU rank, and the lines it logs."""
    messages: list[str] = []
    ctx = SimpleNamespace(
        info=DistInfo(),
        device=torch.device("cpu"),
        settings=SimpleNamespace(dtype=torch.float32, micro_batch=2),
        message=messages.append,
    )
    return for_task(cfg, ctx), messages


def test_split_skips_rows_of_missing_videos_and_counts_them(data: Path) -> None:
    index = VideoIndex.from_folder(data / "videos")
    split = retrieval_split(str(data / "ret_train.jsonl"), index, limit=1)
    assert split.videos == ["v0", "v1", "v2"]
    assert [c.video for c in split.captions] == ["v0", "v1", "v2", "v0"]
    assert split.missing.to_dict() == {"count": 1, "first": ["gone"], "rows": 2}
    questions = qa_split(str(data / "qa_val.jsonl"), index, limit=1)
    assert [q.video for q in questions.questions] == ["v2", "v1", "v0"]
    assert questions.missing.to_dict() == {"count": 1, "first": ["lost"], "rows": 1}


def test_without_a_limit_a_missing_video_still_fails(data: Path) -> None:
    index = VideoIndex.from_folder(data / "videos")
    with pytest.raises(AnnotationError, match=r"downstream\.max_missing_videos=0"):
        retrieval_split(str(data / "ret_val.jsonl"), index)


def test_past_the_limit_the_run_fails_in_one_line(data: Path) -> None:
    down, _ = run_of(recipe(data, "retrieval", limit=1, train="ret_two.jsonl"))
    with pytest.raises(AnnotationError) as err:
        down.read_splits(("train",))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{data / 'ret_two.jsonl'}: 2 video id(s) not found in ")
    assert "more than downstream.max_missing_videos=1 (first: 'gone', 'lost';" in message


def test_a_split_with_no_video_left_fails(data: Path) -> None:
    index = VideoIndex.from_folder(data / "videos")
    with pytest.raises(AnnotationError, match=r"none of its 2 video id.* no annotation rows left"):
        retrieval_split(str(data / "ret_none.jsonl"), index, limit=5)


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_missing_videos: must be >= 0"):
        load_recipe(
            REPO / "finetune/demo_qa.yaml",
            ["downstream.max_missing_videos=-1"],
            kind=FinetuneConfig,
        )


@pytest.mark.parametrize("task", ["retrieval", "qa"])
def test_training_never_reads_a_missing_video(data: Path, task: str) -> None:
    down, messages = run_of(recipe(data, task))
    down.read_splits(("train", "val"))
    assert len(messages) == 2 and all("\n" not in m for m in messages)
    assert "train split" in messages[0] and "1 video(s) not found" in messages[0]
    assert "(first: 'gone'; downstream.max_missing_videos=10)" in messages[0]
    decoder = SampleDecoder(SampleSpec.build(down.cfg.model, down.cfg.data, train=True))
    items = down.train_items(decoder)
    keys = [items[(0, i)]["key"] for i in range(len(items))]
    assert len(keys) == 3  # retrieval: one item per video; QA: one per question
    assert sorted(set(keys)) == list(PRESENT)


@pytest.mark.parametrize("task", ["retrieval", "qa"])
def test_evaluation_leaves_the_rows_out_and_says_so(
    data: Path, task: str, tmp_path: Path, world_of_one, capsys
) -> None:
    down, _ = run_of(recipe(data, task))
    down.read_splits(("train", "val"))
    task_module = down.build_task()
    metrics = down.report(task_module, "val", tmp_path)
    info = json.loads((tmp_path / "val/info.json").read_text())
    results = json.loads((tmp_path / "val/results.json").read_text())
    assert results == metrics  # still exactly the ALPRO shape
    rows = (tmp_path / "val" / ROWS_FILE[task]).read_text()
    if task == "retrieval":
        assert info["missing_videos"] == {"count": 1, "first": ["gone"], "rows": 1}
        assert info["queries"] == 3 and info["videos_ranked"] == 3
        assert "gone" not in rows
    else:
        assert info["missing_videos"] == {"count": 1, "first": ["lost"], "rows": 1}
        assert info["questions"] == 3 and results["ratios"]["what_ratio"][1] == 3
        assert "lost" not in rows
    assert "1 missing videos skipped with their 1 annotation rows" in capsys.readouterr().out
