"""Downstream items that carry sound: audio-only clips (audio–text retrieval) from a folder of
sounds or from shards, video clips with their own track, clips without sound, broken sound."""

from __future__ import annotations

from pathlib import Path

import pytest

from avtpretrain.config import DataConfig, DownstreamConfig, load_model_config
from avtpretrain.config.loader import FieldError
from avtpretrain.reader.annotations import AnnotationError
from avtpretrain.reader.audio_annotations import audio_key
from avtpretrain.reader.downstream import Reads, clip_index, collate_videos, video_items
from avtpretrain.reader.mapped import CollateItems
from avtpretrain.reader.samples import SampleDecoder, SampleSpec
from avtpretrain.reader.videos import SoundIndex, VideoIndex
from avtpretrain.writer.make_shards import main as make_shards
from tests.factory import make_audio, make_video, seed_args, seed_dataset

REPO = Path(__file__).resolve().parents[2]
MODEL = load_model_config("tiny", REPO / "pretrain" / "demo.yaml")


def _decoder() -> SampleDecoder:
    return SampleDecoder(SampleSpec.build(MODEL, DataConfig(), train=False))


def _batch(index, keys: list[str], reads: Reads) -> dict:
    items = video_items(keys, index, _decoder(), seed=0, reads=reads)
    return CollateItems(collate_videos)([items[(0, i)] for i in range(len(keys))])


def test_audio_only_items_from_a_folder_of_sounds(tmp_path: Path) -> None:
    make_audio(tmp_path / "sounds" / "a b.wav", rate=44100, channels=2)
    make_audio(tmp_path / "sounds" / "c.flac")
    (tmp_path / "sounds" / "notes.txt").write_text("not a sound")
    cfg = DownstreamConfig(
        task="audio_retrieval", annotation_format="clotho", audio_root=str(tmp_path / "sounds")
    )
    index = clip_index(cfg)
    key = audio_key("a b")  # as annotations name it: AudioCaps ids and Clotho file names alike
    assert isinstance(index, SoundIndex) and len(index) == 2 and key in index
    batch = _batch(index, [key, "c"], Reads.of(cfg))
    assert "video" not in batch and batch["failed"] == []
    frames, bins = MODEL.audio.target_frames, MODEL.audio.num_mel_bins
    assert batch["audio"].shape == (2, frames, bins) and batch["audio_present"].all()


def test_audio_only_items_from_shards_are_their_flac_members(tmp_path: Path) -> None:
    seed_dataset(tmp_path / "raw", 2)
    assert make_shards(seed_args(tmp_path / "raw", tmp_path / "shards")) == 0
    cfg = DownstreamConfig(
        task="audio_retrieval",
        annotation_format="audiocaps",
        video_shards=[str(tmp_path / "shards")],
    )
    index = clip_index(cfg)
    assert isinstance(index, SoundIndex) and sorted(index._where) == ["clip0", "clip1"]
    batch = _batch(index, ["clip0", "clip1"], Reads.of(cfg))
    assert batch["audio_present"].tolist() == [True, True] and float(batch["audio"].abs().sum())


def test_video_items_with_sound_keep_soundless_clips(tmp_path: Path) -> None:
    make_video(tmp_path / "v" / "loud", num_frames=16, fps=8, audio_rate=16000)
    make_video(tmp_path / "v" / "mute", num_frames=16, fps=8)
    cfg = DownstreamConfig(task="qa", ans2label="x.json", video_root=str(tmp_path / "v"))
    reads = Reads(video=True, audio=True)
    batch = _batch(VideoIndex.from_folder(tmp_path / "v"), ["loud", "mute"], reads)
    assert Reads.of(cfg) == Reads(video=True, audio=False)
    assert batch["video"].shape[0] == 2 and batch["video_present"].all()
    assert batch["audio_present"].tolist() == [True, False]
    assert float(batch["audio"][1].abs().sum()) == 0  # absent: zeros the mask hides
    assert float(batch["audio"][0].abs().sum()) > 0


def test_a_broken_sound_is_a_counted_decode_failure(tmp_path: Path) -> None:
    make_audio(tmp_path / "s" / "good.wav")
    (tmp_path / "s" / "bad.wav").write_bytes(b"RIFF not really a wav file")
    batch = _batch(SoundIndex.from_folder(tmp_path / "s"), ["good", "bad"], Reads(False, True))
    assert batch["failed"] == [1] and batch["skipped"] == {"audio decode failed": 1}
    assert batch["index"].tolist() == [0]


def test_missing_sounds_are_named(tmp_path: Path) -> None:
    make_audio(tmp_path / "s" / "here.wav")
    index = SoundIndex.from_folder(tmp_path / "s")
    with pytest.raises(AnnotationError, match=r"x.csv: 1 audio clip id\(s\) not found.*'gone'"):
        index.require(["here", "gone"], "x.csv")
    with pytest.raises(AnnotationError, match=r"downstream.audio_root: .* is not a folder"):
        SoundIndex.from_folder(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"task": "retrieval", "audio_root": "s"}, "only audio_retrieval reads a sound folder"),
        ({"task": "audio_retrieval", "audio_root": "s"}, "audio_retrieval reads audiocaps or"),
        ({"task": "retrieval", "video_root": "v", "annotation_format": "clotho"}, "video tasks"),
        (
            {
                "task": "audio_retrieval",
                "annotation_format": "clotho",
                "audio_root": "s",
                "rerank_k": 4,
            },
            "rerank_k",
        ),
        ({"task": "retrieval", "video_root": "v", "audio_weight": 0}, "audio_weight"),
        ({"task": "retrieval", "video_root": "v", "audio_root": "s"}, "exactly one of"),
    ],
)
def test_recipe_mistakes_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        DownstreamConfig(**fields)


def test_the_matching_head_trains_where_pairs_hold_a_video() -> None:
    assert DownstreamConfig(task="retrieval", video_root="v").matching_weight == 1
    with_audio = DownstreamConfig(task="retrieval", video_root="v", use_audio=True)
    assert with_audio.matching_weight == 1
    sounds = DownstreamConfig(task="audio_retrieval", annotation_format="clotho", audio_root="s")
    assert sounds.matching_weight == 0 and Reads.of(sounds) == Reads(video=False, audio=True)
