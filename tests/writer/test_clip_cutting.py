"""start/end clip cutting: many samples from one long video, decoded once, cut within one frame
of the requested times, with the audio cut to the same windows; frames skipped in decoding keep
every output frame within one output frame of its requested time."""

from __future__ import annotations

import io
import json
import math
import tarfile
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from avtpretrain.demo.media import write_video
from avtpretrain.writer import clips, transcode
from avtpretrain.writer.audio import AudioSettings, extract_audio, extract_audio_clips
from avtpretrain.writer.make_shards import main as make_shards
from avtpretrain.writer.manifest import parse_time, read_manifest
from avtpretrain.writer.track import TrackReader
from avtpretrain.writer.transcode import VideoSettings, transcode_clips, transcode_video
from tests.factory import write_csv

SOURCE_FPS = 25
STEP = 9  # grey level of source frame n: STEP * n mod 250, so neighbours differ clearly


def numbered_video(
    path: Path, seconds: float, loud_after: float, bframes: bool = True, x264: str = ""
) -> Path:
    """Frame n is a flat grey of level STEP * n % 250 (readable back after compression); the
    audio is silent before `loud_after` seconds and a tone after it."""
    n = int(seconds * SOURCE_FPS)
    levels = (np.arange(n) * STEP) % 250
    frames = np.broadcast_to(levels[:, None, None, None], (n, 48, 64, 3)).astype(np.uint8)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = np.where(t >= loud_after, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    # x264's default preset uses B-frames (3, pyramid); ultrafast uses none.
    options = {"preset": "medium"} if bframes else {"preset": "ultrafast"}
    options |= {"x264-params": x264} if x264 else {}
    return write_video(path, np.ascontiguousarray(frames), SOURCE_FPS, audio=audio, options=options)


def source_index(level: float, near: float) -> int:
    """The source frame whose grey level is `level`, among those near frame `near`."""
    candidates = range(max(0, int(near) - 12), int(near) + 13)
    return min(candidates, key=lambda n: abs((STEP * n) % 250 - level))


def output_source_times(data: bytes) -> list[tuple[float, float]]:
    """(requested time, source time shown) for each frame of an output clip, clip-relative."""
    out = []
    with av.open(io.BytesIO(data)) as clip:
        for frame in clip.decode(video=0):
            out.append((frame.time, float(frame.to_ndarray(format="gray").mean())))
    return out


def check_frames(data: bytes, start: float, late: float) -> None:
    """Each output frame shows a source frame at or after its requested time, under `late`."""
    for requested, level in output_source_times(data):
        shown = source_index(level, (start + requested) * SOURCE_FPS) / SOURCE_FPS - start
        assert -1e-3 <= shown - requested < late, (requested, shown)


@pytest.mark.parametrize("decode_less", [True, False])
def test_clips_are_cut_within_one_frame_from_one_decode(tmp_path: Path, decode_less: bool) -> None:
    video = numbered_video(tmp_path / "long.mp4", seconds=12, loud_after=6)
    windows = [(1.0, 3.0), (2.5, 4.1), (7.02, 9.5), (11.5, 20.0), (30.0, 31.0)]
    settings = VideoSettings(fps=8, short_side=48, decode_less=decode_less)
    results = transcode_clips(video, settings, windows)
    for (start, end), result in zip(windows[:4], results, strict=False):
        data, meta = result
        clip = meta["clip"]
        # the first source frame at or after start; skipping frames may take a later one, but
        # still within one output frame
        late = 1 / 8 if decode_less else 1 / SOURCE_FPS + 1e-6
        assert 0 <= clip["first_frame"] - start < late
        assert clip["last_frame"] < min(end, 12.0)
        assert meta["num_frames"] == math.ceil((min(end, 12.0) - start) * 8 - 1e-6)
        check_frames(data, start, late)
    assert results[4].reason == "no video frames" and "30-31 s" in results[4].detail


def decoded_frames(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the frames the decoder hands over, per transcode."""
    counts: list[int] = []
    real = transcode._frame_times

    def counting(*args):
        counts.append(0)
        for item in real(*args):
            counts[-1] += 1
            yield item

    monkeypatch.setattr(transcode, "_frame_times", counting)
    return counts


def test_frames_nothing_references_are_not_decoded(tmp_path, monkeypatch) -> None:
    video = numbered_video(tmp_path / "b.mp4", seconds=4, loud_after=0)
    counts = decoded_frames(monkeypatch)
    fast, full = (
        transcode_video(video, VideoSettings(fps=8, short_side=48, decode_less=d))
        for d in (True, False)
    )
    assert counts[1] == 100 and counts[0] < 0.75 * counts[1], counts  # B-pyramid: half skipped
    assert fast[1]["num_frames"] == full[1]["num_frames"] == 32
    check_frames(fast[0], 0.0, late=1 / 8)
    check_frames(full[0], 0.0, late=1 / SOURCE_FPS + 1e-6)


def test_too_sparse_after_skipping_decodes_every_frame(tmp_path, monkeypatch) -> None:
    """Three B-frames in a row that nothing references: kept frames 4/25 s apart, more than an
    output frame (1/8 s), so the source is decoded again, whole, giving the full decode's bytes."""
    x264 = "bframes=3:b-pyramid=none:b-adapt=0"
    video = numbered_video(tmp_path / "b.mp4", seconds=4, loud_after=2, x264=x264)
    counts = decoded_frames(monkeypatch)
    track = TrackReader(AudioSettings())  # its audio read alongside: started afresh on the retry
    fast = transcode_video(video, VideoSettings(fps=8, short_side=48), track)
    full = transcode_video(video, VideoSettings(fps=8, short_side=48, decode_less=False))
    assert fast[0] == full[0] and len(counts) == 3 and counts[0] < counts[1] == counts[2] == 100
    pcm, _ = track.result()
    assert np.array_equal(pcm, extract_audio(video, AudioSettings())[0])


def test_clip_audio_is_cut_at_the_requested_time(tmp_path: Path) -> None:
    video = numbered_video(tmp_path / "a.mp4", seconds=10, loud_after=6.0)
    # After a seek (to 1 s before the first window) and from the start of the file.
    windows = [(5.5, 7.0), (2.0, 6.25), (0.0, 1.0)]
    clips = extract_audio_clips(video, AudioSettings(), windows[:2])
    clips += extract_audio_clips(video, AudioSettings(), windows[2:])
    for (start, end), (pcm, meta) in zip(windows, clips, strict=True):
        assert len(pcm) == round((end - start) * 16000) and meta["clip"] == [start, end]
        loud = np.flatnonzero(np.abs(pcm) > 1000)
        if start < 6.0 < end:  # the tone starts 6.0 - start seconds in, to within 10 ms
            assert abs(loud[0] / 16000 - (6.0 - start)) < 0.01, loud[0] / 16000
        else:
            assert loud.size == 0


def _members(shards: Path) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for shard in sorted(shards.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for info in tar:
                key, ext = info.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(info).read()
    return samples


def test_parquet_clips_with_mapped_columns_decode_each_source_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    numbered_video(videos / "a.mp4", seconds=8, loud_after=4)
    numbered_video(videos / "b.mp4", seconds=6, loud_after=0, bframes=False)
    rows = {
        "url": ["a.mp4", "a.mp4", "a.mp4", "b.mp4", "b.mp4"],
        "txt": ["a one", "a two", "a three", "b one", "b two"],
        "t0": [0.5, 4.5, "00:00:02.000", 0.0, 3.0],
        "t1": [2.5, 6.0, "00:00:03.500", 1.5, 6.5],
    }
    pq.write_table(pa.table({k: [str(v) for v in vs] for k, vs in rows.items()}), tmp_path / "m.pq")
    calls: list[tuple[str, int]] = []
    real = clips.transcode_clips

    def counted(path, settings, windows):
        calls.append((Path(path).name, len(windows)))
        return real(path, settings, windows)

    monkeypatch.setattr(clips, "transcode_clips", counted)
    out = tmp_path / "shards"
    args = ["--manifest", str(tmp_path / "m.pq"), "--video_root", str(videos), "--workers", "1"]
    args += ["--video_col", "url", "--caption_col", "txt", "--start_col", "t0", "--end_col", "t1"]
    assert make_shards([*args, "--audio_from_video", "--output_dir", str(out), "--fps", "8"]) == 0
    assert calls == [("a.mp4", 3), ("b.mp4", 2)]  # one decode per source video
    samples = _members(out)
    keys = ["a_2000-3500", "a_4500-6000", "a_500-2500", "b_0-1500", "b_3000-6500"]
    assert sorted(samples) == keys
    for key, members in samples.items():
        meta = json.loads(members["json"])
        start, end = meta["video"]["clip"]["start"], meta["video"]["clip"]["end"]
        pcm, rate = sf.read(io.BytesIO(members["flac"]))
        source_end = 8.0 if key.startswith("a") else 6.0
        expected = round((min(end, source_end) - start) * rate)
        # past the source's end the audio track runs on by its encoder's padding (under 1,024)
        assert 0 <= len(pcm) - expected <= (0 if end <= source_end else 1024)
        loud = float(np.sqrt(np.mean(pcm**2))) > 0.1
        assert loud == (key.startswith("b") or start >= 4)  # audio cut where the video is
        check_frames(members["mp4"], start, late=1 / 8)


@pytest.mark.parametrize(
    ("start", "end", "detail"),
    [
        ("5", "3", "start 5 s, end 3 s: expected start < end"),
        ("x", "3", "start 'x': expected seconds or [HH:]MM:SS[.fff]"),
        ("-1", "3", "start '-1': expected a time >= 0"),
        ("1", "2:-30", "end '2:-30': expected seconds or [HH:]MM:SS[.fff]"),
        ("1", "1:75", "end '1:75': expected seconds or [HH:]MM:SS[.fff]"),
    ],
)
def test_bad_clip_times_reject_the_row_naming_it(tmp_path, start, end, detail) -> None:
    manifest = write_csv(
        tmp_path / "m.csv", ["video", "caption", "start", "end"], [["a.mp4", "a", start, end]]
    )
    _, [sample] = read_manifest(manifest)
    assert sample.line == 2 and sample.rejected == ("manifest", "bad clip time", detail)


def test_times_and_keys() -> None:
    assert parse_time("01:02:03.5") == 3723.5 and parse_time(12) == 12.0
    assert parse_time("1:30") == 90.0
