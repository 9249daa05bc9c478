"""The audio downstream runs end to end through the launchers: retrieval and QA with the clips'
sound, and text↔audio retrieval over Clotho and AudioCaps CSV files, then inference."""

import json
from pathlib import Path

import pytest

from tests.factory import write_csv
from tests.run.test_finetune import FP32, RET_KEYS, common, launch, qa_args, retrieval_args


def _results(out: Path) -> tuple[dict, dict]:
    base = out / "eval/val"
    return json.loads((base / "results.json").read_text()), json.loads(
        (base / "info.json").read_text()
    )


def test_retrieval_with_sound_ranks_both_towers_and_each_alone(corpus, tmp_path) -> None:
    out = tmp_path / "ret"
    stdout = launch(
        "finetune_retrieval.py",
        *retrieval_args(corpus),
        *common(corpus, out),
        *("--set", "downstream.use_audio=true"),
        *("--set", "downstream.init_from=null"),  # random init: the run's wiring is under test
        "--deepspeed",
        FP32,
    )
    results, info = _results(out)
    names = {"text2video", "video2text", "text2video_no_audio", "video2text_no_audio"}
    assert names | {"text2audio", "audio2text"} == set(results)
    assert all(set(m) == RET_KEYS for m in results.values())
    n = info["videos_ranked"]
    assert info["with_audio"] and info["clips_without_audio"] == 0
    assert info["chance"]["text2audio"]["r1"] == pytest.approx(100 / n)
    assert info["rerank_pairs"] > 0  # re-ranked with text + video + sound fused
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert any("train/loss/contrastive_audio" in r for r in log)
    assert "with their sound" in stdout


def test_qa_with_sound_from_the_video_files(corpus, tmp_path) -> None:
    raw, out = corpus["raw"] / "qa", tmp_path / "qa"
    files = {"train": raw / "train.jsonl", "val": raw / "val.jsonl"}
    stdout = launch(
        "finetune_qa.py",
        *qa_args(corpus, files | {"vocab": raw / "train_ans2label.json"}),
        *common(corpus, out),
        *("--set", "downstream.use_audio=true"),
        *("--set", "downstream.init_from=null"),  # random init: the run's wiring is under test
        "--deepspeed",
        FP32,
    )
    results, info = _results(out)
    assert info["with_audio"] and "overall_acc" in results and info["clips_without_audio"] == 0
    assert "question + video + sound fused" in stdout


@pytest.mark.parametrize("fmt", ["clotho", "audiocaps"])
def test_text_to_audio_retrieval_then_inference(corpus, tmp_path, fmt: str) -> None:
    rows = {}
    for split in ("train", "val"):
        lines = (corpus["raw"] / f"ret/{split}.jsonl").read_text().splitlines()
        rows[split] = [json.loads(line) for line in lines]
    paths = {}
    for split, captions in rows.items():
        if fmt == "clotho":
            header = ["file_name", *(f"caption_{i}" for i in range(1, 6))]
            table = [[f"{r['clip_name']}.wav", *[r["caption"]] * 5] for r in captions]
        else:
            header = ["audiocap_id", "youtube_id", "start_time", "caption"]
            table = [[str(i), r["clip_name"], "0", r["caption"]] for i, r in enumerate(captions)]
        paths[split] = write_csv(tmp_path / f"{split}.csv", header, table)
    args = [
        "--config",
        "finetune/demo_ret.yaml",
        *("--set", "downstream.task=audio_retrieval"),
        *("--set", f"downstream.annotation_format={fmt}"),
        *("--set", f"downstream.train_ann={paths['train']}"),
        *("--set", f"downstream.val_ann={paths['val']}"),
        *("--set", "downstream.video_shards=[]"),
        *("--set", f"downstream.audio_root={corpus['raw'] / 'audio'}"),
        *("--set", "downstream.init_from=null"),
        "--deepspeed",
        FP32,
    ]
    out = tmp_path / "run"
    launch("finetune_retrieval.py", *args, *common(corpus, out))
    results, info = _results(out)
    assert set(results) == {"text2audio", "audio2text"} and info["ranked"] == "audio"
    assert info["videos_ranked"] == len({r["clip_name"] for r in rows["val"]})
    again = tmp_path / "inference"
    launch(
        "inference_retrieval.py",
        *args,
        *("--set", f"data.tokenizer={corpus['tokenizer']}"),
        *("--checkpoint", str(out), "--output_dir", str(again), "--split", "val"),
    )
    assert _results(again)[0] == results
