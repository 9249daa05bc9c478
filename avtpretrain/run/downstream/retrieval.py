"""Text↔video retrieval as a downstream run: contrastive training, optional re-ranking."""

from __future__ import annotations

from torch import nn

from avtpretrain.eval import report
from avtpretrain.eval.loops.retrieval import RetrievalResult, evaluate_retrieval, query_ranks
from avtpretrain.reader.downstream import RetrievalSplit, retrieval_split, retrieval_train_items
from avtpretrain.reader.mapped import Items
from avtpretrain.reader.samples import SampleDecoder
from avtpretrain.run.downstream.base import Described, Downstream
from avtpretrain.run.gathers import RANK_GATHERS
from avtpretrain.tasks.retrieval import RetrievalTask


class RetrievalRun(Downstream):
    task = "retrieval"

    def read_split(self, path: str, first: int | None = None) -> RetrievalSplit:
        return retrieval_split(path, self.index, self.ds.max_missing_videos, first)

    def build_task(self) -> nn.Module:
        return RetrievalTask(self.cfg.model, self.ds, len(self.tokenizer), RANK_GATHERS)

    def train_items(self, decoder: SampleDecoder) -> Items:
        return retrieval_train_items(self.split("train"), self.index, decoder, self.cfg.run.seed)

    def evaluate(self, task: nn.Module, name: str) -> RetrievalResult | None:
        return evaluate_retrieval(task, self.split(name), self.setup, self.ds.rerank_k)

    def val_scalars(self, result: RetrievalResult) -> dict[str, float]:
        return {f"val/{d}_{k}": v for d, m in result.metrics.items() for k, v in m.items()}

    def describe(self, result: RetrievalResult, split: RetrievalSplit) -> Described:
        queries, videos = len(result.texts), len(result.videos)
        chance = report.retrieval_chance(videos, queries)
        what = f"{queries} captions x {videos} videos"
        if self.ds.rerank_k:
            what += f", top-{self.ds.rerank_k} re-ranked: {result.rerank_pairs} pairs fused"
        info = {
            "queries": queries,
            "videos_ranked": videos,
            "rerank_k": self.ds.rerank_k,
            "rerank_pairs": result.rerank_pairs,
            "chance": chance,
        }
        return Described(
            info=info,
            rows=query_ranks(result, split),
            rows_name="ranks.jsonl",
            table=report.retrieval_table(result.metrics, chance),
            what=what,
        )
