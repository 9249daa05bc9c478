"""Pretraining from shards served over HTTP (127.0.0.1): the same losses and validation numbers
as from the same shards on disk."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.run.conftest import losses, run_pretrain


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return None


@pytest.fixture
def served(corpus) -> Iterator[str]:
    root = Path(corpus["train"]).parent
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _pattern(folder: Path, base: str) -> str:
    names = sorted(p.name for p in folder.glob("*.tar"))
    prefix = names[0].rsplit("-", 1)[0]
    return f"'{base}/{folder.name}/{prefix}-{{000000..{len(names) - 1:06d}}}.tar'"


def test_pretraining_from_http_matches_pretraining_from_disk(corpus, served, tmp_path) -> None:
    steps = ["--max_steps", "3", "--save_steps", "100"]
    disk = run_pretrain(corpus, tmp_path / "disk", "zero2_fp32", *steps)
    urls = [
        "--set",
        f"data.train_shards=[{_pattern(Path(corpus['train']), served)}]",
        "--set",
        f"data.val_shards=[{_pattern(Path(corpus['val']), served)}]",
    ]
    remote = run_pretrain(corpus, tmp_path / "http", "zero2_fp32", *steps, *urls)
    assert losses(remote) == losses(disk)
    last = {k: v for r in remote for k, v in r.items() if k.startswith("val/")}
    assert last == {k: v for r in disk for k, v in r.items() if k.startswith("val/")}
