"""Text↔video retrieval evaluation: embedding similarities, optional matching-head re-ranking.

Every rank embeds its share of the videos and captions; the embeddings are gathered everywhere.
Re-ranking scores only each query's top-k candidates (k per caption, k per video: O(N·k) fused
pairs, not O(N²)); a pair is scored by the rank that holds its video's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from avtpretrain.data.downstream import RetrievalSplit
from avtpretrain.engine.collective import gather_to_all, lockstep
from avtpretrain.engine.eval_common import EvalSetup, encode_video_batch, over_videos
from avtpretrain.eval.clips import aggregate_clips
from avtpretrain.eval.metrics import retrieval_metrics, retrieval_ranks
from avtpretrain.tasks.matching import match_scores


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


def _encode_texts(task, setup: EvalSetup, texts: list[str], keep: bool):
    ids, mask = setup.tokens(texts)
    states = task.model.encode_text(ids, mask)
    emb = task.model.embed("text", states).float().cpu()
    return emb, (states.cpu(), mask.cpu()) if keep else None


def _embed_all(task, split: RetrievalSplit, setup: EvalSetup, keep: bool):
    """(video emb [Nv, C, D] with undecodable rows NaN, text emb [Nt, D], text states, local
    video tokens {video: [C, N, H]}, failed videos) on every rank."""
    info, bs = setup.info, setup.batch_size
    local_tokens: dict[int, torch.Tensor] = {}

    def videos_fn(batch):
        tokens, emb = encode_video_batch(task.model, batch["video"], setup.device)
        if keep:
            local_tokens.update(zip(batch["index"].tolist(), tokens.cpu(), strict=True))
        return batch["index"], emb

    video_parts, failed = over_videos(setup, split.videos, videos_fn)
    mine = list(range(info.rank, len(split.captions), info.world_size))
    chunks = [mine[k : k + bs] for k in range(0, len(mine), bs)]
    text_parts = lockstep(chunks, len(chunks), lambda c: (c, *_encode_texts(
        task, setup, [split.captions[i].text for i in c], keep)), setup.device)  # fmt: skip
    shared = gather_to_all((video_parts, failed, text_parts))
    clips = setup.decoder.spec.clips
    dim = task.model.cfg.embed_dim
    video_emb = torch.full((len(split.videos), clips, dim), float("nan"))
    text_emb = torch.zeros(len(split.captions), dim)
    text_states: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    all_failed: list[int] = []
    for parts, fails, texts in shared:
        all_failed += fails
        for index, emb in parts:
            video_emb[index] = emb
        for rows, emb, states in texts:
            text_emb[rows] = emb
            if keep:
                text_states.update({r: (states[0][j], states[1][j]) for j, r in enumerate(rows)})
    return video_emb, text_emb, text_states, local_tokens, sorted(all_failed)


def _rerank(task, setup: EvalSetup, sim: torch.Tensor, k: int, text_states, local_tokens,
            texts: list[int], videos: list[int]) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """Candidates: top-k videos per caption and top-k captions per video. They move above all
    other candidates in the same order as their matching score; the rest keep their order."""
    t2v = sim.topk(min(k, sim.shape[1]), dim=1).indices
    v2t = sim.topk(min(k, sim.shape[0]), dim=0).indices
    pairs = sorted({(t, int(v)) for t in range(len(texts)) for v in t2v[t]}
                   | {(int(t), v) for v in range(len(videos)) for t in v2t[:, v]})  # fmt: skip
    bs = setup.batch_size
    mine = [p for p in pairs if videos[p[1]] in local_tokens]
    chunks = [mine[i : i + bs] for i in range(0, len(mine), bs)]

    def score(chunk):
        text = torch.stack([text_states[texts[t]][0] for t, _ in chunk]).to(setup.device)
        mask = torch.stack([text_states[texts[t]][1] for t, _ in chunk]).to(setup.device)
        video = torch.stack([local_tokens[videos[v]] for _, v in chunk]).to(setup.device)
        c = video.shape[1]
        margin = match_scores(task.model, task.match_head, text.repeat_interleave(c, 0),
                              mask.repeat_interleave(c, 0), video.flatten(0, 1))  # fmt: skip
        return chunk, aggregate_clips(margin.view(len(chunk), c), 1, setup.aggregation).cpu()

    scored = {}
    for parts in gather_to_all(lockstep(chunks, len(chunks), score, setup.device)):
        for chunk, values in parts:
            scored.update(zip(chunk, values.tolist(), strict=True))
    top = float(sim.max()) + 1.0
    out_t2v, out_v2t = sim.clone(), sim.clone()
    for t in range(len(texts)):
        for v in t2v[t].tolist():
            out_t2v[t, v] = top + torch.sigmoid(torch.tensor(scored[(t, v)]))
    for v in range(len(videos)):
        for t in v2t[:, v].tolist():
            out_v2t[t, v] = top + torch.sigmoid(torch.tensor(scored[(t, v)]))
    return out_t2v.numpy(), out_v2t.numpy(), len(pairs)


@torch.no_grad()
def evaluate_retrieval(task, split: RetrievalSplit, setup: EvalSetup,
                       rerank_k: int) -> RetrievalResult | None:  # fmt: skip
    """Metrics in both directions (on rank 0; other ranks get None)."""
    was_training = task.training
    task.eval()
    keep = rerank_k > 0
    video_emb, text_emb, text_states, local_tokens, failed = _embed_all(task, split, setup, keep)
    left_out = set(failed)
    videos = [v for v in range(len(split.videos)) if v not in left_out]
    column = {v: j for j, v in enumerate(videos)}
    texts = [i for i, v in enumerate(split.text_to_video) if v in column]
    per_clip = torch.einsum("td,vcd->tvc", text_emb[texts], video_emb[videos])
    scale = float(task.model.logit_scale())
    sim = aggregate_clips(per_clip, 2, setup.aggregation, scale)
    if keep:
        t2v, v2t, pairs = _rerank(task, setup, sim, rerank_k, text_states, local_tokens,
                                  texts, videos)  # fmt: skip
    else:
        t2v = v2t = sim.numpy()
        pairs = 0
    task.train(was_training)
    if not setup.info.is_main:
        return None
    gt = [column[split.text_to_video[i]] for i in texts]
    metrics = {"text2video": retrieval_metrics(t2v, gt)["text2video"],
               "video2text": retrieval_metrics(v2t, gt)["video2text"]}  # fmt: skip
    return RetrievalResult(metrics, texts, videos, t2v, v2t, gt, failed, pairs)


def query_ranks(result: RetrievalResult, split: RetrievalSplit, top: int = 5) -> list[dict]:
    """One row per query, both directions: 1-based rank of the ground truth and the top hits."""
    t_ranks, _, _ = retrieval_ranks(result.t2v_scores, result.gt)
    _, v_ranks, owners = retrieval_ranks(result.v2t_scores, result.gt)
    rows = []
    for q, (i, r) in enumerate(zip(result.texts, t_ranks, strict=True)):
        best = np.argsort(-result.t2v_scores[q], kind="stable")[:top]
        rows.append({"direction": "text2video", "query": split.captions[i].text,
                     "target": split.captions[i].video, "rank": int(r) + 1,
                     "top": [split.videos[result.videos[j]] for j in best]})  # fmt: skip
    for j, r in zip(owners, v_ranks, strict=True):
        best = np.argsort(-result.v2t_scores[:, j], kind="stable")[:top]
        rows.append({"direction": "video2text", "query": split.videos[result.videos[j]],
                     "rank": int(r) + 1,
                     "top": [split.captions[result.texts[t]].text for t in best]})  # fmt: skip
    return rows
