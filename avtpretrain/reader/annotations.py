"""Downstream annotation files as users have them (ALPRO jsonl, train_ans2label.json).

Retrieval rows: `{"caption", "clip_name"}`; QA rows: `{"question", "answer", "video_id",
"answer_type"}`. Other keys are ignored. A bad row is a one-line error naming file, line and field:
evaluation numbers over silently dropped rows would not be comparable with anyone else's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from avtpretrain.contract.format import VIDEO_EXTS
from avtpretrain.contract.keys import name_key


class AnnotationError(ValueError):
    """An annotation file that cannot be used as it is."""


def video_key(video_id: str) -> str:
    """The key a video id is found under: `abc.avi`, `abc` and `abc.mp4` all name `abc`.

    The same rule as make_shards' keys, so ids match folder file names and shard keys alike.
    """
    stem, dot, ext = video_id.rpartition(".")
    if dot and ext.lower() in VIDEO_EXTS:
        video_id = stem
    return name_key(video_id)


@dataclass(frozen=True)
class Caption:
    text: str
    video: str  # video_key of the clip


@dataclass(frozen=True)
class Question:
    question: str
    answer: str
    answer_type: str
    video: str  # video_key of the clip


def _rows(path: Path) -> list[tuple[int, dict]]:
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path}: cannot read annotation file ({err})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise AnnotationError(f"{path}:{number}: malformed JSON line ({err.msg})") from None
        if not isinstance(row, dict):
            raise AnnotationError(f"{path}:{number}: expected a JSON object")
        rows.append((number, row))
    if not rows:
        raise AnnotationError(f"{path}: no annotation rows")
    return rows


def _text(path: Path, number: int, row: dict, name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AnnotationError(
            f"{path}:{number}: {name}: expected a non-empty string, got {value!r}"
        )
    return value.strip()


def read_captions(path: str | Path) -> list[Caption]:
    """ALPRO retrieval jsonl, in file order; several rows may share a clip."""
    path = Path(path)
    return [
        Caption(_text(path, n, row, "caption"), video_key(_text(path, n, row, "clip_name")))
        for n, row in _rows(path)
    ]


def read_questions(path: str | Path) -> list[Question]:
    """ALPRO QA jsonl (MSRVTT-QA, MSVD-QA), in file order."""
    path = Path(path)
    out = []
    for n, row in _rows(path):
        video = row.get("video_id")
        if isinstance(video, int):  # some MSVD-QA exports store numeric ids
            video = str(video)
        row = {**row, "video_id": video}
        out.append(
            Question(
                question=_text(path, n, row, "question"),
                answer=_text(path, n, row, "answer"),
                answer_type=_text(path, n, row, "answer_type"),
                video=video_key(_text(path, n, row, "video_id")),
            )
        )
    return out


def read_ans2label(path: str | Path) -> dict[str, int]:
    """`{"answer": label}` with labels 0..n-1, each once."""
    path = Path(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise AnnotationError(f"{path}: cannot read answer vocabulary ({err})") from None
    if not isinstance(data, dict) or not data:
        raise AnnotationError(f"{path}: expected a non-empty mapping of answer to integer label")
    bad = [k for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool)]
    if bad:
        raise AnnotationError(f"{path}: label of {bad[0]!r}: expected an integer")
    if sorted(data.values()) != list(range(len(data))):
        raise AnnotationError(f"{path}: labels must be 0..{len(data) - 1}, each used once")
    return data


def group_by_video(keys: list[str]) -> tuple[list[str], list[int]]:
    """(distinct videos in first-seen order, each row's index into them)."""
    order: dict[str, int] = {}
    index = [order.setdefault(k, len(order)) for k in keys]
    return list(order), index
