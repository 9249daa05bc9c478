"""Text↔clip retrieval evaluation: embedding similarities, optional matching-head re-ranking.

Every rank embeds its share of the clips (video, sound or both) and captions; the embeddings are
gathered everywhere. With video and sound, a clip scores (text·video + w · text·audio) / (1 + w),
or text·video alone when it has no sound. Re-ranking (`rerank.py`) then fuses only each query's
top-k candidates (with their sound when the clips' sound is used).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from avtpretrain.contract.batch import ItemBatch
from avtpretrain.engine.collective import gather_to_all, lockstep
from avtpretrain.eval.clips import aggregate_clips
from avtpretrain.eval.loops.common import (
    EvalSetup,
    encode_audio_batch,
    encode_video_batch,
    over_videos,
)
from avtpretrain.eval.loops.progress import counted, eval_bar
from avtpretrain.eval.loops.rerank import Candidates, rerank
from avtpretrain.eval.metrics import retrieval_metrics, retrieval_ranks
from avtpretrain.reader.downstream import RetrievalSplit


@dataclass
class RetrievalResult:
    # {"text2<target>": {...}, "<target>2text": {...}}; with video and sound also each alone:
    # text2video_no_audio / video2text_no_audio, and text2audio / audio2text (clips with sound).
    metrics: dict
    texts: list[int]  # caption rows that were queries
    videos: list[int]  # clips that were candidates (all but undecodable ones)
    t2v_scores: np.ndarray  # [len(texts), len(videos)]
    v2t_scores: np.ndarray
    gt: list[int]  # per query text: its clip's column
    skipped_videos: list[int]
    rerank_pairs: int
    target: str = "video"  # what a caption is matched to: "video" (with or without sound), "audio"
    without_audio: int = 0  # candidate clips without sound (video + sound retrieval)
    # text2<x> of each ranking in `metrics` → (candidate clips, query captions), for chance
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Embedded:
    """Every split item embedded, on every rank; token states kept only for re-ranking."""

    video: torch.Tensor | None  # [clips, n_clips, D]; undecodable rows NaN; None: not read
    audio: torch.Tensor | None  # [clips, D]; undecodable or soundless rows NaN; None: not read
    text: torch.Tensor  # [captions, D]
    text_states: dict[int, tuple[torch.Tensor, torch.Tensor]]  # caption → (states, mask)
    local_tokens: dict[int, torch.Tensor]  # video → [C, N, H], this rank's videos only
    local_audio: dict[int, tuple[torch.Tensor, torch.Tensor]]  # video → (sound states, present)
    failed: list[int]  # clips that could not be decoded


def _encode_texts(task: nn.Module, setup: EvalSetup, texts: list[str], keep: bool):
    ids, mask = setup.tokens(texts)
    states = task.model.encode_text(ids, mask)
    emb = task.model.embed("text", states, mask).float().cpu()
    return emb, (states.cpu(), mask.cpu()) if keep else None


def _local_parts(
    task: nn.Module, split: RetrievalSplit, setup: EvalSetup, out: Embedded, keep: bool
):
    """This rank's (video parts, failed videos, text parts); tokens kept in `out`."""

    def videos_fn(batch: ItemBatch) -> tuple:
        video = audio = None
        if setup.reads.video:
            tokens, video = encode_video_batch(task.model, batch["video"], setup.device)
            if keep:
                out.local_tokens.update(zip(batch["index"].tolist(), tokens.cpu(), strict=True))
        if setup.reads.audio:
            states, audio = encode_audio_batch(task.model, batch["audio"], setup)
            present = batch["audio_present"].bool()
            audio[~present] = float("nan")
            if keep and setup.reads.video:
                rows = zip(batch["index"].tolist(), states.cpu(), present, strict=True)
                out.local_audio.update((i, (s, p)) for i, s, p in rows)
        return batch["index"], video, audio

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
    dim, n = task.model.cfg.embed_dim, len(split.videos)
    nan = float("nan")
    out = Embedded(
        video=torch.full((n, setup.decoder.spec.clips, dim), nan) if setup.reads.video else None,
        audio=torch.full((n, dim), nan) if setup.reads.audio else None,
        text=torch.zeros(len(split.captions), dim),
        text_states={},
        local_tokens={},
        local_audio={},
        failed=[],
    )
    for parts, fails, texts in gather_to_all(_local_parts(task, split, setup, out, keep)):
        out.failed += fails
        for index, video, audio in parts:
            if out.video is not None:
                out.video[index] = video
            if out.audio is not None:
                out.audio[index] = audio
        for rows, emb, states in texts:
            out.text[rows] = emb
            if keep:
                ids, masks = states
                out.text_states.update({r: (ids[j], masks[j]) for j, r in enumerate(rows)})
    out.failed.sort()
    return out


