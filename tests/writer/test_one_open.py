"""A video's own audio track is read from the container its video was read from: one open of the
file (each open probes the streams), and the same PCM as a separate open gives."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from avtpretrain.writer.audio import AudioSettings, encode_flac, extract_audio
from avtpretrain.writer.build import BuildSettings, build_sample
from avtpretrain.writer.manifest import SourceSample
from avtpretrain.writer.transcode import VideoSettings
from tests.factory import make_video


@pytest.mark.parametrize(
    ("video_s", "audio_s"), [(30.0, 30.0), (1.0, 1.0), (0.5, 2.5)], ids=["whole", "1s", "late"]
)
@pytest.mark.parametrize("kind", ["h264", "mjpeg_avi", "mpeg2", "mpeg4"])
def test_track_audio_equals_a_separate_read_from_one_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, video_s: float, audio_s: float
) -> None:
    """Also when the video stops early (at its max_seconds) and the rest of the audio is read
    after it ("late": 2 s of audio read once the video is done)."""
    path = make_video(tmp_path / "v", kind, num_frames=24, fps=8, audio_rate=44100)
    audio = AudioSettings(max_seconds=audio_s)
    expected = encode_flac(extract_audio(path, audio)[0], 16000)
    opened: list[str] = []
    real = av.open

    def counted(*args, **kwargs):
        opened.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(av, "open", counted)
    src = SourceSample(1, "v", video=path.name, captions=("a clip",), audio_from_video=True)
    video = VideoSettings(max_seconds=video_s)
    members = build_sample(src, BuildSettings(str(tmp_path), video=video, audio=audio))
    assert members["flac"] == expected
    assert opened.count(str(path)) == 1  # (the other open is the output mp4's)


def test_copied_video_still_gets_its_track(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v", "h264", num_frames=16, fps=8, audio_rate=16000)
    src = SourceSample(1, "v", video=path.name, captions=("a clip",), audio_from_video=True)
    members = build_sample(src, BuildSettings(str(tmp_path), copy_video=True))
    assert members["flac"] == encode_flac(extract_audio(path, AudioSettings())[0], 16000)
