"""Finetuning and inference end to end on the tiny corpus: outputs, --init_from, rank counts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avtpretrain.engine.distributed import free_port
from tests.run.conftest import REPO

FP32 = "ds_configs/zero2_fp32.json"
RET_KEYS = {"r1", "r5", "r10", "medianR", "meanR"}
QA_KEYS = {"ratios", "overall_acc", "what_acc", "who_acc", "how_acc", "where_acc", "when_acc"}


def launch(script: str, *args: str, nproc: int = 1) -> str:
    """Run a launch/ script (under torch.distributed.run when nproc > 1); returns stdout."""
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, f"launch/{script}", *args]
    if nproc > 1:
        cmd[1:1] = [
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={nproc}",
            f"--master_port={free_port()}",
        ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def common(corpus, out: Path) -> list[str]:
    return [
        "--output_dir",
        str(out),
        "--max_steps",
        "3",
        "--save_steps",
        "100",
        "--logging_steps",
        "1",
        "--set",
        f"data.tokenizer={corpus['tokenizer']}",
        "--set",
        "downstream.test_ann=null",
        "--set",
        "data.num_workers=1",
    ]


def retrieval_args(corpus) -> list[str]:
    raw = corpus["raw"]
    return [
        "--config",
        "finetune/demo_ret.yaml",
        "--set",
        f"downstream.train_ann={raw / 'ret/train.jsonl'}",
        "--set",
        f"downstream.val_ann={raw / 'ret/val.jsonl'}",
        "--set",
        f"downstream.video_shards=[{corpus['train']},{corpus['val']}]",
        "--set",
        "downstream.rerank_k=3",
        "--set",
        "downstream.matching_weight=1",
    ]


@pytest.fixture(scope="session")
def qa_data(corpus, tmp_path_factory) -> dict[str, Path]:
    """The corpus QA files, with MSVD-style `.avi` ids on every other validation row and one
    validation answer that is not in the vocabulary."""
    raw, out = corpus["raw"] / "qa", tmp_path_factory.mktemp("qa")
    rows = [json.loads(line) for line in (raw / "val.jsonl").read_text().splitlines()]
    for i, row in enumerate(rows):
        if i % 2:
            row["video_id"] += ".avi"
    rows[0]["answer"] = "never-seen-answer"
    (out / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "train": raw / "train.jsonl",
        "val": out / "val.jsonl",
        "vocab": raw / "train_ans2label.json",
        "rows": rows,
    }


def qa_args(corpus, qa_data) -> list[str]:
    return [
        "--config",
        "finetune/demo_qa.yaml",
        "--set",
        f"downstream.train_ann={qa_data['train']}",
        "--set",
        f"downstream.val_ann={qa_data['val']}",
        "--set",
        f"downstream.ans2label={qa_data['vocab']}",
        "--set",
        f"downstream.video_root={corpus['raw'] / 'videos'}",
    ]


@pytest.fixture(scope="session")
def retrieval_run(corpus, fp32_runs, tmp_path_factory) -> tuple[Path, str]:
    """Retrieval finetuning from a ZeRO-3 pretraining run, videos read from shards."""
    out = tmp_path_factory.mktemp("ret")
    stdout = launch(
        "finetune_retrieval.py",
        *retrieval_args(corpus),
        *common(corpus, out),
        "--deepspeed",
        FP32,
        "--init_from",
        str(fp32_runs[3][1]),
    )
    return out, stdout


@pytest.fixture(scope="session")
def qa_run(corpus, qa_data, fp32_runs, tmp_path_factory) -> tuple[Path, str]:
    """QA finetuning from an exported model.safetensors, videos read from the raw folder."""
    export = tmp_path_factory.mktemp("export")
    cmd = [sys.executable, "tools/export_checkpoint.py", str(fp32_runs[2][1]), "--out", str(export)]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=300)
    out = tmp_path_factory.mktemp("qa_run")
    init = str(export / "model.safetensors")
    stdout = launch(
        "finetune_qa.py",
        *qa_args(corpus, qa_data),
        *common(corpus, out),
        "--deepspeed",
        FP32,
        "--init_from",
        init,
    )
    return out, stdout


def test_retrieval_writes_alpro_results_and_ranks(retrieval_run, corpus) -> None:
    out, stdout = retrieval_run
    results = json.loads((out / "eval/val/results.json").read_text())
    assert set(results) == {"text2video", "video2text"}
    assert all(set(results[d]) == RET_KEYS for d in results)
    captions = (corpus["raw"] / "ret/val.jsonl").read_text().splitlines()
    info = json.loads((out / "eval/val/info.json").read_text())
    n = info["videos_ranked"]
    assert info["queries"] == len(captions) and n == len(captions)  # one caption per val clip
    rows = [json.loads(r) for r in (out / "eval/val/ranks.jsonl").read_text().splitlines()]
    assert len(rows) == len(captions) + n
    assert all(1 <= r["rank"] <= n for r in rows)
    # Each rank row agrees with R@1 in results.json.
    t2v = [r for r in rows if r["direction"] == "text2video"]
    top1 = 100 * sum(r["rank"] == 1 for r in t2v) / len(t2v)
    assert top1 == pytest.approx(results["text2video"]["r1"])
    assert 0 < info["rerank_pairs"] <= (len(captions) + n) * 3 < len(captions) * n
    assert "chance" in stdout and info["chance"]["text2video"]["r1"] == pytest.approx(100 / n)


def test_init_from_zero3_checkpoint_reports_keys(retrieval_run) -> None:
    _, stdout = retrieval_run
    line = next(x for x in stdout.splitlines() if x.startswith("init_from"))
    assert "checkpoint-4" in line and "tensors loaded" in line
    # The matching head comes from pretraining; its MLM head and decoders are not used here.
    assert "missing" not in stdout
    assert "unexpected, ignored:" in stdout and "mlm_head" in stdout


def test_qa_writes_alpro_results_and_counts_unknown_answers_wrong(qa_run, qa_data) -> None:
    out, stdout = qa_run
    results = json.loads((out / "eval/val/results.json").read_text())
    assert set(results) == QA_KEYS
    rows = [json.loads(r) for r in (out / "eval/val/predictions.jsonl").read_text().splitlines()]
    assert len(rows) == len(qa_data["rows"])  # `.avi` ids found the .mp4 files
    vocab = json.loads(qa_data["vocab"].read_text())
    assert rows[0]["answer"] == "never-seen-answer" and rows[0]["correct"] is False
    assert all(r["prediction"] in vocab for r in rows)
    assert results["overall_acc"] == round(100 * sum(r["correct"] for r in rows) / len(rows), 2)
    info = json.loads((out / "eval/val/info.json").read_text())
    assert {"majority_answer", "question_prior"} <= set(info["baselines"])
    assert "missing, freshly initialised: qa_head.mlp (4)" in stdout


@pytest.mark.distributed
def test_two_process_inference_equals_one_process(
    retrieval_run, qa_run, corpus, qa_data, tmp_path
) -> None:
    for script, run, args in (
        ("inference_retrieval.py", retrieval_run, retrieval_args(corpus)),
        ("inference_qa.py", qa_run, qa_args(corpus, qa_data)),
    ):
        found = {}
        for nproc in (1, 2):
            out = tmp_path / f"{script}{nproc}"
            launch(
                script,
                *args,
                "--deepspeed",
                FP32,
                "--checkpoint",
                str(run[0]),
                "--split",
                "val",
                "--output_dir",
                str(out),
                "--set",
                f"data.tokenizer={corpus['tokenizer']}",
                nproc=nproc,
            )
            found[nproc] = json.loads((out / "eval/val/results.json").read_text())
        assert found[2] == found[1], script
        # Inference on the saved checkpoint reproduces the finetuning run's own final numbers.
        assert found[1] == json.loads((run[0] / "eval/val/results.json").read_text()), script


@pytest.mark.distributed
def test_zero3_two_process_finetune_evaluates_in_step(corpus, tmp_path) -> None:
    """Evaluation inside a 2-rank ZeRO-3 run (every forward a collective) neither hangs nor
    miscounts: its numbers equal a 1-process inference of the checkpoint it saved."""
    out = tmp_path / "run"
    launch(
        "finetune_retrieval.py",
        *retrieval_args(corpus),
        *common(corpus, out),
        "--deepspeed",
        "ds_configs/zero3_fp32.json",
        "--eval_steps",
        "2",
        "--set",
        "downstream.init_from=null",
        nproc=2,
    )
    trained = json.loads((out / "eval/val/results.json").read_text())
    launch(
        "inference_retrieval.py",
        *retrieval_args(corpus),
        "--deepspeed",
        FP32,
        "--checkpoint",
        str(out),
        "--split",
        "val",
        "--output_dir",
        str(tmp_path / "inf"),
        "--set",
        f"data.tokenizer={corpus['tokenizer']}",
    )
    again = json.loads((tmp_path / "inf/eval/val/results.json").read_text())
    for d in trained:
        assert again[d] == pytest.approx(trained[d], abs=1e-6), d


def test_qa_inference_aggregates_several_clips(qa_run, corpus, qa_data, tmp_path) -> None:
    out = tmp_path / "clips"
    stdout = launch(
        "inference_qa.py",
        *qa_args(corpus, qa_data),
        "--deepspeed",
        FP32,
        "--checkpoint",
        str(qa_run[0]),
        "--split",
        "val",
        "--output_dir",
        str(out),
        "--set",
        f"data.tokenizer={corpus['tokenizer']}",
        "--set",
        "data.eval_clips=3",
        "--set",
        "downstream.clip_aggregation=logsumexp",
    )
    info = json.loads((out / "eval/val/info.json").read_text())
    assert info["eval_clips"] == 3 and info["clip_aggregation"] == "logsumexp"
    rows = (out / "eval/val/predictions.jsonl").read_text().splitlines()
    assert len(rows) == len(qa_data["rows"]) and "qa on val" in stdout


def test_resumed_finetune_does_not_reapply_init_from(corpus, qa_data, qa_run, tmp_path) -> None:
    out = tmp_path / "resume"
    first = launch(
        "finetune_qa.py",
        *qa_args(corpus, qa_data),
        *common(corpus, out),
        "--deepspeed",
        FP32,
        "--max_steps",
        "2",
        "--save_steps",
        "2",
        "--set",
        "downstream.init_from=null",
    )
    assert "every weight starts from random init" in first
    again = launch(
        "finetune_qa.py",
        *qa_args(corpus, qa_data),
        *common(corpus, out),
        "--deepspeed",
        FP32,
        "--init_from",
        str(qa_run[0]),
    )
    assert "init_from is not applied" in again and "tensors loaded" not in again
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "train/loss" in r] == [1, 2, 3]


def test_a_bad_annotation_row_stops_the_run_before_training(corpus, tmp_path) -> None:
    bad = tmp_path / "val.jsonl"
    bad.write_text('{"caption": "fine", "clip_name": "demo000001"}\n{"clip_name": "demo000002"}\n')
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "launch/finetune_retrieval.py",
        *retrieval_args(corpus),
        *common(corpus, out),
        "--deepspeed",
        FP32,
        "--set",
        f"downstream.val_ann={bad}",
        "--set",
        "downstream.init_from=null",
    ]
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"finetune_retrieval.py: error: {bad}:2: caption: expected a non-empty string, got None"
    )
    assert not list(out.glob("checkpoint-*"))
