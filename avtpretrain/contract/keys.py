"""Sample keys: one per distinct source, stable across runs, safe as a tar member name.

A name that is already a key (`[A-Za-z0-9_-]`, no leading/trailing `_`, short) is used as is, so
common ids (`video123`, `clip3.mp4` → `clip3`) keep their plain keys. Any other name is sanitised
and gets `-` + a short hash of the name itself, so `sub/x` and `sub_x`, or two names in another
script that both sanitise to `_`, stay apart. The key is a pure function of the name: the same
manifest gives the same keys on every run, which resume and byte-identical shards rely on.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from avtpretrain.contract.format import sanitize_key

# A ustar header holds 100 bytes of member name and a key has no slash to split at:
# key + "." + the longest extension (4, e.g. "json", "mpeg") must stay under that.
MAX_KEY_CHARS = 80
_DIGEST_CHARS = 10  # 40 bits: a chance collision is caught by read_manifest, not trusted away


def digest(text: str) -> str:
    # surrogatepass: a name decoded from odd bytes still hashes instead of raising.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]


def hashed_key(name: str, hashed: str | None = None) -> str:
    """`name` sanitised and cut to fit, then `-` + the digest of `hashed` (default: `name`)."""
    clean = sanitize_key(name)
    base = "" if clean == "_" else clean[: MAX_KEY_CHARS - _DIGEST_CHARS - 1].rstrip("_-")
    tag = digest(name if hashed is None else hashed)
    return f"{base}-{tag}" if base else tag


def name_key(name: str) -> str:
    """The key of a clip name or key column: `name` itself when it is already a valid key."""
    clean = sanitize_key(name)
    return clean if clean == name and len(clean) <= MAX_KEY_CHARS else hashed_key(name)


def path_key(relative_path: str) -> str:
    """The key of a source file: its path without the last extension, as `name_key` gives it."""
    last = PurePosixPath(relative_path).name
    stem = relative_path.rsplit(".", 1)[0] if "." in last else relative_path
    return name_key(stem)
