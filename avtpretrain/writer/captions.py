"""Caption text rules shared by the manifest reader (inline captions) and the sample builder."""

from __future__ import annotations

import re
import unicodedata

DEFAULT_MAX_CAPTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalise_text(text: str) -> str:
    """NFC, no control characters, single spaces: the same caption always has the same bytes.

    Every line break (\\n, a quoted CSV one, U+2028, U+0085) becomes a space: the .txt member
    holds one caption per line, so a break kept inside a caption would split it in two.
    """
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def _visible(text: str) -> bool:
    # Format characters (Cf: U+200B, U+FEFF, U+2060…) draw nothing: a caption of only those (and
    # spaces) is empty to a reader, yet str.split() does not treat them as space.
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def caption_problem(caption: str, max_chars: int) -> tuple[str, str] | None:
    """(reason, detail) when a normalised caption is unusable, else None."""
    if not caption or not _visible(caption):
        shown = ascii(caption[:40])
        return "empty caption", f"no visible characters in {shown}"
    if not caption.isascii():
        try:
            caption.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate, from a JSON "\ud800" escape
            return "not valid UTF-8", f"{err.reason} at character {err.start}"
    if len(caption) > max_chars:
        return (
            "caption too long",
            f"{len(caption)} characters, limit --max_caption_chars={max_chars}",
        )
    return None
