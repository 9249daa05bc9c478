"""Per-worker counts of what a stream read and skipped, and the stop when nothing is readable."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

log = logging.getLogger(__name__)


class StreamStarvedError(RuntimeError):
    """Too many unreadable samples or shards in a row: the data, not bad luck."""


class Counters:
    """What a worker read and skipped; stops the stream when nothing readable is left.

    Unreadable shard data (webdataset's handler) and undecodable samples are counted in a row
    separately: a readable raw sample ends the first run (even one the resume fast-forward or the
    shuffle buffer's fill never decodes), only a decoded one ends the second.
    """

    def __init__(self, shards: str = "", limit: int | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self.shards, self.limit = shards, limit
        self.in_a_row = {"raw": 0, "decoded": 0}

    def handler(self, exn: Exception) -> bool:
        """webdataset's handler hook: count a broken tar or member and keep going."""
        log.warning("skipping unreadable shard data: %s", exn)
        self.skipped(type(exn).__name__, "raw")
        return True

    def skipped(self, reason: str, stage: str = "decoded") -> None:
        self.counts[f"skipped/{reason}"] += 1
        self.in_a_row[stage] += 1
        if self.limit is not None and self.in_a_row[stage] >= self.limit:
            reasons = ", ".join(
                f"{k.removeprefix('skipped/')}: {v}"
                for k, v in self.counts.most_common()
                if k.startswith("skipped/")
            )
            raise StreamStarvedError(
                f"{self.shards}: {self.in_a_row[stage]} samples or shards in a row could not be "
                f"read ({reasons}); fix or remove the broken shards (data.max_consecutive_skips "
                f"sets this limit)"
            )

    def read_one(self, stage: str = "decoded") -> None:
        self.in_a_row[stage] = 0

    def readable(self, samples: Iterator[dict]) -> Iterator[dict]:
        """Pass raw samples through, each one ending a run of unreadable shard data."""
        for sample in samples:
            self.read_one("raw")
            yield sample
