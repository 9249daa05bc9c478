"""What every downstream run builds once from its recipe: tokenizer, videos, splits, evaluation.

One subclass per task (`retrieval.py`, `qa.py`) says what differs: how a split is read, which task
module and training items it builds, how it evaluates and how a result is described.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from avtpretrain.config import FinetuneConfig
from avtpretrain.engine.session import Context
from avtpretrain.eval import report
from avtpretrain.eval.loops.common import EvalSetup
from avtpretrain.reader.downstream import Reads, TrainCollator, clip_index
from avtpretrain.reader.mapped import Items, MapStream
from avtpretrain.reader.samples import SampleDecoder, SampleSpec
from avtpretrain.reader.tokenizer import check_tokenizer_fits, load_tokenizer

SPLITS = ("val", "test")


@dataclass(frozen=True)
class Described:
    """How one split's result is written and shown."""

    info: dict[str, Any]  # task-specific fields for results.json
    rows: list[dict]  # one per query / question, for the side file
    rows_name: str  # the side file's name
    table: str  # printed for a person
    what: str  # one line: what was evaluated


class Downstream(ABC):
    task: ClassVar[str]

    def __init__(self, cfg: FinetuneConfig, ctx: Context) -> None:
        self.cfg, self.ctx, self.ds = cfg, ctx, cfg.downstream
        self.tokenizer = load_tokenizer(cfg.data.tokenizer)
        check_tokenizer_fits(len(self.tokenizer), cfg.data.tokenizer, cfg.model.text)
        self.index = clip_index(self.ds)
        self.reads = Reads.of(self.ds)
        self._splits: dict[str, Any] = {}
        self.setup = EvalSetup(
            info=ctx.info,
            device=ctx.device,
            dtype=ctx.settings.dtype,
            tokenizer=self.tokenizer,
            max_length=cfg.model.text.max_length,
            index=self.index,
            decoder=SampleDecoder(SampleSpec.build(cfg.model, cfg.data, train=False)),
            batch_size=cfg.run.eval_batch_size or ctx.settings.micro_batch,
            num_workers=cfg.data.num_workers,
            seed=cfg.run.seed,
            aggregation=self.ds.clip_aggregation,
            reads=self.reads,
        )

    @abstractmethod
    def read_split(self, path: str, first: int | None = None) -> Any:
        """One annotation file, checked against the videos; its `first` rows when given."""

    @abstractmethod
    def build_task(self) -> nn.Module: ...

    @abstractmethod
    def train_items(self, decoder: SampleDecoder) -> Items: ...

    @abstractmethod
    def evaluate(self, task: nn.Module, name: str) -> Any:
        """The split's result on rank 0, None elsewhere (every rank must call it)."""

    @abstractmethod
    def val_scalars(self, result: Any) -> dict[str, float]:
        """The numbers of a validation result that go into the training log."""

    @abstractmethod
    def describe(self, result: Any, split: Any) -> Described: ...

    def annotation(self, name: str) -> str | None:
        return {"train": self.ds.train_ann, "val": self.ds.val_ann, "test": self.ds.test_ann}[name]

    def split(self, name: str) -> Any:
        if name not in self._splits:
            path = self.annotation(name)
            if path is None:
                raise ValueError(f"downstream.{name}_ann is not set in this recipe")
            run = self.cfg.run
            first = run.max_train_samples if name == "train" else run.max_eval_samples
            split = self.read_split(path, first)
            if split.missing.count:
                self.ctx.message(
                    f"{name} split ({path}): {split.missing.count} {self.index.noun}(s) not "
                    f"found in {self.index.source}, their {split.missing.rows} annotation "
                    f"row(s) skipped (first: {split.missing.shown()}; "
                    f"downstream.max_missing_videos={self.ds.max_missing_videos})"
                )
            self._splits[name] = split
        return self._splits[name]

    def read_splits(self, names: tuple[str, ...] | list[str]) -> None:
        """Read and check every configured annotation file among `names`."""
        for name in names:
            if self.annotation(name):
                self.split(name)

    def train_stream(self) -> MapStream:
        cfg, ctx = self.cfg, self.ctx
        decoder = SampleDecoder(SampleSpec.build(cfg.model, cfg.data, train=True))
        collate = TrainCollator(self.tokenizer, cfg.model.text.max_length)
        return MapStream(
            self.train_items(decoder),
            collate,
            batch_size=ctx.settings.micro_batch,
            dist=ctx.info,
            num_workers=cfg.data.num_workers,
            seed=cfg.run.seed,
        )

    def scalars(self, task: nn.Module) -> dict[str, float]:
        """Validation numbers for the training log (rank 0; {} elsewhere)."""
        result = self.evaluate(task, "val")
        return {} if result is None else self.val_scalars(result)

    def report(self, task: nn.Module, name: str, out_dir: Path) -> dict | None:
        """Evaluate split `name`; on rank 0 print the table and write the result files."""
        result = self.evaluate(task, name)
        if result is None:
            return None
        split = self.split(name)
        skipped = [split.videos[v] for v in result.skipped_videos]
        info = {
            "split": name,
            "annotations": self.annotation(name),
            "videos": self.index.source,
            "eval_clips": self.cfg.data.eval_clips,
            "clip_aggregation": self.ds.clip_aggregation,
            "skipped_videos": skipped,
            # Rows naming a missing video were never queries: the metrics are over the rest.
            "missing_videos": split.missing.to_dict(),
        }
        shown = self.describe(result, split)
        path = report.write_results(
            out_dir / name, result.metrics, info | shown.info, shown.rows, shown.rows_name
        )
        noun = self.index.noun
        note = f"; {len(skipped)} undecodable {noun}s left out" if skipped else ""
        if split.missing.count:
            note += (
                f"; {split.missing.count} missing {noun}s skipped with their "
                f"{split.missing.rows} annotation rows"
            )
        print(
            f"\n{self.task} on {name} ({shown.what}{note}):\n{shown.table}\nwritten: {path}",
            flush=True,
        )
        return result.metrics
