"""Manifests users already have → a list of source samples, in manifest order.

CSV, JSONL or Parquet (writer/rows.py; columns may be renamed with --video_col and the like).
Formats (detected from the columns, or named with --format):
  seed     CSV `audio,text,video`: file names relative to --audio_root/--text_root/--video_root;
           the text file holds the caption; an empty audio cell means the clip has no audio file.
  caption  CSV or JSONL with `video` and inline `caption` (optional `audio`, `key`).
  alpro    JSONL with `clip_name` and `caption` (video `<video_root>/<clip_name><video_ext>`);
           rows of one clip are merged into one sample with several captions.
seed and caption rows may also have `start`/`end` (seconds, or [HH:]MM:SS[.fff]): the sample is
that clip of its video, so one long video gives many samples (keyed `<video>_<ms>-<ms>`).
A row that cannot be read becomes a sample carrying its rejection, so it is counted and logged
like any other failure and the row → shard assignment stays a pure function of the manifest.
JSONL rows end at "\n" only (a caption may hold U+2028 or U+0085); a quoted CSV cell may span
lines, and its line breaks are kept in the caption until normalisation turns them into spaces.
Keys come from keys.py; only a row naming the same source again is a duplicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from avtpretrain.contract.keys import hashed_key, name_key, path_key
from avtpretrain.writer.captions import DEFAULT_MAX_CAPTION_CHARS, caption_problem, normalise_text
from avtpretrain.writer.rows import ManifestError, Rows, read_rows, renamed

FORMATS = ("seed", "caption", "alpro")


@dataclass(frozen=True)
class SourceSample:
    line: int  # 1-based line in the manifest, for error reports
    key: str
    video: str | None = None  # relative to video_root
    audio: str | None = None  # relative to audio_root; None: no audio file
    text: str | None = None  # relative to text_root (a .txt holding the caption)
    captions: tuple[str, ...] = ()
    audio_from_video: bool = False
    # (stage, reason, detail) when the row itself is bad; it is then rejected without any I/O.
    rejected: tuple[str, str, str] | None = None
    # The sample's name in the user's own data: clip_name, the key column, or the video path.
    original_key: str | None = None
    # (start, end) seconds of the video to keep (end may be inf: to the end); None: all of it.
    clip: tuple[float, float] | None = None


def _cell(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _rejected(line: int, stage: str, reason: str, detail: str) -> SourceSample:
    return SourceSample(line, f"line{line}", rejected=(stage, reason, detail))


def detect_format(columns: list[str], path: Path) -> str:
    cols = set(columns)
    if "clip_name" in cols:
        return "alpro"
    if {"video", "text"} <= cols:
        return "seed"
    if {"video", "caption"} <= cols:
        return "caption"
    raise ManifestError(
        f"{path}: cannot tell the manifest format from columns {sorted(cols)}; expected "
        "audio,text,video (seed), video,caption (caption) or clip_name,caption (alpro)"
    )


def _caption_rejection(captions: tuple[str, ...], max_chars: int) -> tuple[str, str, str] | None:
    for caption in captions:
        problem = caption_problem(normalise_text(caption), max_chars)
        if problem:
            return ("text", *problem)
    return None


def _sample(
    line: int, row: dict[str, Any], fmt: str, audio_from_video: bool, max_chars: int
) -> SourceSample:
    video, text, captions = _cell(row, "video"), None, ()
    if fmt == "seed":
        text = _cell(row, "text")
        if text is None:
            return _rejected(line, "manifest", "missing field", "text")
    else:
        caption = row.get("caption")
        captions = tuple(caption) if isinstance(caption, list) else (caption,)
        if not captions or not all(isinstance(c, str) and c.strip() for c in captions):
            return _rejected(line, "manifest", "missing field", "caption")
        problem = _caption_rejection(captions, max_chars)
        if problem:
            return _rejected(line, *problem)
    if video is None:
        return _rejected(line, "manifest", "missing field", "video")
    audio = _cell(row, "audio")
    explicit = _cell(row, "key")
    try:
        clip = _clip(row)
    except ValueError as err:
        return _rejected(line, "manifest", "bad clip time", str(err))
    key, original = path_key(video), video
    if clip is not None:
        # Media Fragments notation (`v.mp4#t=12,15`): rows naming one video with other times are
        # other samples, with the same times a duplicate.
        key = name_key(f"{key}_{_ms(clip[0])}-{_ms(clip[1])}")
        original = f"{video}#t={clip[0]!r},{clip[1]!r}"
    return SourceSample(
        line,
        name_key(explicit) if explicit else key,
        video=video,
        audio=audio,
        text=text,
        captions=captions,
        audio_from_video=audio is None and audio_from_video,
        original_key=explicit or original,
        clip=clip,
    )


def parse_time(value: Any) -> float:
    """Seconds from a number or `[HH:]MM:SS[.fff]` (video2dataset and HowTo100M write both)."""
    expected = f"{value!r}: expected seconds or [HH:]MM:SS[.fff]"
    if isinstance(value, bool):
        raise ValueError(expected)
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        parts = str(value).strip().split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(expected) from None
        # Minutes and seconds after a colon are 0..59(.999); only the first part may be larger.
        if len(parts) > 3 or any(not 0 <= n < 60 for n in numbers[1:]):
            raise ValueError(expected)
        seconds = sum(n * 60**i for i, n in enumerate(reversed(numbers)))
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r}: expected a time >= 0")
    return seconds


def _when(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or str(value).strip() == "":
        return None
    try:
        return parse_time(value)
    except ValueError as err:
        raise ValueError(f"{name} {err}") from None


def _clip(row: dict[str, Any]) -> tuple[float, float] | None:
    """(start, end) from the row's `start`/`end` cells; either may be empty (0 / the end)."""
    start, end = _when(row, "start"), _when(row, "end")
    if start is None and end is None:
        return None
    start, end = start or 0.0, math.inf if end is None else end
    if end <= start:
        raise ValueError(f"start {start:g} s, end {end:g} s: expected start < end")
    return start, end


