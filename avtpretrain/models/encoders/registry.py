"""The one explicit map from a config's `family` to the encoder class that builds it.

Adding a family: one file in this folder, one line here, one YAML in model_configs/.
"""

from __future__ import annotations

from avtpretrain.models.encoders.audio import AudioEncoder
from avtpretrain.models.encoders.text import TextEncoder
from avtpretrain.models.encoders.video import VideoEncoder

TEXT_ENCODERS = {"bert": TextEncoder, "roberta": TextEncoder, "deberta-v2": TextEncoder}
AUDIO_ENCODERS = {"vit-mae-audio": AudioEncoder}
VIDEO_ENCODERS = {"videomae": VideoEncoder}


def lookup(table: dict, family: str, tower: str):
    if family not in table:
        raise ValueError(
            f"model.{tower}.family: unknown '{family}' (known: {', '.join(sorted(table))})"
        )
    return table[family]
