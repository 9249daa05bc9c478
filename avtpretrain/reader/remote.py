"""Shards behind URLs: `http(s)://`, `s3://`, `gs://` through fsspec (object-store clients are the
optional extras `s3fs` / `gcsfs`), brace patterns, shard-list files, and reading with retries.

Only URLs the user wrote (in the recipe, or in a shard-list file the recipe names) are opened, and
only through fsspec: a `pipe:` URL, which webdataset would run as a shell command, is refused
everywhere, and `sizes.json` beside the shards only gives counts for the URLs already listed.
"""

from __future__ import annotations

import logging
import posixpath
import re
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import braceexpand

from avtpretrain.contract import format as fmt
from avtpretrain.reader.counters import Counters

log = logging.getLogger(__name__)
SCHEMES = ("http", "https", "s3", "gs", "gcs")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")


def is_url(spec: str) -> bool:
    """A spec with a scheme (`https://...`, `s3://...`, and the refused `pipe:`)."""
    match = _SCHEME.match(spec)
    return match is not None and len(match.group(1)) > 1  # not a Windows drive letter


def check_url(url: str, where: str) -> None:
    scheme = _SCHEME.match(url).group(1) if _SCHEME.match(url) else ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"{where}: {url!r}: only {', '.join(s + '://' for s in SCHEMES)} URLs are read "
            "(a pipe: command is never run)"
        )


def _read_text(url: str) -> str | None:
    import fsspec  # here, not at the top: the input checks import this module before --help

    try:
        with fsspec.open(url, "rt", encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def expand_url_spec(spec: str) -> tuple[list[str], list[int | None]]:
    """The shard URLs of one spec, with their sample counts where a sizes.json beside them (or
    the shard list) gives them."""
    if spec.endswith(".txt"):
        return read_shard_list(spec)
    urls = list(braceexpand.braceexpand(spec))
    for url in urls:
        check_url(url, spec)
    sizes = _sizes_beside(posixpath.dirname(urls[0]), spec)
    return urls, [sizes.get(posixpath.basename(u)) for u in urls]


def _sizes_beside(folder: str, spec: str) -> dict[str, int]:
    text = _read_text(f"{folder}/{fmt.SIZES_FILE}")
    if text is None:
        return {}
    return fmt.parse_sizes(text, f"{spec}: {folder}/{fmt.SIZES_FILE}")


def read_shard_list(spec: str) -> tuple[list[str], list[int | None]]:
    """A shard-list file (local or a URL): one shard URL per line, optionally a sample count
    after it; blank lines and `#` comments ignored; relative entries are beside the list."""
    text = _read_text(spec) if is_url(spec) else Path(spec).read_text(encoding="utf-8")
    if text is None:
        raise ValueError(f"{spec}: shard list not found")
    urls: list[str] = []
    sizes: list[int | None] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) > 2 or (len(fields) == 2 and not fields[1].isdigit()):
            raise ValueError(f"{spec}:{number}: expected `URL [sample count]`, got {line!r}")
        url = fields[0] if is_url(fields[0]) else posixpath.join(posixpath.dirname(spec), fields[0])
        if is_url(url):
            check_url(url, f"{spec}:{number}")
        urls.append(url)
        sizes.append(int(fields[1]) if len(fields) == 2 else None)
    if not urls:
        raise ValueError(f"{spec}: the shard list names no shards")
    return urls, sizes


@dataclass(frozen=True)
class Retry:
    attempts: int = 3  # after the first try
    backoff_s: float = 1.0  # doubled after each failed try


def shard_samples(url: str, retry: Retry, counters: Counters) -> Iterator[dict]:
    """The samples of one remote shard. A shard that fails to open or breaks mid-read is opened
    again (after a back-off) and read on past the samples already given; after `retry.attempts`
    retries it is skipped and counted (`skipped/shard_unreachable`)."""
    import fsspec
    import webdataset as wds

    given = 0
    for attempt in range(retry.attempts + 1):
        try:
            with fsspec.open(url, "rb") as stream:
                files = wds.tariterators.tar_file_expander([{"url": url, "stream": stream}])
                for i, sample in enumerate(wds.tariterators.group_by_keys(files)):
                    if i >= given:
                        given += 1
                        yield sample
            return
        except _transient() as err:
            if attempt == retry.attempts:
                log.warning("skipping shard %s after %d tries: %s", url, attempt + 1, err)
                counters.skipped("shard_unreachable", "raw")
                return
            counters.counts["retried/shard"] += 1
            log.warning("retrying shard %s (%s)", url, err)
            time.sleep(retry.backoff_s * 2**attempt)


def _transient() -> tuple[type[Exception], ...]:
    """What a network read can raise that a retry may cure: I/O, a cut tar, aiohttp's errors."""
    import aiohttp

    return (OSError, tarfile.TarError, EOFError, ValueError, aiohttp.ClientError)


def read_shards(urls: Iterator[dict], retry: Retry, counters: Counters) -> Iterator[dict]:
    """webdataset's tarfile_to_samples, with remote shards read through fsspec with retries:
    {"url": ...} items in, raw samples out."""
    import webdataset as wds

    for item in urls:
        if is_url(item["url"]):
            yield from shard_samples(item["url"], retry, counters)
        else:
            yield from wds.tarfile_to_samples(handler=counters.handler)([item])
