"""Video QA as a downstream run: a classifier over the training answer vocabulary."""

from __future__ import annotations

from torch import nn

from avtpretrain.config import FinetuneConfig
from avtpretrain.engine.session import Context
from avtpretrain.eval import report
from avtpretrain.eval.loops.qa import QAResult, evaluate_qa
from avtpretrain.reader.annotations import read_ans2label
from avtpretrain.reader.downstream import QASplit, qa_split, qa_train_items
from avtpretrain.reader.mapped import Items
from avtpretrain.reader.samples import SampleDecoder
from avtpretrain.run.downstream.base import Described, Downstream
from avtpretrain.tasks.qa import QATask


class QARun(Downstream):
    task = "qa"

    def __init__(self, cfg: FinetuneConfig, ctx: Context) -> None:
        super().__init__(cfg, ctx)
        self.ans2label = read_ans2label(self.ds.ans2label)
        self.answers = sorted(self.ans2label, key=self.ans2label.__getitem__)

    def read_split(self, path: str, first: int | None = None) -> QASplit:
        return qa_split(path, self.index, self.ds.max_missing_videos, first)

    def build_task(self) -> nn.Module:
        return QATask(self.cfg.model, self.ds, len(self.tokenizer), len(self.answers))

    def train_items(self, decoder: SampleDecoder) -> Items:
        split, seed = self.split("train"), self.cfg.run.seed
        return qa_train_items(split, self.index, decoder, self.ans2label, seed, self.reads)

    def evaluate(self, task: nn.Module, name: str) -> QAResult | None:
        return evaluate_qa(task, self.split(name), self.setup, self.answers)

    def val_scalars(self, result: QAResult) -> dict[str, float]:
        return {f"val/{k}": v for k, v in result.metrics.items() if k.endswith("_acc")}

    def describe(self, result: QAResult, split: QASplit) -> Described:
        baselines = self._baselines(split)
        rows = [
            {
                "question": q.question,
                "video_id": q.video,
                "answer": q.answer,
                "answer_type": q.answer_type,
                "prediction": p,
                "correct": p == q.answer,
            }
            for q, p in zip(split.questions, result.predictions, strict=True)
        ]
        return Described(
            info={
                "questions": len(split.questions),
                "baselines": baselines,
                "with_audio": self.reads.audio,
                "clips_without_audio": result.without_audio,
            },
            rows=rows,
            rows_name="predictions.jsonl",
            table=report.qa_table(result.metrics, baselines),
            what=f"{len(split.questions)} questions, {len(self.answers)} answer classes"
            + (", question + video + sound fused" if self.reads.audio else ""),
        )

    def _baselines(self, split: QASplit) -> dict | None:
        if not self.ds.train_ann:
            return None
        train = [(q.question, q.answer) for q in self.split("train").questions]
        questions = split.questions
        return report.qa_baselines(
            train,
            [q.answer for q in questions],
            [q.question for q in questions],
            [q.answer_type for q in questions],
        )
