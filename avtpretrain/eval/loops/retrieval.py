"""Text↔video retrieval evaluation: embedding similarities, optional matching-head re-ranking.

Every rank embeds its share of the videos and captions; the embeddings are gathered everywhere.
Re-ranking (`rerank.py`) then fuses only each query's top-k candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from avtpretrain.contract.batch import ItemBatch
from avtpretrain.engine.collective import gather_to_all, lockstep
from avtpretrain.eval.clips import aggregate_clips
from avtpretrain.eval.loops.common import EvalSetup, encode_video_batch, over_videos
from avtpretrain.eval.loops.progress import counted, eval_bar
from avtpretrain.eval.loops.rerank import Candidates, rerank
from avtpretrain.eval.metrics import retrieval_metrics, retrieval_ranks
from avtpretrain.reader.downstream import RetrievalSplit


@dataclass
class RetrievalResult:
    metrics: dict  # {"text2video": {...}, "video2text": {...}}
    texts: list[int]  # caption rows that were queries
    videos: list[int]  # videos that were candidates (all but undecodable ones)
    t2v_scores: np.ndarray  # [len(texts), len(videos)]
    v2t_scores: np.ndarray
    gt: list[int]  # per query text: its video's column
    skipped_videos: list[int]
    rerank_pairs: int


@dataclass
class Embedded:
    """Every split item embedded, on every rank; token states kept only for re-ranking."""

    video: torch.Tensor  # [videos, clips, D]; undecodable rows NaN
    text: torch.Tensor  # [captions, D]
    text_states: dict[int, tuple[torch.Tensor, torch.Tensor]]  # caption → (states, mask)
    local_tokens: dict[int, torch.Tensor]  # video → [C, N, H], this rank's videos only
    failed: list[int]  # videos that could not be decoded


def _encode_texts(task: nn.Module, setup: EvalSetup, texts: list[str], keep: bool):
    ids, mask = setup.tokens(texts)
    states = task.model.encode_text(ids, mask)
    emb = task.model.embed("text", states).float().cpu()
    return emb, (states.cpu(), mask.cpu()) if keep else None


def _local_parts(
    task: nn.Module, split: RetrievalSplit, setup: EvalSetup, out: Embedded, keep: bool
):
    """This rank's (video parts, failed videos, text parts); tokens kept in `out`."""

    def videos_fn(batch: ItemBatch) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, emb = encode_video_batch(task.model, batch["video"], setup.device)
        if keep:
            out.local_tokens.update(zip(batch["index"].tolist(), tokens.cpu(), strict=True))
        return batch["index"], emb

    video_parts, failed = over_videos(setup, split.videos, videos_fn)
    info, bs = setup.info, setup.batch_size
    mine = list(range(info.rank, len(split.captions), info.world_size))
    chunks = [mine[k : k + bs] for k in range(0, len(mine), bs)]

    def texts_fn(rows: list[int]) -> tuple:
        return rows, *_encode_texts(task, setup, [split.captions[i].text for i in rows], keep)

    with eval_bar("eval: captions", info.is_main, len(chunks)) as bar:
        texts = lockstep(chunks, len(chunks), counted(bar, texts_fn), setup.device)
    return video_parts, failed, texts


def _embed_all(task: nn.Module, split: RetrievalSplit, setup: EvalSetup, keep: bool) -> Embedded:
    dim = task.model.cfg.embed_dim
    out = Embedded(
        video=torch.full((len(split.videos), setup.decoder.spec.clips, dim), float("nan")),
        text=torch.zeros(len(split.captions), dim),
        text_states={},
        local_tokens={},
        failed=[],
    )
    for parts, fails, texts in gather_to_all(_local_parts(task, split, setup, out, keep)):
        out.failed += fails
        for index, emb in parts:
            out.video[index] = emb
        for rows, emb, states in texts:
            out.text[rows] = emb
            if keep:
                ids, masks = states
                out.text_states.update({r: (ids[j], masks[j]) for j, r in enumerate(rows)})
    out.failed.sort()
    return out


@torch.no_grad()
def evaluate_retrieval(
    task: nn.Module, split: RetrievalSplit, setup: EvalSetup, rerank_k: int
) -> RetrievalResult | None:
    """Metrics in both directions (on rank 0; other ranks get None)."""
    was_training = task.training
    task.eval()
    emb = _embed_all(task, split, setup, keep=rerank_k > 0)
    left_out = set(emb.failed)
    videos = [v for v in range(len(split.videos)) if v not in left_out]
    column = {v: j for j, v in enumerate(videos)}
    texts = [i for i, v in enumerate(split.text_to_video) if v in column]
    per_clip = torch.einsum("td,vcd->tvc", emb.text[texts], emb.video[videos])
    scale = float(task.model.logit_scale())
    sim = aggregate_clips(per_clip, 2, setup.aggregation, scale)
    t2v = v2t = sim.numpy()
    pairs = 0
    if rerank_k > 0:
        cand = Candidates(emb.text_states, emb.local_tokens, texts, videos)
        reranked = rerank(task, setup, sim, rerank_k, cand)
        t2v, v2t, pairs = reranked.t2v, reranked.v2t, reranked.pairs
    task.train(was_training)
    if not setup.info.is_main:
        return None
    gt = [column[split.text_to_video[i]] for i in texts]
    metrics = {
        "text2video": retrieval_metrics(t2v, gt)["text2video"],
        "video2text": retrieval_metrics(v2t, gt)["video2text"],
    }
    return RetrievalResult(metrics, texts, videos, t2v, v2t, gt, emb.failed, pairs)


def query_ranks(result: RetrievalResult, split: RetrievalSplit, top: int = 5) -> list[dict]:
    """One row per query, both directions: 1-based rank of the ground truth and the top hits."""
    t_ranks, _, _ = retrieval_ranks(result.t2v_scores, result.gt)
    _, v_ranks, owners = retrieval_ranks(result.v2t_scores, result.gt)
    rows = []
    for q, (i, r) in enumerate(zip(result.texts, t_ranks, strict=True)):
        best = np.argsort(-result.t2v_scores[q], kind="stable")[:top]
        caption = split.captions[i]
        rows.append(
            {
                "direction": "text2video",
                "query": caption.text,
                "target": caption.video,
                "rank": int(r) + 1,
                "top": [split.videos[result.videos[j]] for j in best],
            }
        )
    for j, r in zip(owners, v_ranks, strict=True):
        best = np.argsort(-result.v2t_scores[:, j], kind="stable")[:top]
        rows.append(
            {
                "direction": "video2text",
                "query": split.videos[result.videos[j]],
                "rank": int(r) + 1,
                "top": [split.captions[result.texts[t]].text for t in best],
            }
        )
    return rows
