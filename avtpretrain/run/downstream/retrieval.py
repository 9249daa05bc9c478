"""Text↔clip retrieval as a downstream run: captions against videos (with or without their
sound) or against sounds alone (audio_retrieval); contrastive training, optional re-ranking."""

from __future__ import annotations

from torch import nn

from avtpretrain.eval import report
from avtpretrain.eval.loops.retrieval import RetrievalResult, evaluate_retrieval, query_ranks
from avtpretrain.reader.downstream import (
    RetrievalSplit,
    read_caption_rows,
    retrieval_split,
    retrieval_train_items,
)
from avtpretrain.reader.mapped import Items
from avtpretrain.reader.samples import SampleDecoder
from avtpretrain.run.downstream.base import Described, Downstream
from avtpretrain.run.gathers import RANK_GATHERS
from avtpretrain.tasks.retrieval import RetrievalTask


class RetrievalRun(Downstream):
    task = "retrieval"

    def read_split(self, path: str, first: int | None = None) -> RetrievalSplit:
        rows = read_caption_rows(self.ds, path)
        return retrieval_split(path, self.index, self.ds.max_missing_videos, first, rows)

    def build_task(self) -> nn.Module:
        return RetrievalTask(self.cfg.model, self.ds, len(self.tokenizer), RANK_GATHERS)

    def train_items(self, decoder: SampleDecoder) -> Items:
        split, seed = self.split("train"), self.cfg.run.seed
        return retrieval_train_items(split, self.index, decoder, seed, self.reads)

    def evaluate(self, task: nn.Module, name: str) -> RetrievalResult | None:
        ds = self.ds
        return evaluate_retrieval(task, self.split(name), self.setup, ds.rerank_k, ds.audio_weight)

    def val_scalars(self, result: RetrievalResult) -> dict[str, float]:
        return {f"val/{d}_{k}": v for d, m in result.metrics.items() for k, v in m.items()}

    def describe(self, result: RetrievalResult, split: RetrievalSplit) -> Described:
        queries, videos = len(result.texts), len(result.videos)
        chance = report.chance_of(result.sizes)
        noun = "sounds" if result.target == "audio" else "videos"
        what = f"{queries} captions x {videos} {noun}"
        if self.reads.video and self.reads.audio:
            what += (
                f" with their sound (score: (text·video + {self.ds.audio_weight:g} text·audio) / "
                f"{1 + self.ds.audio_weight:g}; {result.without_audio} clips without sound "
                "ranked by video alone)"
            )
        if self.ds.rerank_k:
            what += f", top-{self.ds.rerank_k} re-ranked: {result.rerank_pairs} pairs fused"
        info = {
            "queries": queries,
            "videos_ranked": videos,
            "rerank_k": self.ds.rerank_k,
            "rerank_pairs": result.rerank_pairs,
            "chance": chance,
            "ranked": result.target,
            "with_audio": self.reads.audio,
            "clips_without_audio": result.without_audio,
        }
        return Described(
            info=info,
            rows=query_ranks(result, split),
            rows_name="ranks.jsonl",
            table=report.retrieval_table(result.metrics, chance),
            what=what,
        )


class AudioRetrievalRun(RetrievalRun):
    """Text↔audio (AudioCaps, Clotho): the same run over sounds instead of videos."""

    task = "audio_retrieval"
