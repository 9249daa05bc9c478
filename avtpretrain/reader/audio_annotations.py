"""Audio–text retrieval annotations as their users have them: AudioCaps and Clotho CSV files.

AudioCaps: `audiocap_id,youtube_id,start_time,caption`, one caption a row (train: one per clip;
val/test: five rows per clip). Its audio files are named after the YouTube id by most download
tools (`<youtube_id>.wav`), after the AudioCaps id by others: `key` chooses. Clotho:
`file_name,caption_1,...,caption_5`, one clip a row, the audio file named `file_name`.
Rows come back as `Caption(text, key)` in file order, several per clip, keyed like make_shards'
keys (`name_key` of the file name without its audio extension), so they match files in a folder
and keys in shards alike. A bad row is a one-line error naming file, line and field.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from avtpretrain.contract.format import AUDIO_EXTS
from avtpretrain.contract.keys import name_key
from avtpretrain.reader.annotations import AnnotationError, Caption

AUDIOCAPS_COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
CLOTHO_CAPTIONS = tuple(f"caption_{i}" for i in range(1, 6))


def audio_key(name: str) -> str:
    """The key an audio file name is found under: `a b.wav`, `a b` name the same clip."""
    stem, dot, ext = name.rpartition(".")
    return name_key(stem if dot and ext.lower() in AUDIO_EXTS else name)


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path}: cannot read annotation file ({err})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise AnnotationError(
            f"{path}: expected columns {', '.join(required)}; missing {', '.join(missing)} "
            f"(header: {', '.join(header) or 'none'})"
        )
    rows = []
    while True:
        line = reader.line_num + 1  # a quoted caption may span lines: its row's first line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise AnnotationError(f"{path}:{line}: malformed CSV row ({err})") from None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise AnnotationError(
                f"{path}:{line}: expected {len(header)} fields ({','.join(header)}), "
                f"got {len(cells)}"
            )
        rows.append((line, dict(zip(header, cells, strict=True))))
    if not rows:
        raise AnnotationError(f"{path}: no annotation rows")
    return rows


def _field(path: Path, line: int, row: dict[str, str], name: str) -> str:
    value = row[name].strip()
    if not value:
        raise AnnotationError(f"{path}:{line}: {name}: expected a non-empty value")
    return value


def read_audiocaps(path: str | Path, key: str = "youtube_id") -> list[Caption]:
    """AudioCaps CSV rows as (caption, clip key); `key` is the column the audio files are named
    after: youtube_id (default) or audiocap_id."""
    if key not in ("youtube_id", "audiocap_id"):
        raise AnnotationError(f"AudioCaps key {key!r}: expected youtube_id or audiocap_id")
    path = Path(path)
    out = []
    for line, row in _csv_rows(path, AUDIOCAPS_COLUMNS):
        start = _field(path, line, row, "start_time")
        try:
            ok = math.isfinite(float(start)) and float(start) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise AnnotationError(
                f"{path}:{line}: start_time: expected seconds >= 0, got {start!r}"
            )
        caption = _field(path, line, row, "caption")
        out.append(Caption(caption, audio_key(_field(path, line, row, key))))
    return out


def read_clotho(path: str | Path) -> list[Caption]:
    """Clotho captions CSV: five captions a clip, as five (caption, clip key) rows."""
    path = Path(path)
    out = []
    for line, row in _csv_rows(path, ("file_name", *CLOTHO_CAPTIONS)):
        clip = audio_key(_field(path, line, row, "file_name"))
        out += [Caption(_field(path, line, row, c), clip) for c in CLOTHO_CAPTIONS]
    return out
