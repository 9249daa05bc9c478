"""Writing real media files with PyAV and soundfile (also used by tests to make odd inputs).

Outputs are byte-for-byte reproducible with the same library versions: single-threaded encoders
and the muxer's bitexact flag keep timestamps, encoder tags and thread splits out of the bytes.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from avtpretrain.io import atomic_write_bytes
from avtpretrain.writer.h264 import X264_REPRODUCIBLE


def encode_video(
    frames: np.ndarray,
    fps: int,
    *,
    codec: str = "libx264",
    container_format: str = "mp4",
    pix_fmt: str = "yuv420p",
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    audio_codec: str = "aac",
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode uint8 frames [T, H, W, 3] (and optionally a [N] or [N, C] float waveform) to bytes."""
    buf = io.BytesIO()
    with av.open(
        buf, mode="w", format=container_format, options={"fflags": "+bitexact"}
    ) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        stream.thread_count = 1
        reproducible = {"x264-params": X264_REPRODUCIBLE} if codec == "libx264" else {}
        stream.codec_context.options = {"threads": "1", **reproducible, **(options or {})}
        astream = None
        if audio is not None:
            astream = container.add_stream(audio_codec, rate=sample_rate)
            astream.layout = "mono" if audio.ndim == 1 else f"{audio.shape[1]}c"
        for i, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if astream is not None:
            _mux_audio(container, astream, audio, sample_rate)
    return buf.getvalue()


def _mux_audio(container, astream, audio: np.ndarray, sample_rate: int) -> None:
    planar = audio.reshape(len(audio), -1).T.astype(np.float32)  # [C, N] for the fltp format
    layout = "mono" if planar.shape[0] == 1 else f"{planar.shape[0]}c"
    chunk = 1024
    for start in range(0, planar.shape[1], chunk):
        piece = np.ascontiguousarray(planar[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        container.mux(astream.encode(frame))
    container.mux(astream.encode(None))


def write_video(path: Path, frames: np.ndarray, fps: int, **kwargs) -> Path:
    """Encode with `encode_video` and write atomically; keyword arguments pass through."""
    return atomic_write_bytes(path, encode_video(frames, fps, **kwargs))


def encode_audio(waveform: np.ndarray, sample_rate: int, audio_format: str = "wav") -> bytes:
    """[N] or [N, C] float waveform → wav (16-bit PCM) or flac bytes."""
    buf = io.BytesIO()
    sf.write(buf, waveform, sample_rate, format=audio_format.upper(), subtype="PCM_16")
    return buf.getvalue()


def write_audio(path: Path, waveform: np.ndarray, sample_rate: int) -> Path:
    """Write wav or flac (by the file's suffix) atomically."""
    fmt = Path(path).suffix.lstrip(".").lower()
    return atomic_write_bytes(path, encode_audio(waveform, sample_rate, fmt))
