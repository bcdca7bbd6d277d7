"""Hand work from any thread back to a served session's event loop.

A worker thread must never call ``Document.add_next_tick_callback`` itself. While the loop thread
holds the document (Panel holds it every time it applies an event from the browser), Bokeh queues
the new callback as a held event, and the loop's ``unhold`` copies the held events and then clears
them: a callback queued between those two steps is dropped, and never runs. A search answer lost
that way left the page "Searching…" for good (about one link in five, when the answer arrived as
the browser's first events did). So a worker only calls tornado's thread-safe
``IOLoop.add_callback``, and the loop thread adds the document callback (which takes the document
lock as usual). Runners without a served document (headless tests, scripts) call at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import panel as pn
from panel.io.state import set_curdoc
from tornado.ioloop import IOLoop

from .runner import Runner, call_now, thread_executor

_log = logging.getLogger(__name__)


def served_document() -> Any:
    """The document of the session being built on this thread, or None outside a served session."""
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def document_dispatcher(doc: Any, loop: IOLoop | None = None) -> Runner:
    """``dispatch(fn)``: run ``fn`` on ``doc``'s event loop, with the document locked; callable from any thread.

    Call it on the loop thread (while the session is built): the loop is taken from there.
    """
    io_loop = loop if loop is not None else IOLoop.current()

    def on_loop(fn: Callable[[], None]) -> None:
        # A worker may finish after the browser tab closed and Bokeh destroyed the document (it
        # clears the session context first, then the callbacks): nobody is left to answer.
        if doc.session_context is None:
            return

        def run() -> None:
            with set_curdoc(doc):
                fn()

        try:
            doc.add_next_tick_callback(run)
        except Exception:  # the document went away between the check and here
            if doc.session_context is not None:
                _log.exception("could not hand work back to the session")

    def dispatch(fn: Callable[[], None]) -> None:
        if doc.session_context is None:
            return
        io_loop.add_callback(on_loop, fn)

    return dispatch


def session_runners(name: str) -> tuple[Runner, Runner]:
    """(executor, dispatch) for the session being built: threads and its loop; outside a server, at once."""
    doc = served_document()
    if doc is None:
        return call_now, call_now
    return thread_executor(name), document_dispatcher(doc)
