"""Manifest rows from CSV, JSONL or Parquet files, with the user's column names mapped to ours.

A row is (line, dict) or (line, what is wrong with it); for Parquet the "line" is the row's
1-based index. Column mapping (make_shards --video_col url ...) happens before the format is
detected, so a video2dataset-style Parquet with `url`/`caption` columns reads as `video,caption`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

Rows = list[tuple[int, dict[str, Any] | str]]  # (line, row dict or what is wrong with it)


class ManifestError(ValueError):
    """The manifest as a whole is unusable (unreadable, empty, wrong columns)."""


def read_rows(path: Path) -> tuple[Rows, list[str]]:
    """[(line, row dict or an error string)], column names: by the suffix, JSONL (.jsonl,
    .json), Parquet (.parquet, .pq), else CSV."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot read manifest ({err})") from None
    if path.suffix.lower() in (".jsonl", ".json"):
        return _read_jsonl(text)
    return _read_csv(path, text)


def _read_jsonl(text: str) -> tuple[Rows, list[str]]:
    rows: Rows = []
    columns: dict[str, None] = {}
    # "\n" only: str.splitlines() also ends lines at U+2028, U+0085 and others, which JSON allows
    # raw inside strings, and would cut such a row in two.
    for number, raw in enumerate(text.split("\n"), start=1):
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


def _read_csv(path: Path, text: str) -> tuple[Rows, list[str]]:
    # newline="": the csv module sees the line breaks itself, so a quoted cell keeps its own and
    # line_num counts file lines (splitlines() glued quoted lines and split at U+2028).
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ManifestError(f"{path}: empty manifest (no header row)") from None
    rows: Rows = []
    while True:
        line = reader.line_num + 1  # a row's first line: a quoted cell may span several
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            rows.append((line, f"malformed CSV row ({err})"))
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            expected = f"expected {len(header)} fields ({','.join(header)}), got {len(cells)}"
            rows.append((line, f"malformed CSV row: {expected}"))
            continue
        rows.append((line, dict(zip(header, cells, strict=True))))
    return rows, header


def _read_parquet(path: Path) -> tuple[Rows, list[str]]:
    import pyarrow.parquet as pq  # only when a Parquet manifest is read

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise ManifestError(f"{path}: cannot read Parquet manifest ({err})") from None
    rows: Rows = [(i, _plain(row)) for i, row in enumerate(table.to_pylist(), start=1)]
    return rows, list(table.column_names)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Parquet nulls and NaNs are empty cells, as in a CSV."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def renamed(
    rows: Rows, columns: list[str], mapping: dict[str, str], path: Path
) -> tuple[Rows, list[str]]:
    """Rows with the manifest's columns named ours: mapping[ours] = theirs."""
    mapping = {ours: theirs for ours, theirs in mapping.items() if theirs and theirs != ours}
    for ours, theirs in mapping.items():
        if theirs not in columns:
            raise ManifestError(
                f"{path}: --{ours}_col {theirs}: no such column (columns: {', '.join(columns)})"
            )
    back = {theirs: ours for ours, theirs in mapping.items()}
    out: Rows = [
        (line, {back.get(k, k): v for k, v in row.items() if k not in mapping})
        if isinstance(row, dict)
        else (line, row)
        for line, row in rows
    ]
    return out, [back.get(c, c) for c in columns if c not in mapping]
