"""Top-k re-ranking by the matching head: O(N·k) fused pairs, not O(N²); with sound, each pair
is fused with its clip's sound too.

Candidates are the top-k videos per caption and the top-k captions per video. They move above all
other candidates in the same order as their matching score; the rest keep their order. A pair is
scored by the rank that holds its video's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from avtpretrain.engine.collective import gather_to_all, lockstep
from avtpretrain.eval.clips import aggregate_clips
from avtpretrain.eval.loops.common import EvalSetup, beside_clips
from avtpretrain.eval.loops.progress import counted, eval_bar
from avtpretrain.tasks.matching import match_scores


@dataclass(frozen=True)
class Candidates:
    """What re-ranking needs besides the similarities: token states and who the rows are."""

    text_states: dict[int, tuple[torch.Tensor, torch.Tensor]]  # caption → (states, mask)
    local_tokens: dict[int, torch.Tensor]  # video → [C, N, H], this rank's videos only
    texts: list[int]  # similarity row → caption
    videos: list[int]  # similarity column → video
    # video → (its sound's token states [M, H], present), this rank's videos; {}: fused without
    local_audio: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reranked:
    t2v: np.ndarray  # [texts, videos] scores ranked along rows
    v2t: np.ndarray  # [texts, videos] scores ranked along columns
    pairs: int  # fused pairs scored over all ranks


def _pairs(sim: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
    t2v = sim.topk(min(k, sim.shape[1]), dim=1).indices
    v2t = sim.topk(min(k, sim.shape[0]), dim=0).indices
    pairs = {(t, int(v)) for t in range(sim.shape[0]) for v in t2v[t]}
    pairs |= {(int(t), v) for v in range(sim.shape[1]) for t in v2t[:, v]}
    return t2v, v2t, sorted(pairs)


def _score_pairs(
    task: nn.Module, setup: EvalSetup, cand: Candidates, pairs: list[tuple[int, int]]
) -> dict[tuple[int, int], float]:
    """Matching margin of every pair, scored where its video's tokens live, shared everywhere."""
    mine = [p for p in pairs if cand.videos[p[1]] in cand.local_tokens]
    chunks = [mine[i : i + setup.batch_size] for i in range(0, len(mine), setup.batch_size)]

    def score(chunk: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], torch.Tensor]:
        states = [cand.text_states[cand.texts[t]] for t, _ in chunk]
        text = torch.stack([s[0] for s in states]).to(setup.device)
        mask = torch.stack([s[1] for s in states]).to(setup.device)
        video = torch.stack([cand.local_tokens[cand.videos[v]] for _, v in chunk])
        c = video.shape[1]
        audio = None
        if cand.local_audio:
            sounds = [cand.local_audio[cand.videos[v]] for _, v in chunk]
            stacked = (torch.stack([s[i] for s in sounds]).to(setup.device) for i in (0, 1))
            audio = beside_clips(tuple(stacked), c)
        margin = match_scores(
            task.model,
            task.match_head,
            text.repeat_interleave(c, 0),
            mask.repeat_interleave(c, 0),
            video.to(setup.device).flatten(0, 1),
            audio,
        )
        return chunk, aggregate_clips(margin.view(len(chunk), c), 1, setup.aggregation).cpu()

    with eval_bar("eval: re-ranking", setup.info.is_main, len(chunks)) as bar:
        mine_scored = lockstep(chunks, len(chunks), counted(bar, score), setup.device)
    scored: dict[tuple[int, int], float] = {}
    for parts in gather_to_all(mine_scored):
        for chunk, values in parts:
            scored.update(zip(chunk, values.tolist(), strict=True))
    return scored


def rerank(
    task: nn.Module, setup: EvalSetup, sim: torch.Tensor, k: int, cand: Candidates
) -> Reranked:
    t2v, v2t, pairs = _pairs(sim, k)
    scored = _score_pairs(task, setup, cand, pairs)
    top = float(sim.max()) + 1.0
    out_t2v, out_v2t = sim.clone(), sim.clone()
    for t in range(sim.shape[0]):
        for v in t2v[t].tolist():
            out_t2v[t, v] = top + torch.sigmoid(torch.tensor(scored[(t, v)]))
    for v in range(sim.shape[1]):
        for t in v2t[:, v].tolist():
            out_v2t[t, v] = top + torch.sigmoid(torch.tensor(scored[(t, v)]))
    return Reranked(out_t2v.numpy(), out_v2t.numpy(), len(pairs))
