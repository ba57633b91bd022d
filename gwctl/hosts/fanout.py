"""Doing one thing per host for many hosts at once: threads, and processes when it pays.

Talking WinRM is mostly waiting (threads overlap that) and partly pure-Python CPU work in
pywinrm, requests and NTLM sealing -- measured at ~25 ms per host, which the GIL keeps on
one core. For large fleets on POSIX the hosts are therefore shared between forked worker
processes, each running its own threads. Forking hands the workers everything already
loaded (fleet, inventory, resolved secrets) without pickling it; only each host's result
travels back, so results must be picklable.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")

#: below this many hosts, threads in one process are fast enough and start at once
PROCESS_THRESHOLD = 64

#: the job a forked worker inherits (set only around the fork)
_JOB: tuple[Callable[[int], Any], int] | None = None


def process_count(count: int, workers: int) -> int:
    """One process unless there are many hosts, forking is available, and concurrency was
    asked for (``--workers 1`` means one host at a time)."""
    if count < PROCESS_THRESHOLD or workers < 4 or os.name != "posix" \
            or sys.platform == "darwin":
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def fan_out(fn: Callable[[int], R], count: int, *, workers: int,
            progress: Callable[[R], None] | None = None) -> list[R]:
    """``[fn(0), ..., fn(count - 1)]``, computed concurrently, in order."""
    if count == 0:
        return []
    processes = process_count(count, workers)
    if processes == 1:
        return _threads(fn, list(range(count)), workers, progress)
    global _JOB
    _JOB = (fn, max(1, workers // processes))
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
            parts = list(pool.map(_run_part, [list(range(p, count, processes))
                                              for p in range(processes)]))
    finally:
        _JOB = None
    results: list[Any] = [None] * count
    for p, part in enumerate(parts):
        for k, result in enumerate(part):
            results[p + k * processes] = result
            if progress:
                progress(result)
    return results


def _threads(fn: Callable[[int], R], indices: list[int], workers: int,
             progress: Callable[[R], None] | None) -> list[R]:
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(indices))),
                            thread_name_prefix="gwctl-host") as pool:
        results = []
        for result in pool.map(fn, indices):
            if progress:
                progress(result)
            results.append(result)
    return results


def _run_part(indices: list[int]) -> list[Any]:
    assert _JOB is not None, "only called in a forked worker"
    fn, workers = _JOB
    return _threads(fn, indices, workers, None)
