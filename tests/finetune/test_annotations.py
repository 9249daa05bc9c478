"""ALPRO annotation files and random access to videos by id."""

import json
import tarfile
from pathlib import Path

import pytest

from avtpretrain.contract.keys import path_key
from avtpretrain.reader.annotations import (
    AnnotationError,
    read_ans2label,
    read_captions,
    read_questions,
    video_key,
)
from avtpretrain.reader.videos import VideoIndex
from tests.factory import write_jsonl


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("video7010", "video7010"),
        ("-4wsuPCjDBc_5_15.avi", "-4wsuPCjDBc_5_15"),
        ("clip.MP4", "clip"),
    ],
)
def test_video_key_strips_video_extensions_only(given: str, key: str) -> None:
    assert video_key(given) == key


@pytest.mark.parametrize(("given", "file_name"), [("v1.2", "v1.2.mp4"), ("a/b.webm", "a/b.webm")])
def test_an_id_that_needs_sanitising_finds_the_key_make_shards_gave_its_file(
    given: str, file_name: str
) -> None:
    assert video_key(given) == path_key(file_name)
    assert video_key(given) != video_key(given.replace(".", "_").replace("/", "_"))


def test_msvd_ids_with_and_without_avi_name_the_same_video(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "q.jsonl",
        [
            {
                "question": "who runs?",
                "answer": "man",
                "video_id": "abc_1_5.avi",
                "answer_type": "who",
                "extra": 1,
            },
            {
                "question": "what is it?",
                "answer": "dog",
                "video_id": "abc_1_5",
                "answer_type": "what",
            },
            {"question": "what?", "answer": "cat", "video_id": 1203, "answer_type": "what"},
        ],
    )
    questions = read_questions(path)
    assert [q.video for q in questions] == ["abc_1_5", "abc_1_5", "1203"]
    assert questions[0].answer == "man" and questions[0].answer_type == "who"


def test_captions_keep_file_order_and_ignore_other_keys(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"caption": "a man sings", "clip_name": "video1", "sen_id": 3},
            {"caption": "someone sings", "clip_name": "video1"},
            {"caption": "a cat", "clip_name": "video2"},
        ],
    )
    assert [(c.text, c.video) for c in read_captions(path)] == [
        ("a man sings", "video1"),
        ("someone sings", "video1"),
        ("a cat", "video2"),
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['{"clip_name": "v"}'], "r.jsonl:1: caption: expected a non-empty string"),
        (['{"caption": "x", "clip_name": "v"}', "{oops"], "r.jsonl:2: malformed JSON line"),
        (['["caption"]'], "r.jsonl:1: expected a JSON object"),
        ([""], "r.jsonl: no annotation rows"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, lines, expected) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=expected):
        read_captions(path)


@pytest.mark.parametrize(
    ("vocab", "expected"),
    [
        ({"a": 0, "b": 2}, "labels must be 0..1"),
        ({"a": "0"}, "label of 'a': expected an integer"),
        ([], "expected a non-empty mapping"),
    ],
)
def test_answer_vocabulary_is_checked(tmp_path: Path, vocab, expected) -> None:
    path = tmp_path / "train_ans2label.json"
    path.write_text(json.dumps(vocab))
    with pytest.raises(AnnotationError, match=expected):
        read_ans2label(path)
    path.write_text(json.dumps({"b": 1, "a": 0}))
    assert read_ans2label(path) == {"a": 0, "b": 1}


def test_folder_index_finds_any_container_and_reports_missing_ids(tmp_path: Path) -> None:
    (tmp_path / "video1.mp4").write_bytes(b"mp4 bytes")
    (tmp_path / "abc_1_5.avi").write_bytes(b"avi bytes")
    (tmp_path / "notes.txt").write_text("not a video")
    index = VideoIndex.from_folder(tmp_path)
    assert len(index) == 2
    assert index.read(video_key("abc_1_5.avi")) == b"avi bytes"
    assert index.read("video1") == b"mp4 bytes"
    index.require(["video1", "abc_1_5"], "val.jsonl")
    with pytest.raises(AnnotationError, match=r"val.jsonl: 2 video id\(s\) not found .*'nope'"):
        index.require(["video1", "zzz", "nope"], "val.jsonl")


def test_shard_index_reads_members_without_unpacking(tmp_path: Path) -> None:
    shard = tmp_path / "s-000000.tar"
    payloads = {"video1": b"first video" * 100, "video2": b"second"}
    with tarfile.open(shard, "w") as tar:
        for key, data in payloads.items():
            for ext, body in (("json", b"{}"), ("txt", b"caption"), ("mp4", data)):
                path = tmp_path / f"{key}.{ext}"
                path.write_bytes(body)
                tar.add(path, arcname=path.name)
    index = VideoIndex.from_shards([str(shard)])
    assert len(index) == 2
    assert {k: index.read(k) for k in payloads} == payloads
