"""AudioCaps and Clotho annotation files as their users have them; a bad row is one line naming
the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from avtpretrain.reader.annotations import AnnotationError, Caption
from avtpretrain.reader.audio_annotations import audio_key, read_audiocaps, read_clotho

AUDIOCAPS = """audiocap_id,youtube_id,start_time,caption
91139,r1nicOVtvkQ,130,A woman talks nearby as water pours
91139,r1nicOVtvkQ,130,"Water pours, then a woman speaks"
58146,UDGBjjwyaqE,20,Multiple clanging and clanking sounds
"""

CLOTHO = """file_name,caption_1,caption_2,caption_3,caption_4,caption_5
Distorted AM Radio noise.wav,a,b,c,d,e
"rain, on roof.wav",r1,r2,"r3, with a comma",r4,r5
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_audiocaps_rows_keyed_by_the_chosen_column(tmp_path: Path) -> None:
    path = write(tmp_path / "val.csv", AUDIOCAPS)
    assert read_audiocaps(path) == [
        Caption("A woman talks nearby as water pours", "r1nicOVtvkQ"),
        Caption("Water pours, then a woman speaks", "r1nicOVtvkQ"),
        Caption("Multiple clanging and clanking sounds", "UDGBjjwyaqE"),
    ]
    assert [c.video for c in read_audiocaps(path, key="audiocap_id")] == ["91139"] * 2 + ["58146"]


def test_clotho_gives_five_captions_a_clip_keyed_like_its_file(tmp_path: Path) -> None:
    captions = read_clotho(write(tmp_path / "clotho_captions_evaluation.csv", CLOTHO))
    assert len(captions) == 10
    assert [c.text for c in captions[5:]] == ["r1", "r2", "r3, with a comma", "r4", "r5"]
    assert captions[0].video == audio_key("Distorted AM Radio noise.wav")
    assert captions[0].video == audio_key("Distorted AM Radio noise")  # with or without .wav
    assert captions[0].video != captions[5].video


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            AUDIOCAPS.replace("58146,UDGBjjwyaqE,20,", "58146,UDGBjjwyaqE,x,"),
            r"val.csv:4: start_time: expected seconds >= 0, got 'x'",
        ),
        (
            AUDIOCAPS.replace(",Multiple clanging and clanking sounds", ","),
            r"val.csv:4: caption: expected a non-empty value",
        ),
        (
            AUDIOCAPS.replace("58146,UDGBjjwyaqE,20,", "58146,20,"),
            r"val.csv:4: expected 4 fields \(audiocap_id,youtube_id,start_time,caption\), got 3",
        ),
        (
            "audiocap_id,caption\n1,a\n",
            r"val.csv: expected columns audiocap_id, youtube_id, "
            r"start_time, caption; missing youtube_id, start_time",
        ),
        ("audiocap_id,youtube_id,start_time,caption\n", r"val.csv: no annotation rows"),
    ],
)
def test_bad_audiocaps_rows_name_file_line_and_field(tmp_path: Path, text: str, message) -> None:
    with pytest.raises(AnnotationError, match=message):
        read_audiocaps(write(tmp_path / "val.csv", text))


def test_bad_clotho_row_names_its_line(tmp_path: Path) -> None:
    bad = CLOTHO.replace("r4,r5", "r4,")
    with pytest.raises(AnnotationError, match=r"c.csv:3: caption_5: expected a non-empty value"):
        read_clotho(write(tmp_path / "c.csv", bad))
    with pytest.raises(AnnotationError, match=r"cannot read annotation file"):
        read_clotho(tmp_path / "absent.csv")