def _ms(seconds: float) -> str:
    return "end" if math.isinf(seconds) else str(round(seconds * 1000))


def _alpro_samples(rows: Rows, video_ext: str, max_chars: int) -> list[SourceSample]:
    position: dict[str, int] = {}  # clip → index in `out`, to merge later captions into it
    out: list[SourceSample] = []
    for line, row in rows:
        if isinstance(row, str):
            out.append(_rejected(line, "manifest", "malformed row", row))
            continue
        clip, caption = _cell(row, "clip_name"), row.get("caption")
        if clip is None or not isinstance(caption, str) or not caption.strip():
            missing = "clip_name" if clip is None else "caption"
            out.append(_rejected(line, "manifest", "missing field", missing))
            continue
        # Checked per row, before merging: one bad row of a clip must not take its others along.
        problem = _caption_rejection((caption,), max_chars)
        if problem:
            out.append(_rejected(line, *problem))
        elif clip in position:
            first = out[position[clip]]
            out[position[clip]] = replace(first, captions=(*first.captions, caption))
        else:
            position[clip] = len(out)
            sample = SourceSample(
                line,
                name_key(clip),
                video=f"{clip}{video_ext}",
                captions=(caption,),
                audio_from_video=True,
                original_key=clip,
            )
            out.append(sample)
    return out


def _unique_keys(samples: list[SourceSample]) -> list[SourceSample]:
    """A row naming an earlier row's source is a duplicate; distinct sources get distinct keys."""
    owner: dict[str, tuple[str, int]] = {}  # key → (the source's own name, its first line)
    out = []
    for sample in samples:
        if sample.rejected:
            out.append(sample)
            continue
        name, key = sample.original_key or sample.key, sample.key
        if key in owner and owner[key][0] != name:
            # Two sources sharing a key (`a.mp4`, `a.avi`): the later one is told apart by a hash
            # of its full name, still a pure function of the manifest.
            key = hashed_key(key, hashed=name)
        if key in owner:
            first, line = owner[key]
            reason, detail = "duplicate key", f"'{key}' first on line {line}"
            if first != name:
                reason, detail = "key collision", f"'{key}' is {first!r} on line {line}"
            out.append(replace(sample, key=key, rejected=("manifest", reason, detail)))
            continue
        owner[key] = (name, sample.line)
        out.append(replace(sample, key=key))
    return out


def read_manifest(
    path: str | Path,
    fmt: str = "auto",
    *,
    audio_from_video: bool = False,
    video_ext: str = ".mp4",
    max_caption_chars: int = DEFAULT_MAX_CAPTION_CHARS,
    columns_as: dict[str, str] | None = None,
) -> tuple[str, list[SourceSample]]:
    """(format, samples in manifest order); a later row naming the same source is rejected.
    `columns_as` maps our column names (video, caption, audio, key) to the manifest's own."""
    path = Path(path)
    rows, columns = renamed(*read_rows(path), columns_as or {}, path)
    if not rows:
        raise ManifestError(f"{path}: empty manifest (no rows)")
    fmt = detect_format(columns, path) if fmt == "auto" else fmt
    if fmt == "alpro":
        samples = _alpro_samples(rows, video_ext, max_caption_chars)
    else:
        samples = [
            _sample(line, row, fmt, audio_from_video, max_caption_chars)
            if isinstance(row, dict)
            else _rejected(line, "manifest", "malformed row", row)
            for line, row in rows
        ]
    return fmt, _unique_keys(samples)
