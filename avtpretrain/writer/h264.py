"""One output clip being encoded: small H.264/yuv420p mp4 in memory, one frame per output slot.

Encoders run single-threaded: parallelism comes from worker processes, and one thread keeps x264
output byte-for-byte reproducible, which is what makes an interrupted run resume to identical
shards.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av

if TYPE_CHECKING:
    from avtpretrain.writer.transcode import VideoSettings

# x264's MB-tree rate control was seen to encode the same small frames to different bytes from one
# call to the next in a process (it reads lookahead memory it has not written); without it every
# encode is byte-reproducible, which the resumable, byte-identical shards rely on.
X264_REPRODUCIBLE = "mbtree=0"


class ClipEncoder:
    """Output frame k shows the first source frame at or after start + k / fps (1 ms tolerance);
    later source frames in the same slot are dropped, and so is anything at or after `end`."""

    def __init__(
        self, fps: Fraction, settings: VideoSettings, start: float = 0.0, end: float = math.inf
    ) -> None:
        self.fps, self.settings, self.start, self.end = fps, settings, start, end
        self.buf = io.BytesIO()
        self.out: Any = None
        self.stream: Any = None
        self.last_slot, self.count = -1, 0
        self.first_time: float | None = None
        self.last_time: float | None = None

    def slot(self, t: float) -> int | None:
        """The output slot that the source frame at time `t` fills, or None when it fills none."""
        if t >= self.end:
            return None
        slot = math.floor((t - self.start) * self.fps + 1e-3)
        return slot if slot > self.last_slot and slot >= 0 else None

    def encode(self, slot: int, image: Any, t: float) -> None:
        """Encode `image` (already yuv420p at the output size) as output frame `slot`."""
        if self.out is None:
            self.out = av.open(self.buf, mode="w", format="mp4", options={"fflags": "+bitexact"})
            self.stream = _h264_stream(self.out, self.fps, image.width, image.height, self.settings)
        image.pts, image.time_base = slot, 1 / self.fps
        self.out.mux(self.stream.encode(image))
        self.last_slot, self.count = slot, self.count + 1
        self.first_time = t if self.first_time is None else self.first_time
        self.last_time = t

    def finish(self) -> tuple[bytes, dict[str, Any]] | None:
        """The mp4 and its metadata; None when no frame was encoded."""
        if self.out is None:
            return None
        self.out.mux(self.stream.encode(None))
        self.out.close()
        meta = {
            "codec": "h264",
            "width": self.stream.width,
            "height": self.stream.height,
            "fps": float(self.fps),
            "num_frames": self.count,
            "duration": (self.last_slot + 1) / float(self.fps),
        }
        return self.buf.getvalue(), meta


def _h264_stream(out: Any, fps: Fraction, width: int, height: int, settings: VideoSettings):
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.thread_count = 1
    # A keyframe every second keeps random access cheap when training samples a few frames, and
    # no B-frames spares the decoder frame reordering (measured: ~6% faster, same size).
    stream.codec_context.gop_size = max(1, round(float(fps)))
    stream.codec_context.max_b_frames = 0
    options = {
        "crf": str(settings.crf),
        "preset": settings.preset,
        "x264-params": X264_REPRODUCIBLE,
    }
    if settings.tune:
        options["tune"] = settings.tune
    stream.codec_context.options = options
    return stream
