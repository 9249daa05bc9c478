"""Re-ranking scores only top-k candidates, and orders them exactly by the matching head."""

import random

import numpy as np
import pytest
import torch

import avtpretrain.eval.loops.rerank as rerank
import avtpretrain.eval.loops.retrieval as ev
from avtpretrain.config import DataConfig, DownstreamConfig, load_model_config
from avtpretrain.dist import DistInfo
from avtpretrain.eval.loops.common import EvalSetup
from avtpretrain.eval.metrics import retrieval_ranks
from avtpretrain.reader.downstream import retrieval_split
from avtpretrain.reader.samples import SampleDecoder, SampleSpec
from avtpretrain.reader.tokenizer import load_tokenizer
from avtpretrain.reader.videos import VideoIndex
from avtpretrain.tasks.matching import match_scores
from avtpretrain.tasks.retrieval import RetrievalTask


@pytest.fixture(scope="module")
def setup(corpus, world_of_one):
    model = load_model_config("tiny")
    index = VideoIndex.from_folder(corpus["raw"] / "videos")
    tokenizer = load_tokenizer(str(corpus["tokenizer"]))
    decoder = SampleDecoder(SampleSpec.build(model, DataConfig(eval_clips=2), train=False))
    ev_setup = EvalSetup(
        info=DistInfo(),
        device=torch.device("cpu"),
        dtype=torch.float32,
        tokenizer=tokenizer,
        max_length=model.text.max_length,
        index=index,
        decoder=decoder,
        batch_size=3,
        num_workers=0,
        seed=0,
        aggregation="max",
    )
    torch.manual_seed(0)
    down = DownstreamConfig(task="retrieval", video_root="v")
    task = RetrievalTask(model, down, len(tokenizer)).eval()
    split = retrieval_split(str(corpus["raw"] / "ret/val.jsonl"), index)
    return task, split, ev_setup


@torch.no_grad()
def brute_force_margins(task, split, setup) -> np.ndarray:
    """Matching margin of every (caption, video) pair, clips aggregated by max."""
    videos = torch.stack(
        [setup.decoder.video(setup.index.read(v), random.Random(0)) for v in split.videos]
    )
    tokens = task.model.encode_video(videos.flatten(0, 1))  # [V * C, N, H]
    clips = videos.shape[1]
    ids, mask = setup.tokens([c.text for c in split.captions])
    text = task.model.encode_text(ids, mask)
    out = np.zeros((len(split.captions), len(split.videos)))
    for t in range(len(split.captions)):
        n = len(tokens)
        m = match_scores(
            task.model,
            task.match_head,
            text[t : t + 1].expand(n, -1, -1),
            mask[t : t + 1].expand(n, -1),
            tokens,
        )
        out[t] = m.view(len(split.videos), clips).amax(1).numpy()
    return out


def test_full_rerank_orders_by_the_matching_head(setup) -> None:
    task, split, ev_setup = setup
    n = len(split.videos)
    result = ev.evaluate_retrieval(task, split, ev_setup, rerank_k=n)
    margins = brute_force_margins(task, split, ev_setup)
    t2v, _, _ = retrieval_ranks(result.t2v_scores, result.gt)
    expected_t2v, _, _ = retrieval_ranks(margins, split.text_to_video)
    np.testing.assert_array_equal(t2v, expected_t2v)
    _, v2t, _ = retrieval_ranks(result.v2t_scores, result.gt)
    _, expected_v2t, _ = retrieval_ranks(margins, split.text_to_video)
    np.testing.assert_array_equal(v2t, expected_v2t)


def test_top_k_costs_n_times_k_fused_pairs(setup, monkeypatch) -> None:
    task, split, ev_setup = setup
    fused = []

    def counting(model, head, text, mask, video, audio=None):
        fused.append(len(text))
        return match_scores(model, head, text, mask, video, audio)

    monkeypatch.setattr(rerank, "match_scores", counting)
    k, clips = 2, ev_setup.decoder.spec.clips
    result = ev.evaluate_retrieval(task, split, ev_setup, rerank_k=k)
    n_t, n_v = len(split.captions), len(split.videos)
    assert sum(fused) == result.rerank_pairs * clips
    assert max(n_t, n_v) * k <= result.rerank_pairs <= (n_t + n_v) * k < n_t * n_v
    # Without re-ranking the ordering is the embedding similarity alone: nothing is fused.
    fused.clear()
    plain = ev.evaluate_retrieval(task, split, ev_setup, rerank_k=0)
    assert fused == [] and plain.rerank_pairs == 0
    # Re-ranking reorders only within each query's top-k: the k-th and later ranks keep theirs.
    t_plain, _, _ = retrieval_ranks(plain.t2v_scores, plain.gt)
    t_rerank, _, _ = retrieval_ranks(result.t2v_scores, result.gt)
    outside = t_plain >= k
    np.testing.assert_array_equal(t_rerank[outside], t_plain[outside])
    assert set(t_rerank[~outside]) <= set(range(k))