@torch.no_grad()
def evaluate_retrieval(
    task: nn.Module,
    split: RetrievalSplit,
    setup: EvalSetup,
    rerank_k: int,
    audio_weight: float = 1.0,
) -> RetrievalResult | None:
    """Metrics in both directions (on rank 0; other ranks get None)."""
    was_training = task.training
    task.eval()
    emb = _embed_all(task, split, setup, keep=rerank_k > 0)
    left_out = set(emb.failed)
    videos = [v for v in range(len(split.videos)) if v not in left_out]
    column = {v: j for j, v in enumerate(videos)}
    texts = [i for i, v in enumerate(split.text_to_video) if v in column]
    gt = [column[split.text_to_video[i]] for i in texts]
    scale = float(task.model.logit_scale())
    target, sim, metrics, sizes, without_audio = _scores(
        emb, texts, videos, gt, setup, audio_weight, scale
    )
    t2v = v2t = sim.numpy()
    pairs = 0
    if rerank_k > 0:
        cand = Candidates(emb.text_states, emb.local_tokens, texts, videos, emb.local_audio)
        reranked = rerank(task, setup, sim, rerank_k, cand)
        t2v, v2t, pairs = reranked.t2v, reranked.v2t, reranked.pairs
    task.train(was_training)
    if not setup.info.is_main:
        return None
    metrics = {
        f"text2{target}": retrieval_metrics(t2v, gt)["text2video"],
        f"{target}2text": retrieval_metrics(v2t, gt)["video2text"],
        **metrics,
    }
    sizes = {f"text2{target}": (len(videos), len(texts)), **sizes}
    return RetrievalResult(
        metrics, texts, videos, t2v, v2t, gt, emb.failed, pairs, target, without_audio, sizes
    )


def _named(metrics: dict, target: str, suffix: str = "") -> dict:
    """retrieval_metrics' text2video / video2text under the names of what was ranked."""
    return {
        f"text2{target}{suffix}": metrics["text2video"],
        f"{target}2text{suffix}": metrics["video2text"],
    }


def _scores(
    emb: Embedded,
    texts: list[int],
    videos: list[int],
    gt: list[int],
    setup: EvalSetup,
    audio_weight: float,
    scale: float,
) -> tuple[str, torch.Tensor, dict, dict[str, tuple[int, int]], int]:
    """(what is ranked, similarities [texts, clips], and when there are video and sound: the
    metrics of each alone with their (clips, captions) sizes, and the clips without sound)."""
    query = emb.text[texts]
    if emb.video is None:  # sounds alone
        return "audio", query @ emb.audio[videos].t(), {}, {}, 0
    per_clip = torch.einsum("td,vcd->tvc", query, emb.video[videos])
    sim = aggregate_clips(per_clip, 2, setup.aggregation, scale)
    if emb.audio is None:
        return "video", sim, {}, {}, 0
    audio = emb.audio[videos]
    sound = ~torch.isnan(audio[:, 0])
    sim_a = query @ audio.t()
    alone = _named(retrieval_metrics(sim.numpy(), gt), "video", "_no_audio")
    sizes = {"text2video_no_audio": (len(videos), len(texts))}
    if bool(sound.any()):  # text↔audio over the clips with sound, queried by their captions
        columns = sound.nonzero().squeeze(1).tolist()
        new = {c: j for j, c in enumerate(columns)}
        rows = [i for i, c in enumerate(gt) if c in new]
        scores = sim_a[rows][:, columns].numpy()
        alone |= _named(retrieval_metrics(scores, [new[gt[i]] for i in rows]), "audio")
        sizes["text2audio"] = (len(columns), len(rows))
    combined = (sim + audio_weight * sim_a) / (1 + audio_weight)
    return "video", torch.where(sound, combined, sim), alone, sizes, int((~sound).sum())


def query_ranks(result: RetrievalResult, split: RetrievalSplit, top: int = 5) -> list[dict]:
    """One row per query, both directions: 1-based rank of the ground truth and the top hits."""
    target = result.target
    t_ranks, _, _ = retrieval_ranks(result.t2v_scores, result.gt)
    _, v_ranks, owners = retrieval_ranks(result.v2t_scores, result.gt)
    rows = []
    for q, (i, r) in enumerate(zip(result.texts, t_ranks, strict=True)):
        best = np.argsort(-result.t2v_scores[q], kind="stable")[:top]
        caption = split.captions[i]
        rows.append(
            {
                "direction": f"text2{target}",
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
                "direction": f"{target}2text",
                "query": split.videos[result.videos[j]],
                "rank": int(r) + 1,
                "top": [split.captions[result.texts[t]].text for t in best],
            }
        )
    return rows
