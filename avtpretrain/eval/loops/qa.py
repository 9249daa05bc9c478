"""Video QA evaluation: each video (and, with audio, its sound) decoded and encoded once, then
fused with its questions."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from avtpretrain.contract.batch import ItemBatch
from avtpretrain.engine.collective import gather_to_all, max_over_ranks
from avtpretrain.eval.clips import aggregate_clips
from avtpretrain.eval.loops.common import (
    EvalSetup,
    beside_clips,
    encode_audio_batch,
    encode_video_batch,
    over_videos,
)
from avtpretrain.eval.metrics import qa_metrics
from avtpretrain.reader.downstream import QASplit


@dataclass
class QAResult:
    metrics: dict  # ALPRO's shape: ratios, overall_acc, <type>_acc
    predictions: list[str | None]  # per question; None where its video could not be decoded
    skipped_videos: list[int]
    without_audio: int = 0  # videos fused without sound (with downstream.use_audio)


@torch.no_grad()
def evaluate_qa(
    task: nn.Module, split: QASplit, setup: EvalSetup, answers: list[str]
) -> QAResult | None:
    """Accuracy over every question (on rank 0; other ranks get None). A question whose video
    cannot be decoded counts as wrong; answers outside the vocabulary can never be right."""
    was_training = task.training
    task.eval()
    by_video: list[list[int]] = [[] for _ in split.videos]
    for q, v in enumerate(split.question_video):
        by_video[v].append(q)
    bs = setup.batch_size

    def answer(batch: ItemBatch) -> tuple[list[tuple[int, int]], int]:
        tokens, _ = encode_video_batch(task.model, batch["video"], setup.device)
        sound, soundless = None, 0
        if setup.reads.audio:
            soundless = int((~batch["audio_present"].bool()).sum())
            states, _ = encode_audio_batch(task.model, batch["audio"], setup)
            sound = (states, batch["audio_present"].bool().to(setup.device))
        todo = [(q, slot) for slot, v in enumerate(batch["index"].tolist()) for q in by_video[v]]
        chunks = [todo[i : i + bs] for i in range(0, len(todo), bs)]
        out = []
        # Ranks hold different numbers of questions per batch: stay in step (see lockstep).
        for c in range(max_over_ranks(len(chunks), setup.device)):
            chunk = chunks[min(c, len(chunks) - 1)]
            ids, mask = setup.tokens([split.questions[q].question for q, _ in chunk])
            video = tokens[[slot for _, slot in chunk]]  # [P, C, N, H]
            n_clips = video.shape[1]
            slots = [slot for _, slot in chunk]
            audio = None
            if sound is not None:
                audio = beside_clips((sound[0][slots], sound[1][slots]), n_clips)
            logits = task.answer_logits(
                task.model.encode_text(ids, mask).repeat_interleave(n_clips, 0),
                mask.repeat_interleave(n_clips, 0),
                video.flatten(0, 1),
                audio,
            )
            agg = aggregate_clips(
                logits.float().view(len(chunk), n_clips, -1), 1, setup.aggregation
            )
            if c < len(chunks):
                out += zip([q for q, _ in chunk], agg.argmax(1).tolist(), strict=True)
        return out, soundless

    parts, failed = over_videos(setup, split.videos, answer)
    mine = ([p for part, _ in parts for p in part], failed, sum(n for _, n in parts))
    gathered = gather_to_all(mine)
    task.train(was_training)
    if not setup.info.is_main:
        return None
    return _collect(gathered, split, answers)


def _collect(gathered: list, split: QASplit, answers: list[str]) -> QAResult:
    """Every rank's (question, answer label) pairs, failed videos and soundless count → result."""
    preds: list[str | None] = [None] * len(split.questions)
    skipped: list[int] = []
    for pairs, fails, _ in gathered:
        skipped += fails
        for q, label in pairs:
            preds[q] = answers[label]
    gt = [q.answer for q in split.questions]
    types = [q.answer_type for q in split.questions]
    soundless = sum(n for _, _, n in gathered)
    return QAResult(qa_metrics(preds, gt, types), preds, sorted(skipped), soundless)
