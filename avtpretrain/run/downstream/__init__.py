"""Downstream runs, one unit per task; `for_task` is the one place that maps a name to a unit."""

from __future__ import annotations

from avtpretrain.config import FinetuneConfig
from avtpretrain.engine.session import Context
from avtpretrain.run.downstream.base import SPLITS, Described, Downstream
from avtpretrain.run.downstream.qa import QARun
from avtpretrain.run.downstream.retrieval import AudioRetrievalRun, RetrievalRun

RUNS: dict[str, type[Downstream]] = {
    "retrieval": RetrievalRun,
    "audio_retrieval": AudioRetrievalRun,
    "qa": QARun,
}


def for_task(cfg: FinetuneConfig, ctx: Context) -> Downstream:
    return RUNS[cfg.downstream.task](cfg, ctx)


__all__ = ["RUNS", "SPLITS", "Described", "Downstream", "for_task"]
