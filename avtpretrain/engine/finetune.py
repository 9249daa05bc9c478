"""Finetuning and inference for retrieval and video QA: downstream data + task + shared runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from avtpretrain.config import FinetuneConfig
from avtpretrain.data.annotations import read_ans2label
from avtpretrain.data.downstream import (
    TrainCollator,
    qa_split,
    qa_train_items,
    retrieval_split,
    retrieval_train_items,
    video_index,
)
from avtpretrain.data.mapped import MapStream
from avtpretrain.data.samples import SampleDecoder, SampleSpec
from avtpretrain.data.tokenizer import load_tokenizer
from avtpretrain.engine.eval_common import EvalSetup
from avtpretrain.engine.eval_qa import evaluate_qa
from avtpretrain.engine.eval_retrieval import evaluate_retrieval, query_ranks
from avtpretrain.engine.runner import (
    Context,
    build_same_everywhere,
    finish,
    fit,
    resume_path,
    start,
)
from avtpretrain.engine.weights import WeightsError, load_into
from avtpretrain.eval import report
from avtpretrain.tasks.qa import QATask
from avtpretrain.tasks.retrieval import RetrievalTask

SPLITS = ("val", "test")


class Downstream:
    """What a downstream run builds once from its recipe: tokenizer, videos, splits, evaluation."""

    def __init__(self, cfg: FinetuneConfig, ctx: Context) -> None:
        self.cfg, self.ctx, self.ds = cfg, ctx, cfg.downstream
        self.tokenizer = load_tokenizer(cfg.data.tokenizer)
        self.index = video_index(self.ds)
        self.answers: list[str] = []
        if self.ds.task == "qa":
            ans2label = read_ans2label(self.ds.ans2label)
            self.ans2label = ans2label
            self.answers = sorted(ans2label, key=ans2label.__getitem__)
        self._splits: dict[str, Any] = {}
        self.setup = EvalSetup(
            info=ctx.info, device=ctx.device, dtype=ctx.settings.dtype, tokenizer=self.tokenizer,
            max_length=cfg.model.text.max_length, index=self.index,
            decoder=SampleDecoder(SampleSpec.build(cfg.model, cfg.data, train=False)),
            batch_size=ctx.settings.micro_batch, num_workers=cfg.data.num_workers,
            seed=cfg.run.seed, aggregation=self.ds.clip_aggregation,
        )  # fmt: skip

    def annotation(self, name: str) -> str | None:
        return {"train": self.ds.train_ann, "val": self.ds.val_ann, "test": self.ds.test_ann}[name]

    def split(self, name: str):
        if name not in self._splits:
            path = self.annotation(name)
            if path is None:
                raise ValueError(f"downstream.{name}_ann is not set in this recipe")
            read = retrieval_split if self.ds.task == "retrieval" else qa_split
            self._splits[name] = read(path, self.index)
        return self._splits[name]

    def read_splits(self, names) -> None:
        """Read and check every configured annotation file among `names`."""
        for name in names:
            if self.annotation(name):
                self.split(name)

    def build_task(self) -> nn.Module:
        vocab = len(self.tokenizer)
        if self.ds.task == "retrieval":
            return RetrievalTask(self.cfg.model, self.ds, vocab)
        return QATask(self.cfg.model, self.ds, vocab, len(self.answers))

    def train_stream(self) -> MapStream:
        split, cfg, ctx = self.split("train"), self.cfg, self.ctx
        decoder = SampleDecoder(SampleSpec.build(cfg.model, cfg.data, train=True))
        if self.ds.task == "retrieval":
            items = retrieval_train_items(split, self.index, decoder, cfg.run.seed)
        else:
            items = qa_train_items(split, self.index, decoder, self.ans2label, cfg.run.seed)
        return MapStream(items, TrainCollator(self.tokenizer, cfg.model.text.max_length),
                         batch_size=ctx.settings.micro_batch, dist=ctx.info,
                         num_workers=cfg.data.num_workers, seed=cfg.run.seed)  # fmt: skip

    def evaluate(self, task: nn.Module, name: str):
        if self.ds.task == "retrieval":
            return evaluate_retrieval(task, self.split(name), self.setup, self.ds.rerank_k)
        return evaluate_qa(task, self.split(name), self.setup, self.answers)

    def scalars(self, task: nn.Module) -> dict[str, float]:
        """Validation numbers for the training log (rank 0; {} elsewhere)."""
        result = self.evaluate(task, "val")
        if result is None:
            return {}
        if self.ds.task == "retrieval":
            return {f"val/{d}_{k}": v for d, m in result.metrics.items() for k, v in m.items()}
        return {f"val/{k}": v for k, v in result.metrics.items() if k.endswith("_acc")}

    def report(self, task: nn.Module, name: str, out_dir: Path) -> dict | None:
        """Evaluate split `name`; on rank 0 print the table and write the result files."""
        result = self.evaluate(task, name)
        if result is None:
            return None
        split = self.split(name)
        skipped = [split.videos[v] for v in result.skipped_videos]
        info: dict[str, Any] = {"split": name, "annotations": self.annotation(name),
                                "videos": self.index.source, "eval_clips": self.cfg.data.eval_clips,
                                "clip_aggregation": self.ds.clip_aggregation,
                                "skipped_videos": skipped}  # fmt: skip
        describe = self._retrieval if self.ds.task == "retrieval" else self._qa
        extra, rows, rows_name, table, what = describe(result, split)
        path = report.write_results(out_dir / name, result.metrics, info | extra, rows, rows_name)
        note = f"; {len(skipped)} undecodable videos left out" if skipped else ""
        print(f"\n{self.ds.task} on {name} ({what}{note}):\n{table}\nwritten: {path}", flush=True)
        return result.metrics

    def _retrieval(self, result, split):
        chance = report.retrieval_chance(len(result.videos), len(result.texts))
        extra = {"queries": len(result.texts), "videos_ranked": len(result.videos),
                 "rerank_k": self.ds.rerank_k, "rerank_pairs": result.rerank_pairs,
                 "chance": chance}  # fmt: skip
        what = f"{len(result.texts)} captions x {len(result.videos)} videos"
        if self.ds.rerank_k:
            what += f", top-{self.ds.rerank_k} re-ranked: {result.rerank_pairs} pairs fused"
        table = report.retrieval_table(result.metrics, chance)
        return extra, query_ranks(result, split), "ranks.jsonl", table, what

    def _qa(self, result, split):
        baselines = self._qa_baselines(split)
        rows = [{"question": q.question, "video_id": q.video, "answer": q.answer,
                 "answer_type": q.answer_type, "prediction": p, "correct": p == q.answer}
                for q, p in zip(split.questions, result.predictions, strict=True)]  # fmt: skip
        extra = {"questions": len(split.questions), "baselines": baselines}
        what = f"{len(split.questions)} questions, {len(self.answers)} answer classes"
        table = report.qa_table(result.metrics, baselines)
        return extra, rows, "predictions.jsonl", table, what

    def _qa_baselines(self, split) -> dict | None:
        if not self.ds.train_ann:
            return None
        train = [(q.question, q.answer) for q in self.split("train").questions]
        return report.qa_baselines(train, [q.answer for q in split.questions],
                                   [q.question for q in split.questions],
                                   [q.answer_type for q in split.questions])  # fmt: skip


def _message(ctx: Context, text: str) -> None:
    if ctx.info.is_main:
        print(text, flush=True)


def run_finetune(cfg: FinetuneConfig, ds_path: str) -> int:
    ctx = start(cfg, ds_path)
    down = Downstream(cfg, ctx)
    down.read_splits(("train", *SPLITS))  # a bad file fails now, not after training
    task = build_same_everywhere(cfg, ctx, down.build_task)
    resume = resume_path(cfg)
    if resume is not None:
        _message(ctx, f"resuming from {resume}: init_from is not applied")
    elif cfg.downstream.init_from:
        for line in load_into(task, cfg.downstream.init_from).lines():
            _message(ctx, line)
    else:
        _message(ctx, "downstream.init_from not set: every weight starts from random init")
    stream = down.train_stream()
    evaluate = down.scalars if cfg.downstream.val_ann else None
    trained = fit(cfg, ctx, task, stream, evaluate)
    out = Path(cfg.run.output_dir) / "eval"
    results = {n: down.report(trained.engine.module, n, out) for n in SPLITS if down.annotation(n)}
    summary = trained.summary(cfg.run.output_dir)
    if ctx.info.is_main:
        summary["results"] = {n: r for n, r in results.items() if r}
    return finish(trained, summary)


def run_inference(cfg: FinetuneConfig, ds_path: str, checkpoint: str | None, splits: list[str],
                  output_dir: str | None) -> int:  # fmt: skip
    """Evaluate a finetuned checkpoint (default: the recipe's output_dir) without training."""
    ctx = start(cfg, ds_path, prepare=False)
    down = Downstream(cfg, ctx)
    down.read_splits(splits)
    task = build_same_everywhere(cfg, ctx, down.build_task)
    loaded = load_into(task, checkpoint or cfg.run.output_dir)
    for line in loaded.lines():
        _message(ctx, line)
    unused = ("match_head.",) if cfg.downstream.rerank_k == 0 else ()
    needed = [k for k in loaded.missing if not k.startswith(unused)]
    if needed:
        raise WeightsError(
            f"{loaded.source}: holds no weights for {', '.join(sorted(needed)[:4])}: not a "
            f"finetuned {cfg.downstream.task} checkpoint for this recipe"
        )
    task.to(ctx.device, ctx.settings.dtype)
    out = Path(output_dir or cfg.run.output_dir) / "eval"
    for name in splits:
        down.report(task, name, out)
    return finish(None, {})
