"""Where searches run: threads, or worker processes that a cancel and a deadline reach.

The GIL makes CPU-bound searches in threads compete with the IO loop, so by default each search
runs in a worker process that opened the catalog itself, by its specification
(``open_backend(spec, readonly=True)``: any engine with the :class:`SearchBodies` ability), and a
large search is split by start time across the workers.

Stopping the work, not just the answer: every search in the processes holds a *slot*, one byte of
shared memory that the server sets on a cancel (DELETE, the synchronous client going away, the
server stopping) or at the deadline. In the worker the catalog's own stop check reads that byte
through a :class:`SlotCancelToken` (every 4,096 rows), and a watcher thread reads it every 5 ms and
interrupts the search at once (``_thread.interrupt_main``), so a search stops within milliseconds
whatever one row costs; a part still queued finds its slot set and returns without starting. An
interrupted worker opens its catalog again, so nothing half-built in it is reused.
"""

from __future__ import annotations

import _thread
import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ..backends.base import SearchBodies
from ..errors import AuroraXCoreError, SearchCancelled, SearchTimeout
from ..events import CancelToken
from ..query import DataProductQuery
from ..results import SearchBody
from . import spill as spill_files

logger = logging.getLogger("aurorax_core.server")

WATCH_INTERVAL: Final = 0.005
PARTS_IN_FLIGHT_PER_WORKER: Final = 8
BIG_SEARCH_PARTS: Final = 16  # a search that splits this finely (>= 64,000 records) is large


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a search ended: ``body`` when it succeeded, else ``failure`` (the reason, for the log and
    the error answer), ``cancelled``, or ``too_large`` = (records, bytes) over the result limit."""

    body: SearchBody | None = None
    failure: str | None = None
    cancelled: bool = False
    too_large: tuple[int, int] | None = None
    partial: bool = False  # too_large counted one part of a split search only


def too_large_message(count: int, size: int, limit: int, partial: bool = False) -> str:
    """The one refusal of a result over the server's result memory, on every route."""
    records = f"at least {count} records" if partial else f"{count} records"
    return (
        f"the result has {records} ({size:,} bytes), more than this server keeps ({limit:,} bytes); "
        "narrow the time range or the data sources"
    )


def timeout_message(timeout: float) -> str:
    return (
        f"the search did not complete within {timeout:g} s; narrow the query (fewer sources or a shorter "
        "time range) or allow a longer timeout"
    )


# --- in a worker process ----------------------------------------------------------------------


class SlotCancelToken(CancelToken):
    """A cancel token whose flag is one byte of memory shared with the server process."""

    def __init__(self, flags: Any, slot: int) -> None:
        super().__init__()
        self._flags = flags
        self._slot = slot

    def cancel(self) -> None:
        self._flags[self._slot] = 1
        super().cancel()

    @property
    def cancelled(self) -> bool:
        return bool(self._flags[self._slot]) or super().cancelled

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise SearchCancelled("the search was cancelled")


class _Interrupted(BaseException):
    """Raised in a worker's main thread by its watcher (BaseException: no ``except Exception``
    inside the catalog swallows it)."""


class _Worker:
    """One worker process's catalog, cancel flags and watcher."""

    def __init__(self, spec: str, prefix: str | None, flags: Any) -> None:
        self.spec = spec
        self.prefix = prefix
        self.flags = flags
        self.backend = _open(spec)
        self.slot = -1
        self.deadline = 0.0
        self.busy = threading.Event()
        self.interrupted = False
        signal.signal(signal.SIGUSR1, self._on_interrupt)
        threading.Thread(target=self._watch, name="aurorax-search-watch", daemon=True).start()
        threading.Thread(target=_exit_with_parent, name="aurorax-parent-watch", daemon=True).start()

    def _on_interrupt(self, _signum: int, _frame: Any) -> None:
        if self.busy.is_set() and not self.interrupted:
            self.interrupted = True
            raise _Interrupted

    def _watch(self) -> None:
        while True:
            self.busy.wait()
            time.sleep(WATCH_INTERVAL)
            slot, deadline = self.slot, self.deadline
            if self.busy.is_set() and slot >= 0 and (self.flags[slot] or time.monotonic() > deadline):
                _thread.interrupt_main(signal.SIGUSR1)
                time.sleep(0.05)  # one interrupt per search is enough

    def search(
        self, payload: dict[str, Any], slot: int, deadline: float, timeout: float, starting: Any, max_bytes: int
    ) -> tuple[str, Any, str | None]:
        if self.flags[slot]:
            return "cancelled", None, None  # a queued part of a cancelled search: dropped
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "error", f"Search failed: {timeout_message(timeout)}", None
        query = DataProductQuery.from_api_payload(payload)
        token = SlotCancelToken(self.flags, slot)
        self.slot, self.deadline, self.interrupted = slot, deadline, False
        self.busy.set()
        try:
            result = self.backend.search_body(query, cancel=token, timeout=remaining, starting=starting)
        except (SearchCancelled, _Interrupted, SearchTimeout) as exc:
            if isinstance(exc, _Interrupted):
                self._reopen()
            # the server sets the slot at the deadline too: past it, this is a timeout
            if self.flags[slot] and time.monotonic() < deadline:
                return "cancelled", None, None
            return "error", f"Search failed: {timeout_message(timeout)}", None
        finally:
            self.busy.clear()
            self.slot = -1
        if len(result.body) > max_bytes:
            return "too_large", (result.count, len(result.body)), None
        result, path = spill_files.spill(result, self.prefix)
        return "ok", result, path

    def _reopen(self) -> None:
        # an exception from the watcher may have landed anywhere inside the catalog's code
        with suppress(Exception):
            self.backend.close()
        self.backend = _open(self.spec)


