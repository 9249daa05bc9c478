"""Retrieval and QA with sound: combined scores over clips with and without sound, text↔audio
over the clips that have it, audio–text retrieval, and the same numbers on 2 ranks as on 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avtpretrain.config import DataConfig, DownstreamConfig, load_model_config
from avtpretrain.eval.loops.common import EvalSetup
from avtpretrain.eval.loops.qa import evaluate_qa
from avtpretrain.eval.loops.retrieval import Embedded, _scores, evaluate_retrieval
from avtpretrain.models.model import AVTModel
from avtpretrain.reader.downstream import Reads, clip_index, qa_split, retrieval_split
from avtpretrain.reader.samples import SampleDecoder, SampleSpec
from avtpretrain.reader.tokenizer import load_tokenizer, train_wordpiece
from avtpretrain.tasks.qa import QATask
from avtpretrain.tasks.retrieval import RetrievalTask
from tests.engine.spawned import run_ranks
from tests.factory import make_audio, make_video, write_jsonl

REPO = Path(__file__).resolve().parents[2]
CLIPS = 6  # clips 1 and 4 have no sound
SOUNDLESS = (1, 4)


def _unit(*rows: list[float]) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_combined_scores_fall_back_to_video_for_soundless_clips() -> None:
    nan = float("nan")
    text = _unit([1, 0], [0, 1], [1, 1])
    video = _unit([1, 0.2], [0.3, 1], [1, 0.9]).unsqueeze(1)  # [clips, 1 clip, D]
    audio = torch.cat([_unit([0.5, 1]), torch.full((1, 2), nan), _unit([1, 1])])
    emb = Embedded(video, audio, text, {}, {}, {}, [])
    setup = EvalSetup(*[None] * 9, seed=0, aggregation="mean")
    rows = [0, 1, 2]
    target, sim, alone, sizes, soundless = _scores(emb, rows, rows, rows, setup, 2.0, 1.0)
    tv, ta = text @ video[:, 0].t(), text @ torch.nan_to_num(audio).t()
    assert target == "video"
    assert torch.allclose(sim[:, [0, 2]], ((tv + 2 * ta) / 3)[:, [0, 2]])
    assert torch.equal(sim[:, 1], tv[:, 1])  # no sound: video alone
    assert sizes == {"text2video_no_audio": (3, 3), "text2audio": (2, 2)} and soundless == 1
    assert set(alone) == {"text2video_no_audio", "video2text_no_audio", "text2audio", "audio2text"}
    # text→audio ranks 2 clips: caption 2's clip has the best audio score of the two
    assert alone["text2audio"]["meanR"] <= 1.5


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fused")
    words = ("red", "green", "blue", "left", "right", "up")
    for i in range(CLIPS):
        rate = None if i in SOUNDLESS else 16000
        # Distinct sounds: near-equal embeddings would rank by rounding noise.
        hz = 200.0 * 1.6**i
        make_video(
            root / "videos" / f"v{i}", num_frames=8, fps=8, seed=i, audio_rate=rate, audio_hz=hz
        )
        make_audio(root / "sounds" / f"v{i}.wav", seconds=1.0 + i / 10, hz=hz)
    captions = [
        {"caption": f"a {w} thing {j}", "clip_name": f"v{i}"}
        for i, w in enumerate(words)
        for j in range(2)
    ]
    questions = [
        {"question": f"is it {w}?", "answer": w, "answer_type": "what", "video_id": f"v{i}"}
        for i, w in enumerate(words)
    ]
    train_wordpiece([c["caption"] for c in captions] + list(words), 120, root / "tok")
    return {
        "root": root,
        "captions": write_jsonl(root / "ret.jsonl", captions),
        "questions": write_jsonl(root / "qa.jsonl", questions),
        "tok": root / "tok",
    }


def _setup(info, data: dict, cfg: DownstreamConfig) -> tuple[EvalSetup, object]:
    model = load_model_config("tiny", REPO / "pretrain" / "demo.yaml")
    index = clip_index(cfg)
    setup = EvalSetup(
        info=info,
        device=torch.device("cpu"),
        dtype=torch.float32,
        tokenizer=load_tokenizer(str(data["tok"])),
        max_length=16,
        index=index,
        decoder=SampleDecoder(SampleSpec.build(model, DataConfig(), train=False)),
        batch_size=2,
        num_workers=0,
        seed=0,
        aggregation="mean",
        reads=Reads.of(cfg),
    )
    return setup, model


def _evaluate_all(info, data: dict, out: str) -> None:
    root, results = data["root"], {}
    videos = str(root / "videos")
    for name, cfg in {
        "fused": DownstreamConfig(task="retrieval", video_root=videos, use_audio=True),
        "reranked": DownstreamConfig(
            task="retrieval", video_root=videos, use_audio=True, rerank_k=3
        ),
        "sounds": DownstreamConfig(
            task="audio_retrieval", annotation_format="clotho", audio_root=str(root / "sounds")
        ),
    }.items():
        setup, model = _setup(info, data, cfg)
        torch.manual_seed(0)
        task = RetrievalTask(model, cfg, len(setup.tokenizer))
        split = retrieval_split(str(data["captions"]), setup.index)
        result = evaluate_retrieval(task, split, setup, cfg.rerank_k, cfg.audio_weight)
        if result is not None:
            results[name] = result.metrics | {
                "without_audio": result.without_audio,
                "pairs": result.rerank_pairs,
            }
    cfg = DownstreamConfig(task="qa", ans2label="-", video_root=videos, use_audio=True)
    setup, model = _setup(info, data, cfg)
    torch.manual_seed(0)
    task = QATask(model, cfg, len(setup.tokenizer), 6)
    answers = ["red", "green", "blue", "left", "right", "up"]
    qa = evaluate_qa(task, qa_split(str(data["questions"]), setup.index), setup, answers)
    if info.is_main:
        results["qa"] = qa.predictions
        results["qa_without_audio"] = qa.without_audio
        Path(out).write_text(json.dumps(results, sort_keys=True))


@pytest.mark.distributed
def test_two_ranks_give_one_rank_numbers(data: dict, tmp_path: Path) -> None:
    run_ranks(_evaluate_all, data, str(tmp_path / "one.json"), world=1)
    run_ranks(_evaluate_all, data, str(tmp_path / "two.json"), world=2)
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert one["fused"]["without_audio"] == len(SOUNDLESS)
    assert {"text2video", "text2video_no_audio", "text2audio", "audio2text"} <= set(one["fused"])
    assert {"text2audio", "audio2text"} == set(one["sounds"]) - {"without_audio", "pairs"}
    assert one["reranked"]["pairs"] > 0 and one["fused"]["pairs"] == 0
    assert len(one["qa"]) == CLIPS and None not in one["qa"]
    assert one["qa_without_audio"] == len(SOUNDLESS)
    assert two == one


def test_an_absent_sound_is_fused_as_no_sound() -> None:
    torch.manual_seed(0)
    model = AVTModel(load_model_config("tiny", REPO / "pretrain" / "demo.yaml"), 50).eval()
    text, mask = torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool)
    video, audio = torch.randn(2, 16, 64), torch.randn(2, 49, 64)
    alone = model.fuse_text_video(text, mask, video)
    absent = model.fuse_text_video(text, mask, video, audio=(audio, torch.tensor([False, False])))
    heard = model.fuse_text_video(text, mask, video, audio=(audio, torch.tensor([True, False])))
    assert torch.allclose(absent, alone, atol=1e-5)
    assert not torch.allclose(heard[0], alone[0], atol=1e-3)  # the sound is heard
    assert torch.allclose(heard[1], alone[1], atol=1e-5)
