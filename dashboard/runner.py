"""Run blocking work off the Bokeh event loop and hand the answer back to the session's document.

Every place in the dashboard that does I/O or CPU work for the page (a search, thumbnails, a
preview, the newest day with data, opening a backend, availability counts) goes through one
:class:`BackgroundRunner` per session, in a :class:`Lane` of its own. A lane drops answers that
became stale while they were computed: a newer request in the same lane (``supersede=True``)
or :meth:`Lane.reset` (new results, a closed preview, a cancelled search) makes every answer
still in flight go unused.

With the defaults (``executor`` and ``dispatch`` call at once) everything runs synchronously,
which is what the headless tests use; the app plugs in a thread pool and the document's
next-tick callback. No Panel here: ``dispatch`` is any callable that runs a function "on the
loop".
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

Runner = Callable[[Callable[[], None]], None]
T = TypeVar("T")

_log = logging.getLogger(__name__)


def call_now(fn: Callable[[], None]) -> None:
    """The synchronous runner: run ``fn`` at once, in this thread."""
    fn()


class BackgroundRunner:
    """One session's executor (off the loop) and dispatcher (back onto the loop).

    Attributes:
        executor: runs work off the event loop (default: at once).
        dispatch: runs a function on the session's event loop (default: at once).
        search_executor: a separate, bounded pool for searches (None: ``executor``); with many
            sessions searching at once, CPU-bound threads sharing the GIL all finish late.
    """

    def __init__(
        self, executor: Runner = call_now, dispatch: Runner = call_now, search_executor: Runner | None = None
    ) -> None:
        self.executor = executor
        self.dispatch = dispatch
        self.search_executor = search_executor

    def lane(self, *, supersede: bool = True) -> Lane:
        """A new lane of work whose stale answers are dropped (see :class:`Lane`)."""
        return Lane(self, supersede=supersede)

    def run_off_loop(self, fn: Callable[[], None], *, pool: str = "work") -> None:
        """Run ``fn`` through the executor of ``pool`` ("work" or "search")."""
        executor = self.search_executor if pool == "search" and self.search_executor is not None else self.executor
        executor(fn)


class Lane:
    """A sequence of requests of one kind (e.g. "the preview of the selected product").

    Each :meth:`submit` gets a generation number; an answer is delivered only while its
    generation is current. With ``supersede=True`` a new submit makes older answers stale (one
    preview at a time); with ``supersede=False`` answers stay current until :meth:`reset`
    (thumbnails of several pages loading at once for one result).
    """

    def __init__(self, runner: BackgroundRunner, *, supersede: bool = True) -> None:
        self._runner = runner
        self._supersede = supersede
        self._generation = 0
        self._valid_from = 0

    @property
    def runner(self) -> BackgroundRunner:
        return self._runner

    def reset(self) -> None:
        """Drop every answer still in flight in this lane."""
        self._generation += 1
        self._valid_from = self._generation

    def begin(self) -> int:
        """Start a request: its generation number (for :meth:`post` and :meth:`current`)."""
        self._generation += 1
        if self._supersede:
            self._valid_from = self._generation
        return self._generation

    def current(self, generation: int) -> bool:
        """Whether answers of ``generation`` are still wanted."""
        return generation >= self._valid_from and generation <= self._generation

    def post(self, generation: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop (from any thread) unless ``generation`` is stale by then."""

        def deliver() -> None:
            if self.current(generation):
                fn()

        self._runner.dispatch(deliver)

    def submit(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        failed: Callable[[BaseException], None] | None = None,
        *,
        pool: str = "work",
        generation: int | None = None,
        discard: Callable[[T], None] | None = None,
    ) -> int:
        """Run ``work()`` off the loop; then ``done(answer)`` (or ``failed(exc)``) on the loop, if current.

        Args:
            work: the blocking part; it must not touch Panel or param objects of the page.
            done: receives the answer on the loop.
            failed: receives an exception raised by ``work`` (default: logged and dropped, so a
                failure never reaches the page as a traceback).
            pool: "work" (the session's executor) or "search" (the bounded search pool).
            generation: from :meth:`begin`, when the caller needed it before submitting.
            discard: receives an answer that arrived stale (e.g. to close a backend nobody uses).

        Returns:
            The request's generation.
        """
        ticket = self.begin() if generation is None else generation

        def run() -> None:
            try:
                answer = work()
            except BaseException as exc:  # every failure is handed to the loop, never raised in a thread
                failure = exc
                if failed is not None:
                    self.post(ticket, lambda: failed(failure))
                else:
                    _log.warning("background work failed: %s", failure, exc_info=failure)
                return
            try:
                self._runner.dispatch(lambda: deliver(answer))
            except Exception:  # an executor's thread swallows it: say so rather than lose the answer quietly
                _log.exception("could not hand an answer back to the event loop")

        def deliver(answer: T) -> None:
            if self.current(ticket):
                done(answer)
            elif discard is not None:
                discard(answer)

        self._runner.run_off_loop(run, pool=pool)
        return ticket


class DaemonPool:
    """``workers`` daemon threads that run submitted functions first come first served.

    Not ``concurrent.futures.ThreadPoolExecutor``: the interpreter joins its threads at exit, so a
    search waiting for a database that had gone held a stopping dashboard process for the whole
    pool timeout (30 s), and the deployment's ``down`` had to SIGKILL it. A page's search answer is
    of no use once the server stops, so nothing is lost by not waiting for it. Threads start on
    the first submit (importing the dashboard starts none).
    """

    def __init__(self, workers: int, name: str) -> None:
        self._workers = workers
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        if not self._started:
            self._start()
        self._queue.put(fn)

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            for i in range(self._workers):
                threading.Thread(target=self._work, daemon=True, name=f"{self._name}_{i}").start()
            self._started = True

    def _work(self) -> None:
        while True:
            fn = self._queue.get()
            try:
                fn()
            except BaseException:  # a worker that died would shrink the pool for every session
                _log.exception("background work raised")


def thread_executor(name: str) -> Runner:
    """An executor that runs each piece of work in its own daemon thread called ``name``."""

    def executor(fn: Callable[[], None]) -> None:
        threading.Thread(target=fn, daemon=True, name=name).start()

    return executor


thread_runner = thread_executor("dashboard-work")