def _open(spec: str) -> Any:
    from ..backends.registry import open_backend

    backend = open_backend(spec, readonly=True)
    if not isinstance(backend, SearchBodies):
        raise AuroraXCoreError(f"{spec}: this backend cannot serve searches (it lacks the SearchBodies ability)")
    return backend


def _exit_with_parent() -> None:
    """End this worker when the server process is gone. A worker holds its own end of the pool's
    queues, so it never sees them close: after a kill -9 of ``aurorax-core serve`` its workers lived
    on for good, each with the catalog open."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(0)


_worker: _Worker | None = None


_started: Any = None


def process_init(spec: str, prefix: str | None, flags: Any, started: Any) -> None:
    """Initializer of each worker process."""
    global _worker, _started
    # Ctrl+C in a terminal reaches the whole process group: the server shuts the workers down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = _Worker(spec, prefix, flags)
    _started = started


def process_ping(processes: int) -> bool:
    """Held until ``processes`` workers run a ping at once: so every worker has started (and
    ignores Ctrl+C) before the server takes its first request."""
    with _started.get_lock():
        _started.value += 1
    ends = time.monotonic() + 60
    while _started.value < processes and time.monotonic() < ends:
        time.sleep(0.005)
    return _worker is not None


def process_search(
    payload: dict[str, Any],
    slot: int,
    deadline: float,
    timeout: float,
    starting: tuple[datetime, datetime] | None,
    max_bytes: int,
) -> tuple[str, Any, str | None]:
    """In a worker: ("ok", SearchBody, the file holding its body or None), ("error", message, None),
    ("cancelled", None, None) or ("too_large", (count, size), None); never raises."""
    assert _worker is not None
    try:
        return _worker.search(payload, slot, deadline, timeout, starting, max_bytes)
    except _Interrupted:  # landed just after the search ended: the search is over either way
        if _worker.flags[slot] and time.monotonic() < deadline:
            return "cancelled", None, None
        return "error", f"Search failed: {timeout_message(timeout)}", None
    except AuroraXCoreError as exc:
        return "error", f"Search failed: {exc}", None
    except Exception as exc:  # reported in the request's log; the process stays usable
        return "error", f"Search failed with an internal error ({type(exc).__name__}: {exc})", None


# --- in the server ----------------------------------------------------------------------------


class ThreadSearcher:
    """Searches in a bounded thread pool, over the server's own catalog object."""

    def __init__(self, catalog: SearchBodies, workers: int) -> None:
        self.catalog = catalog
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aurorax-search")

    async def run(
        self, query: DataProductQuery, cancel: CancelToken, deadline: float, timeout: float, max_bytes: int
    ) -> Outcome:
        def work() -> Outcome:
            if cancel.cancelled:
                return Outcome(cancelled=True)
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise SearchTimeout(timeout_message(timeout))
                body = self.catalog.search_body(query, cancel=cancel, timeout=remaining)
            except SearchCancelled:
                return Outcome(cancelled=True)
            except SearchTimeout:
                return Outcome(failure=timeout_message(timeout))
            except AuroraXCoreError as exc:
                return Outcome(failure=str(exc))
            if len(body.body) > max_bytes:
                return Outcome(too_large=(body.count, len(body.body)))
            return Outcome(body=body)

        return await asyncio.get_running_loop().run_in_executor(self.pool, work)


