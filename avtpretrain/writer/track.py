"""A video's own audio track, decoded from the packets that the video's demux passes by.

The file is opened and read once for both: an open probes every stream (decoding some video to do
it), which costs more than decoding a short clip's audio. The decoder gets the very packets, in
the same order, that a separate `extract_audio` would give it, so the PCM is the same.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from avtpretrain.writer.audio import (
    AudioSettings,
    checked_stream,
    mono_resampler,
    pcm_result,
    resampled,
)
from avtpretrain.writer.transcode import MediaError


class TrackReader:
    """Passed to `transcode_video(..., track=)`: `start` picks the stream, `feed` decodes its
    packets, `finish` reads whatever the video left unread; `result` is `extract_audio`'s."""

    def __init__(self, settings: AudioSettings) -> None:
        self.settings = settings
        self.limit = settings.max_samples
        self.start(None)

    def start(self, container: Any) -> Any | None:
        """A fresh decode of `container`'s audio (a retried video decode gives another one);
        the audio stream to demux beside the video, or None."""
        self.stream: Any = None
        self.present, self.flushed, self.total = False, False, 0
        self.chunks: list[np.ndarray] = []
        self.error: MediaError | None = None
        self.used = container is not None  # False: nothing read (--copy_video): read it alone
        if container is None or not container.streams.audio:
            return None
        self.present = True
        try:
            self.stream = checked_stream(container, self.settings)
        except MediaError as err:
            self.error = err
            return None
        self.resampler = mono_resampler(self.settings.sample_rate)
        return self.stream

    def feed(self, packet: Any) -> None:
        if self.error or self.flushed or self.total >= self.limit:
            return
        self.flushed = packet.size == 0  # the end-of-stream packet: the decoder drains
        try:
            for frame in packet.decode():
                self._add(resampled(self.resampler, frame))
        except av.FFmpegError as err:
            self.error = MediaError("audio decode failed", f"{type(err).__name__}: {err}")

    def _add(self, chunks: list[np.ndarray]) -> None:
        self.chunks += chunks
        self.total += sum(c.size for c in chunks)

    def finish(self, container: Any) -> None:
        """After the video: the audio past where it stopped (at max_seconds, or a short track)."""
        if self.stream is None or self.error:
            return
        try:
            for packet in container.demux(self.stream):
                if self.flushed or self.total >= self.limit:
                    break
                self.feed(packet)
            self._add(resampled(self.resampler, None))
        except av.FFmpegError as err:
            self.error = MediaError("audio decode failed", f"{type(err).__name__}: {err}")

    def result(self) -> tuple[np.ndarray, dict[str, Any]] | None:
        """(PCM, meta) as `extract_audio` gives; None without an audio stream."""
        if not self.present:
            return None
        if self.error is not None:
            raise self.error
        return pcm_result(self.stream, self.chunks, self.settings)
