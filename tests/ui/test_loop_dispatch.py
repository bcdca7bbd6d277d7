"""Answers from worker threads reach a served page, even while the page's loop is busy with the browser.

A search answer used to be handed to the document from the search thread; while Panel held the
document (as it does when it applies an event from the browser), Bokeh could drop it, and the
page stayed "Searching…" for good. The dispatcher now lets only the loop thread touch the document.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import panel as pn
import requests
from tornado.ioloop import IOLoop

from dashboard.loop import document_dispatcher

ANSWERS = 300


def test_every_answer_from_a_worker_runs_on_the_loop_while_the_document_is_held_and_released(
    serve_app: Callable[[Callable[[], Any]], str],
) -> None:
    built: dict[str, Any] = {}

    def app() -> Any:
        doc = pn.state.curdoc
        touched: list[str] = []  # the threads that added callbacks to the document
        add = doc.callbacks.add_session_callback

        def recording(*args: Any, **kwargs: Any) -> Any:
            touched.append(threading.current_thread().name)
            return add(*args, **kwargs)

        doc.callbacks.add_session_callback = recording
        built.update(
            doc=doc,
            dispatch=document_dispatcher(doc),
            loop=IOLoop.current(),
            loop_thread=threading.current_thread().name,
            touched=touched,
        )
        return pn.pane.Markdown("served")

    url = serve_app(app)
    requests.get(url, timeout=30).raise_for_status()  # the page's request makes the session
    doc, loop = built["doc"], built["loop"]
    ran: list[tuple[int, str, bool]] = []
    finished = threading.Event()
    stop_churn = threading.Event()

    def churn() -> None:
        # what Panel does for every browser event: hold the document, change it, release it
        if stop_churn.is_set():
            return
        doc.hold("combine")
        time.sleep(0.0005)
        doc.unhold()
        loop.add_callback(churn)

    def answer(i: int) -> None:
        ran.append((i, threading.current_thread().name, pn.state.curdoc is doc))
        if len(ran) == ANSWERS:
            finished.set()

    loop.add_callback(churn)

    def worker() -> None:
        for i in range(ANSWERS):
            built["dispatch"](lambda i=i: answer(i))
            time.sleep(0.0002)

    thread = threading.Thread(target=worker, name="search-worker")
    thread.start()
    thread.join(30)
    try:
        assert finished.wait(30), f"only {len(ran)} of {ANSWERS} answers reached the page"
    finally:
        stop_churn.set()
    assert sorted(i for i, _, _ in ran) == list(range(ANSWERS))
    assert {name for _, name, _ in ran} == {built["loop_thread"]}
    assert all(with_doc for _, _, with_doc in ran)  # the views see their own document
    assert set(built["touched"]) == {built["loop_thread"]}
