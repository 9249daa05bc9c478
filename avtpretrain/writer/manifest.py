"""Manifests users already have → a list of source samples, in manifest order.

Formats (detected from the columns, or named with --format):
  seed     CSV `audio,text,video`: file names relative to --audio_root/--text_root/--video_root;
           the text file holds the caption; an empty audio cell means the clip has no audio file.
  caption  CSV or JSONL with `video` and inline `caption` (optional `audio`, `key`).
  alpro    JSONL with `clip_name` and `caption` (video `<video_root>/<clip_name><video_ext>`);
           rows of one clip are merged into one sample with several captions.
A row that cannot be read becomes a sample carrying its rejection, so it is counted and logged
like any other failure and the row → shard assignment stays a pure function of the manifest.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from avtpretrain.contract.format import make_key, sanitize_key

FORMATS = ("seed", "caption", "alpro")


class ManifestError(ValueError):
    """The manifest as a whole is unusable (unreadable, empty, wrong columns)."""


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


def _cell(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _read_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any] | str]], list[str]]:
    """[(line, row dict or an error string)], column names. JSONL when the suffix says so."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot read manifest ({err})") from None
    if path.suffix.lower() in (".jsonl", ".json"):
        rows: list[tuple[int, dict[str, Any] | str]] = []
        columns: dict[str, None] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                rows.append((number, f"malformed JSON line ({err.msg})"))
                continue
            if not isinstance(obj, dict):
                rows.append((number, f"expected a JSON object, got {type(obj).__name__}"))
                continue
            columns.update(dict.fromkeys(obj))
            rows.append((number, obj))
        return rows, list(columns)
    return _read_csv(path, text)


def _read_csv(path: Path, text: str) -> tuple[list[tuple[int, dict[str, Any] | str]], list[str]]:
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ManifestError(f"{path}: empty manifest (no header row)") from None
    rows: list[tuple[int, dict[str, Any] | str]] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            rows.append((reader.line_num, f"malformed CSV row ({err})"))
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            rows.append(
                (
                    reader.line_num,
                    f"malformed CSV row: expected {len(header)} fields "
                    f"({','.join(header)}), got {len(cells)}",
                )
            )
            continue
        rows.append((reader.line_num, dict(zip(header, cells, strict=True))))
    return rows, header


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


def _sample(line: int, row: dict[str, Any], fmt: str, audio_from_video: bool) -> SourceSample:
    video = _cell(row, "video")
    if fmt == "seed":
        text, captions = _cell(row, "text"), ()
        if text is None:
            return SourceSample(line, f"line{line}", rejected=("manifest", "missing field", "text"))
    else:
        caption = row.get("caption")
        captions = tuple(caption) if isinstance(caption, list) else (caption,)
        text = None
        if not captions or not all(isinstance(c, str) and c.strip() for c in captions):
            return SourceSample(
                line, f"line{line}", rejected=("manifest", "missing field", "caption")
            )
    if video is None:
        return SourceSample(line, f"line{line}", rejected=("manifest", "missing field", "video"))
    audio = _cell(row, "audio")
    explicit = _cell(row, "key")
    return SourceSample(
        line,
        sanitize_key(explicit) if explicit else make_key(video),
        video=video,
        audio=audio,
        text=text,
        captions=captions,
        audio_from_video=audio is None and audio_from_video,
        original_key=explicit or video,
    )


def _alpro_samples(rows, video_ext: str) -> list[SourceSample]:
    position: dict[str, int] = {}  # clip → index in `out`, to merge later captions into it
    out: list[SourceSample] = []
    for line, row in rows:
        if isinstance(row, str):
            out.append(
                SourceSample(line, f"line{line}", rejected=("manifest", "malformed row", row))
            )
            continue
        clip, caption = _cell(row, "clip_name"), row.get("caption")
        if clip is None or not isinstance(caption, str) or not caption.strip():
            missing = "clip_name" if clip is None else "caption"
            out.append(
                SourceSample(line, f"line{line}", rejected=("manifest", "missing field", missing))
            )
            continue
        if clip in position:
            first = out[position[clip]]
            out[position[clip]] = replace(first, captions=(*first.captions, caption))
            continue
        position[clip] = len(out)
        out.append(
            SourceSample(
                line,
                make_key(clip),
                video=f"{clip}{video_ext}",
                captions=(caption,),
                audio_from_video=True,
                original_key=clip,
            )
        )
    return out


def read_manifest(
    path: str | Path, fmt: str = "auto", *, audio_from_video: bool = False, video_ext: str = ".mp4"
) -> tuple[str, list[SourceSample]]:
    """(format, samples in manifest order); later rows that repeat a key are rejected."""
    path = Path(path)
    rows, columns = _read_rows(path)
    if not rows:
        raise ManifestError(f"{path}: empty manifest (no rows)")
    fmt = detect_format(columns, path) if fmt == "auto" else fmt
    if fmt == "alpro":
        samples = _alpro_samples(rows, video_ext)
    else:
        samples = [
            _sample(line, row, fmt, audio_from_video)
            if isinstance(row, dict)
            else SourceSample(line, f"line{line}", rejected=("manifest", "malformed row", row))
            for line, row in rows
        ]
    first_line: dict[str, int] = {}
    for i, sample in enumerate(samples):
        if sample.rejected:
            continue
        if sample.key in first_line:
            detail = f"'{sample.key}' first on line {first_line[sample.key]}"
            samples[i] = replace(sample, rejected=("manifest", "duplicate key", detail))
        else:
            first_line[sample.key] = sample.line
    return fmt, samples
