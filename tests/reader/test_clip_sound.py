"""A finetuning clip's sound, for the tasks that use audio: its flac member when videos come
from shards, the video file's own audio track when they come from a folder, None without any."""

from __future__ import annotations

from pathlib import Path

from avtpretrain.reader.videos import VideoIndex
from avtpretrain.writer.make_shards import main as make_shards
from tests.factory import make_video, seed_args, seed_dataset


def test_sound_from_shards_is_the_flac_member(tmp_path: Path) -> None:
    with_sound, without = tmp_path / "a", tmp_path / "b"
    seed_dataset(with_sound, 2)
    seed_dataset(without, 1, with_audio=False)
    for root in (with_sound, without):
        assert make_shards(seed_args(root, root / "shards")) == 0
    wave, rate = VideoIndex.from_shards([str(with_sound / "shards")]).audio("clip1")
    assert rate == 16000 and len(wave) == 16000  # the 1 s file, resampled to 16 kHz mono
    silent = VideoIndex.from_shards([str(without / "shards")])
    assert "clip0" in silent and silent.audio("clip0") is None


def test_sound_from_a_folder_is_the_videos_own_track(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "loud", num_frames=16, fps=8, audio_rate=44100)  # 2 s
    make_video(videos / "mute", num_frames=16, fps=8)
    index = VideoIndex.from_folder(videos)
    wave, rate = index.audio("loud")
    # AAC pads its last frame: up to 1,024 source samples (about 372 at 16 kHz) more.
    assert rate == 16000 and 32000 <= len(wave) <= 32000 + 372
    assert float(wave.abs().max()) > 0.1
    assert index.audio("mute") is None