class ProcessSearcher:
    """Searches in worker processes, each part stoppable through its search's slot."""

    def __init__(
        self, spec: str, processes: int, slots: int, read_pool: ThreadPoolExecutor, catalog: SearchBodies
    ) -> None:
        ctx = multiprocessing.get_context("spawn")  # the parent may already run threads
        self.spec = spec
        self.processes = processes
        self.catalog = catalog
        self.read_pool = read_pool
        self.prefix = spill_files.spill_prefix()
        self.flags = ctx.RawArray("b", slots)
        self._free = list(range(slots))
        self._ctx = ctx
        self._slot_ready: asyncio.Condition | None = None
        self._busy = 0
        self._busy_large = 0
        self._light: deque[asyncio.Future[bool]] = deque()
        self._large: deque[asyncio.Future[bool]] = deque()
        self._waiting: dict[int, list[asyncio.Future[bool]]] = {}
        self.pool = self._new_pool()
        for future in [self.pool.submit(process_ping, processes) for _ in range(processes)]:
            future.result(timeout=120)  # start and warm every worker before the first request

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=self._ctx,
            initializer=process_init,
            initargs=(self.spec, self.prefix, self.flags, self._ctx.Value("i", 0)),
        )

    def _replace_broken(self, broken: ProcessPoolExecutor) -> None:
        """Start new processes in place of ``broken``, once: a worker that died (killed, out of
        memory) leaves its pool unusable, which would fail every later search."""
        if self.pool is not broken:
            return
        self.pool = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)
        logger.warning("a search process stopped abruptly; started new search processes")

    async def _slot(self) -> int:
        if self._slot_ready is None:
            self._slot_ready = asyncio.Condition()
        async with self._slot_ready:
            await self._slot_ready.wait_for(lambda: bool(self._free))
            slot = self._free.pop()
        self.flags[slot] = 0
        return slot

    async def _release(self, slot: int) -> None:
        assert self._slot_ready is not None
        async with self._slot_ready:
            self._free.append(slot)
            self._slot_ready.notify()

    async def run(
        self, query: DataProductQuery, cancel: CancelToken, deadline: float, timeout: float, max_bytes: int
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        ranges: list[Any] = [None]
        if self.processes > 1:
            try:
                found = await loop.run_in_executor(self.read_pool, self.catalog.start_ranges, query, self.processes)
            except (AuroraXCoreError, RuntimeError):
                found = []  # the workers report a catalog error themselves; RuntimeError: shutting down
            if len(found) > 1:
                ranges = list(found)
        # A large search never holds every worker, so one-night searches always find one free (a
        # heavy query delays them by no more than one worker's share). Large: split, and either
        # filtered by metadata (the costly rows) or estimated at BIG_SEARCH_PARTS x 4,000 records
        # or more. A modest split (a program's month, ~20,000 records, ~20 ms a part) runs on all
        # workers at once: capped too, its parts ran one after the other (39 -> 68 ms).
        large = len(ranges) > 1
        if large and not query.metadata_filters:
            try:
                finer = await loop.run_in_executor(self.read_pool, self.catalog.start_ranges, query, BIG_SEARCH_PARTS)
            except (AuroraXCoreError, RuntimeError):
                finer = []
            large = len(finer) >= BIG_SEARCH_PARTS
        payload = query.to_api_payload()
        outcome = await self._run_parts(payload, ranges, cancel, deadline, timeout, max_bytes, large)
        if outcome is None:  # the parts saw different catalogs: once more, whole
            outcome = await self._run_parts(payload, [None], cancel, deadline, timeout, max_bytes, large)
        return outcome or Outcome(failure="the catalog changed during the search; run it again")

    async def _run_parts(
        self,
        payload: dict[str, Any],
        ranges: list[Any],
        cancel: CancelToken,
        deadline: float,
        timeout: float,
        max_bytes: int,
        large: bool,
    ) -> Outcome | None:
        loop = asyncio.get_running_loop()
        slot = await self._slot()
        flags = self.flags

        def stop() -> None:
            flags[slot] = 1
            # parts still waiting for a worker give up at once (stop may run on any thread)
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(self._drop, slot)

        unlink = _on_cancel(cancel, stop)
        late = loop.call_later(max(0.0, deadline - time.monotonic()), stop)
        pool = self.pool
        try:
            try:
                outcomes: list[Any] = await asyncio.gather(
                    *(
                        self._dispatch(large, slot, pool, payload, slot, deadline, timeout, starting, max_bytes)
                        for starting in ranges
                    ),
                    return_exceptions=True,
                )
            except Exception as exc:  # the pool broke or shut down before the parts were queued
                outcomes = [exc]
        finally:
            late.cancel()
            unlink()
            self._waiting.pop(slot, None)
            await self._release(slot)
        if any(isinstance(o, BrokenProcessPool) for o in outcomes):
            self._replace_broken(pool)
        try:
            # reading back and joining ~13 MB takes a few ms: not on the IO loop
            return await loop.run_in_executor(self.read_pool, _collect, outcomes, max_bytes, len(ranges) > 1)
        except RuntimeError:  # shutting down: still remove the files
            return _collect(outcomes, max_bytes, len(ranges) > 1)

    def _grant(self) -> None:
        """Give free workers to waiting parts: small searches first, large ones while they hold
        fewer than all workers (so a one-night search always finds one not running a large part)."""
        # Several parts per worker in flight, so that a worker finishing a ~2 ms one-night search
        # finds the next one queued even while the IO loop is busy answering 50 clients: with two,
        # the workers waited for the loop and the default server did 455 searches/s against 511
        # with eight (bench server_load --quick, same run). Cancelled parts still never run (the
        # worker drops a part whose slot is set), and large parts stay limited below.
        while self._busy < PARTS_IN_FLIGHT_PER_WORKER * self.processes:
            if self._light:
                waiter, large = self._light.popleft(), False
            elif self._large and self._busy_large < max(1, self.processes - 1):
                waiter, large = self._large.popleft(), True
            else:
                return
            if waiter.done():  # dropped (its search was cancelled)
                continue
            self._busy += 1
            self._busy_large += large
            waiter.set_result(True)

    def _drop(self, slot: int) -> None:
        """The parts of a cancelled search that still wait for a worker give up now."""
        for waiter in self._waiting.pop(slot, []):
            if not waiter.done():
                waiter.set_result(False)

    async def _dispatch(self, large: bool, slot: int, pool: ProcessPoolExecutor, *args: Any) -> Any:
        """Run one part in a worker as soon as one may take it: parts wait here, not in the pool's
        queue, so a cancelled search's waiting parts never start and small searches go first."""
        loop = asyncio.get_running_loop()
        if self.flags[slot]:
            return "cancelled", None, None
        waiter: asyncio.Future[bool] = loop.create_future()
        (self._large if large else self._light).append(waiter)
        self._waiting.setdefault(slot, []).append(waiter)
        self._grant()
        if not await waiter:
            return "cancelled", None, None
        try:
            return await loop.run_in_executor(pool, process_search, *args)
        finally:
            self._busy -= 1
            self._busy_large -= large
            self._grant()

    def stop_all(self) -> None:
        """Set every slot: each running search stops within milliseconds, queued parts are dropped."""
        for slot in range(len(self.flags)):
            self.flags[slot] = 1

    def close(self, wait: float = 1.0) -> None:
        """Stop every search and end the worker processes within ``wait`` seconds (killed after)."""
        self.stop_all()
        pool = self.pool
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        ends = time.monotonic() + wait
        for process in processes:
            process.join(max(0.0, ends - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(1.0)
        spill_files.remove_leftovers(self.prefix)


def _on_cancel(token: CancelToken, callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` when ``token`` is cancelled (now, if it already is); returns an unlink."""
    if isinstance(token, LinkedCancelToken):
        return token.link(callback)
    if token.cancelled:
        callback()
    return lambda: None


class LinkedCancelToken(CancelToken):
    """A cancel token that also runs callbacks when cancelled (sets a worker slot's flag)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
            super().cancel()
        for callback in callbacks:
            callback()

    def link(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            if not self.cancelled:
                self._callbacks.append(callback)

                def unlink() -> None:
                    with self._lock, suppress(ValueError):
                        self._callbacks.remove(callback)

                return unlink
        callback()
        return lambda: None


def _collect(outcomes: list[Any], max_bytes: int, split: bool) -> Outcome | None:
    """The parts' outcomes joined; None when the parts wrote a source differently (the catalog
    changed between them). Every body a worker left in a file is removed, whatever happened."""
    failure: str | None = None
    cancelled = False
    too_large: tuple[int, int] | None = None
    oks: list[tuple[SearchBody, str | None]] = []
    for outcome in outcomes:
        if isinstance(outcome, BrokenProcessPool):
            failure = failure or (
                "a search process stopped abruptly (killed, or out of memory); the server started new ones: "
                "run the search again"
            )
        elif isinstance(outcome, BaseException):
            failure = failure or f"the search worker stopped ({type(outcome).__name__}: {outcome})"
        else:
            kind, value, path = outcome
            if kind == "ok":
                oks.append((value, path))
            elif kind == "cancelled":
                cancelled = True
            elif kind == "too_large":
                too_large = too_large or value
            else:
                failure = failure or str(value).removeprefix("Search failed: ")
    size = sum(spill_files.spilled_size(body, path) for body, path in oks)
    if too_large is None and failure is None and not cancelled and size > max_bytes:
        too_large = (sum(body.count for body, _ in oks), size)
    if cancelled or failure is not None or too_large is not None:
        for _, path in oks:
            spill_files.discard(path)
        if too_large is not None:
            return Outcome(too_large=too_large, partial=split)
        return Outcome(cancelled=cancelled and failure is None, failure=failure)
    try:
        parts = [spill_files.take_spilled(body, path) for body, path in oks]
    except OSError as exc:
        for _, path in oks:
            spill_files.discard(path)
        return Outcome(failure=f"its result could not be read back ({exc})")
    joined = SearchBody.concat(parts)
    return None if joined is None else Outcome(body=joined)
