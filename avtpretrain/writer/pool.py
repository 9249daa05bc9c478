"""Writing shard groups: inline, or in forked worker processes with one shared progress count."""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from tqdm import tqdm

from avtpretrain.writer import shardwriter as sw
from avtpretrain.writer.build import BuildSettings
from avtpretrain.writer.manifest import SourceSample

_COUNTER: Any = None  # a worker process's shared progress counter, set by its initializer
_PARENT = 0


def _init_worker(counter: Any) -> None:
    global _COUNTER, _PARENT
    _COUNTER, _PARENT = counter, os.getppid()
    # A worker must not outlive a killed parent: a rerun would rebuild the same group beside it.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _tick() -> None:
    if os.getppid() != _PARENT:  # orphaned before the death signal could be set
        os._exit(1)
    with _COUNTER.get_lock():
        _COUNTER.value += 1


def _run_group(spec: sw.GroupSpec, sources: list[SourceSample], settings: BuildSettings) -> dict:
    return sw.write_group(spec, sources, settings, on_sample=_tick)


def run_groups(
    todo: list[tuple[sw.GroupSpec, list[SourceSample]]],
    settings: BuildSettings,
    workers: int,
    max_errors: int | None,
    errors_before: int,
) -> tuple[list[dict], bool]:
    """Write the groups; returns (records, whether it stopped early for too many errors)."""
    total = sum(len(sources) for _, sources in todo)
    # The pool forks before the progress bar starts its monitor thread: forking a process that
    # has threads is unsafe, and fork (unlike spawn) costs the workers no start-up imports.
    pool = _Pool(todo, settings, workers) if workers > 1 else None
    records, errors = [], errors_before
    with tqdm(total=total, desc="samples", unit="sample", smoothing=0.1) as bar:
        results = pool.records(bar) if pool else _inline(todo, settings, bar)
        try:
            for record in results:
                records.append(record)
                errors += len(record["errors"])
                if max_errors is not None and errors > max_errors:
                    return records, True
        finally:
            if pool:
                pool.close(bar)
    return records, False


def _inline(todo, settings: BuildSettings, bar: tqdm):
    for spec, sources in todo:
        yield sw.write_group(spec, sources, settings, on_sample=lambda: bar.update(1))


class _Pool:
    """Worker processes writing whole groups, with a shared per-sample progress counter."""

    def __init__(self, todo, settings: BuildSettings, workers: int) -> None:
        ctx = mp.get_context("fork")
        self.counter = ctx.Value("q", 0)
        self.executor = ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.counter,),
        )
        self.pending = {self.executor.submit(_run_group, s, src, settings) for s, src in todo}

    def records(self, bar: tqdm):
        """Done-records in the order groups finish."""
        while self.pending:
            done, self.pending = wait(self.pending, timeout=0.5, return_when=FIRST_COMPLETED)
            bar.update(self.counter.value - bar.n)
            for future in done:
                yield future.result()

    def close(self, bar: tqdm) -> None:
        # Reached early on --max_errors or an exception: drop queued groups, finish running ones.
        self.executor.shutdown(wait=True, cancel_futures=True)
        bar.update(self.counter.value - bar.n)
