"""Shards behind URLs: the demo corpus served over HTTP from 127.0.0.1 reads into the same batches
as from disk, a connection dropped mid-shard is survived with a retry (counted), and only http(s),
s3 and gs URLs are ever opened."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from avtpretrain.dist import DistInfo
from avtpretrain.reader.counters import Counters
from avtpretrain.reader.loaders import eval_stream, train_stream
from avtpretrain.reader.remote import Retry, shard_samples
from avtpretrain.reader.shards import resolve_shards
from tests.reader.recipes import config
from tests.reader.test_stream import flatten, same


class _Handler(SimpleHTTPRequestHandler):
    drop_once: ClassVar[set[str]] = set()  # paths whose first response stops half way
    requests: ClassVar[list[str]] = []

    def copyfile(self, source, outputfile) -> None:
        self.requests.append(self.path)
        if self.path in self.drop_once:
            self.drop_once.discard(self.path)
            data = source.read()
            outputfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().copyfile(source, outputfile)

    def log_message(self, *args) -> None:  # quiet
        return None


@pytest.fixture
def server(corpus) -> Iterator[str]:
    shards, _ = corpus
    handler = functools.partial(_Handler, directory=str(shards))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    _Handler.drop_once.clear()
    _Handler.requests.clear()


def _pattern(corpus, base: str) -> str:
    names = sorted(p.name for p in Path(corpus[0]).glob("*.tar"))
    prefix = names[0].rsplit("-", 1)[0]
    return f"{base}/{prefix}-{{000000..{len(names) - 1:06d}}}.tar"


def _train(corpus, spec: str, *extra: str) -> list:
    cfg = config(corpus, "data.num_workers=0", f"data.train_shards=['{spec}']", *extra)
    s = train_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0)
    return flatten(list(s)), s


def test_http_shards_give_the_batches_disk_shards_give(corpus, server) -> None:
    disk, _ = _train(corpus, str(corpus[0]))
    remote, _ = _train(corpus, _pattern(corpus, server))
    assert same(remote, disk)
    assert resolve_shards([_pattern(corpus, server)]).total_samples == 13  # sizes.json beside
    cfg = config(corpus, "data.num_workers=0", f"data.val_shards=['{_pattern(corpus, server)}']")
    batches = eval_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0)
    keys = [k for b in batches for k in b["keys"]]
    assert sorted(keys) == sorted(f"clip{i}" for i in range(13))


def test_a_connection_dropped_mid_shard_is_retried_and_counted(corpus, server) -> None:
    disk, _ = _train(corpus, str(corpus[0]))
    first = sorted(p.name for p in Path(corpus[0]).glob("*.tar"))[0]
    _Handler.drop_once.add(f"/{first}")
    remote, stream = _train(corpus, _pattern(corpus, server), "data.shard_retry_backoff_s=0")
    assert same(remote, disk)
    assert stream.counters()["retried/shard"] >= 1
    assert _Handler.requests.count(f"/{first}") >= 2


def test_an_unreachable_shard_is_skipped_and_counted_after_its_retries(server) -> None:
    counters = Counters()
    samples = list(shard_samples(f"{server}/nowhere-000000.tar", Retry(2, 0.0), counters))
    assert samples == []
    assert counters.counts["retried/shard"] == 2
    assert counters.counts["skipped/shard_unreachable"] == 1


def test_only_urls_the_user_wrote_are_opened(tmp_path, server) -> None:
    with pytest.raises(ValueError, match="a pipe: command is never run"):
        resolve_shards(["pipe:curl -s http://example.com/a.tar"])
    listing = tmp_path / "shards.txt"
    listing.write_text(f"{server}/a-000000.tar 3\n# a comment\n\npipe:touch-x 2\n")
    with pytest.raises(ValueError, match=r"shards.txt:4: 'pipe:touch-x': only http"):
        resolve_shards([str(listing)])
    listing.write_text(f"{server}/a-000000.tar 3\nb-000001.tar\n")
    shards = resolve_shards([str(listing)])
    assert shards.urls == [f"{server}/a-000000.tar", str(tmp_path / "b-000001.tar")]
    assert shards.sizes == [3, None]
