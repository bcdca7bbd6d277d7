"""The background runner: answers come back on the loop, stale ones are dropped, failures are handed over."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from dashboard.runner import BackgroundRunner, DaemonPool

ROOT = Path(__file__).resolve().parents[2]


class _Loop:
    """A stand-in event loop: functions dispatched to it run when ``drain`` is called."""

    def __init__(self) -> None:
        self.queue: list[Callable[[], None]] = []

    def dispatch(self, fn: Callable[[], None]) -> None:
        self.queue.append(fn)

    def drain(self) -> None:
        while self.queue:
            self.queue.pop(0)()


def _threaded(loop: _Loop) -> tuple[BackgroundRunner, list[threading.Thread]]:
    threads: list[threading.Thread] = []

    def executor(fn: Callable[[], None]) -> None:
        threads.append(threading.Thread(target=fn))
        threads[-1].start()

    return BackgroundRunner(executor=executor, dispatch=loop.dispatch), threads


def test_work_runs_off_the_loop_and_the_answer_on_it() -> None:
    """The work runs in a worker thread; ``done`` runs where the loop runs its callbacks."""
    loop = _Loop()
    runner, threads = _threaded(loop)
    seen: dict[str, str] = {}
    runner.lane().submit(
        lambda: seen.setdefault("work", threading.current_thread().name),
        lambda answer: seen.setdefault("done", threading.current_thread().name),
    )
    for t in threads:
        t.join(5)
    assert "done" not in seen  # not before the loop runs it
    loop.drain()
    assert seen["work"] != threading.main_thread().name
    assert seen["done"] == threading.main_thread().name


def test_a_newer_request_makes_the_older_answer_stale_and_discards_it() -> None:
    """Two requests in a superseding lane: only the newer answer is used; the older is discarded."""
    loop = _Loop()
    runner = BackgroundRunner(dispatch=loop.dispatch)
    lane = runner.lane()
    used: list[str] = []
    discarded: list[str] = []
    lane.submit(lambda: "first", used.append, discard=discarded.append)
    lane.submit(lambda: "second", used.append, discard=discarded.append)
    loop.drain()
    assert used == ["second"] and discarded == ["first"]


def test_reset_drops_everything_in_flight_but_not_later_requests() -> None:
    """A non-superseding lane keeps parallel answers until reset; requests after the reset count."""
    loop = _Loop()
    lane = BackgroundRunner(dispatch=loop.dispatch).lane(supersede=False)
    used: list[int] = []
    lane.submit(lambda: 1, used.append)
    lane.submit(lambda: 2, used.append)
    loop.drain()
    assert used == [1, 2]
    lane.submit(lambda: 3, used.append)
    lane.reset()
    lane.submit(lambda: 4, used.append)
    loop.drain()
    assert used == [1, 2, 4]


def test_failures_reach_the_failed_callback_on_the_loop_and_stale_failures_do_not() -> None:
    """An exception in the work is handed to ``failed`` (never raised in the worker); a stale one is dropped."""
    loop = _Loop()
    lane = BackgroundRunner(dispatch=loop.dispatch).lane()
    errors: list[str] = []

    def boom() -> int:
        raise ValueError("bad backend")

    lane.submit(boom, lambda _a: None, lambda exc: errors.append(str(exc)))
    loop.drain()
    assert errors == ["bad backend"]
    lane.submit(boom, lambda _a: None, lambda exc: errors.append("stale " + str(exc)))
    lane.reset()
    loop.drain()
    assert errors == ["bad backend"]


def test_searches_go_to_the_search_pool_when_there_is_one() -> None:
    """pool='search' uses the bounded search executor; other work the session's executor."""
    ran: list[str] = []
    runner = BackgroundRunner(
        executor=lambda fn: (ran.append("work"), fn())[1],
        search_executor=lambda fn: (ran.append("search"), fn())[1],
    )
    lane = runner.lane()
    lane.submit(lambda: 1, lambda _a: None, pool="search")
    lane.submit(lambda: 1, lambda _a: None)
    assert ran == ["search", "work"]


def test_an_answer_after_the_browser_tab_closed_is_dropped() -> None:
    """A worker finishing after Bokeh destroyed the session's document (the tab was closed) posts its
    answer to nobody, instead of an AttributeError in the worker thread (seen under load)."""
    from bokeh.document import Document
    from tornado.ioloop import IOLoop

    from dashboard.loop import document_dispatcher

    class Context:  # what a served document holds (weakly) while its session lives
        pass

    context = Context()
    doc = Document()
    doc._session_context = lambda: context  # served: a live session context
    doc.on_change_dispatch_to(context)  # as Bokeh's ServerSession does, and undoes on destroy
    loop = IOLoop(make_current=False)

    def run_loop() -> None:  # in a thread: a browser test may have left an asyncio loop running in this one
        runner = threading.Thread(target=lambda: loop.run_sync(lambda: None))
        runner.start()
        runner.join(10)

    try:
        dispatch = document_dispatcher(doc, loop)
        ran: list[int] = []
        dispatch(lambda: ran.append(1))
        assert doc.callbacks.session_callbacks == []  # the worker never touches the document itself
        run_loop()
        assert len(doc.callbacks.session_callbacks) == 1  # the loop queued it for the next tick
        dispatch(lambda: ran.append(2))  # on its way to the loop as the tab closes
        doc.destroy(context)
        run_loop()
        dispatch(lambda: ran.append(3))  # after the tab closed: dropped, no exception
        run_loop()
        assert ran == []
    finally:
        loop.close()


def test_an_answer_that_cannot_reach_the_loop_is_logged_not_lost_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A worker whose dispatch fails (the loop is gone) says so in the log instead of vanishing in its thread."""

    def closed_loop(_fn: Callable[[], None]) -> None:
        raise RuntimeError("Event loop is closed")

    threads: list[threading.Thread] = []

    def executor(fn: Callable[[], None]) -> None:
        threads.append(threading.Thread(target=fn))
        threads[-1].start()

    runner = BackgroundRunner(executor=executor, dispatch=closed_loop)
    with caplog.at_level(logging.ERROR, logger="dashboard.runner"):
        runner.lane().submit(lambda: "rows", lambda _answer: None)
        for t in threads:
            t.join(5)
    assert "could not hand an answer back to the event loop" in caplog.text
    assert "Event loop is closed" in caplog.text


def test_the_search_pool_runs_work_in_order_on_its_workers_and_survives_a_failure() -> None:
    pool = DaemonPool(workers=1, name="test-pool")
    ran: list[str] = []
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("one search failed")

    pool.submit(lambda: ran.append(threading.current_thread().name))
    pool.submit(fail)
    pool.submit(lambda: (ran.append("after the failure"), done.set()))
    assert done.wait(10)
    assert ran == ["test-pool_0", "after the failure"]


def test_a_search_still_waiting_does_not_hold_the_process_at_exit() -> None:
    """A stopping dashboard exits although a search waits on a database that has gone (it waited
    30 s for a connection, and the deployment's ``down`` had to kill the process)."""
    program = (
        "import time\n"
        "from dashboard.runner import DaemonPool\n"
        "pool = DaemonPool(workers=2, name='dashboard-search')\n"
        "pool.submit(lambda: time.sleep(120))\n"
        "time.sleep(0.2)\n"
        "print('exiting', flush=True)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "exiting"
