"""A process pool that turns a dead worker into an error, never a hang.

`multiprocessing.Pool` waits forever for a task whose worker was killed (OOM killer, `kill -9`, a
crash in native code). `concurrent.futures.ProcessPoolExecutor` notices a vanished process and
fails every pending future with `BrokenProcessPool`; `imap_ordered` turns that into `WorkerDied`,
an error the CLI prints as one line, and keeps a bounded window of tasks in flight so memory stays
flat however slowly the consumer runs.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

from .errors import AVSBRobustError

T = TypeVar("T")
R = TypeVar("R")


class WorkerDied(AVSBRobustError):
    """A worker process vanished (killed, out of memory, crashed): the run stops, nothing is written."""


def default_context() -> str:
    # fork where it is safe (Linux): no re-import of the caller's script, so library calls work from
    # any script or notebook without a __main__ guard.
    return "fork" if sys.platform.startswith("linux") else "spawn"


@contextlib.contextmanager
def _environ(env: "Mapping[str, str] | None") -> Iterator[None]:
    """Set `env` while the pool lives, so spawned workers start with it (e.g. one BLAS thread)."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def imap_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int, *, window: int = 0,
                 context: "str | None" = None, initializer: "Callable[[], None] | None" = None,
                 env: "Mapping[str, str] | None" = None, what: str = "task") -> Iterator[R]:
    """`fn` over `items` in `workers` processes, results in input order, at most `window` in flight.

    A worker that dies raises `WorkerDied` naming the `what` it was on; an exception raised by `fn`
    itself propagates unchanged. Leaving the loop early cancels whatever is still queued.
    """
    window = max(1, window or workers * 4)
    with _environ(env):
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(context or default_context()),
                                   initializer=initializer)
        finished = False
        try:
            pending: deque = deque()
            it = iter(items)
            for item in it:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    break
            done = 0
            while pending:
                future = pending.popleft()
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise WorkerDied(
                        f"a worker process died (killed by a signal, out of memory or crashed) during {what} "
                        f"{done + 1}; nothing was written. Rerun, with fewer --workers if memory is short") from None
                done += 1
                for nxt in it:
                    pending.append(pool.submit(fn, nxt))
                    break
                yield result
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:
                _abandon(pool)


def _abandon(pool: ProcessPoolExecutor) -> None:
    """Stop a pool we are leaving on an error or an early exit, without waiting on its bookkeeping: a
    graceful shutdown can wait for ever on a task that never reached a worker (e.g. one that did not pickle)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
