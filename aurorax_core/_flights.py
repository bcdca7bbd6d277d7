"""In-process coordination of preview work: one build per key at a time, failures remembered a while.

These are the service's caching policy within one process; sharing between processes is the disk
cache's job (:mod:`aurorax_core._thumbcache`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")
V = TypeVar("V")

_MAX_FAILURES_REMEMBERED: Final = 4096


class SingleFlight:
    """Per-key de-duplication: while one caller computes a key, other callers wait for its result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Future[Any]] = {}

    def run(self, key: str, fn: Callable[[], T]) -> T:
        with self._lock:
            future = self._calls.get(key)
            leader = future is None
            if future is None:
                future = Future()
                self._calls[key] = future
        if not leader:
            return future.result()
        try:
            result = fn()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._lock:
                self._calls.pop(key, None)


class FailureMemo(Generic[V]):
    """Failed results kept for ``ttl`` seconds, so a grid redrawn every few seconds does not hammer a
    failing server; bounded (forgotten all at once when full: failures are cheap to find again)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = max(0.0, float(ttl))
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._items[key]
                return None
            return item[1]

    def put(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= _MAX_FAILURES_REMEMBERED:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
