"""Search requests shared by every server instance over one database (the SharedRequestStore ability).

:class:`SharedRegistry` has the :class:`RequestRegistry` interface the routes use. The searches this
instance runs live in a local registry as before (their cancel tokens reach the work; results on
their way hold the result memory), and every request is also written to the catalog's shared store:
created pending, then finished with its logs, counts and encoded result, kept ``ttl`` seconds. An
id this instance does not hold is read from the store, so any instance answers any request id, and
a finished result survives the instance that computed it (restart, ``kill -9``).

A background thread ("upkeep") makes the instances cooperate:

* every ``poll`` seconds it asks which of this instance's running searches ended elsewhere (a
  DELETE on another instance) and cancels them here, which stops the work where it runs;
* every ``HEARTBEAT_S`` it refreshes their heartbeat; a pending request whose heartbeat is older
  than ``stale_after`` belongs to an instance that died and is reported failed, saying so;
* every ``UPKEEP_S`` one instance deletes expired requests and keeps the finished ones within
  ``max_entries`` and ``max_bytes`` (``--result-memory``), oldest first.

Every store call blocks on the database: the routes call them off the IO loop (``blocking``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from array import array
from typing import Any, Final

from ..errors import AuroraXCoreError
from ..query import DataProductQuery
from ..results import SourceLayout
from .registry import (
    CANCEL_LOG,
    STATE_CANCELLED,
    STATE_DONE,
    STATE_FAILED,
    STATE_PENDING,
    RequestRegistry,
    SearchEntry,
    _now,
    _stamp,
)

logger = logging.getLogger("aurorax_core.server")

HEARTBEAT_S: Final = 2.0
UPKEEP_S: Final = 5.0
ABANDONED_MESSAGE: Final = (
    "Search failed: the server instance running this search stopped before it finished; submit the search again"
)


def encode_layout(layout: SourceLayout | None) -> bytes | None:
    """A layout as bytes for the store: a JSON head (array types, lengths, source texts), then the arrays."""
    if layout is None:
        return None
    head = json.dumps(
        {
            "offsets": [layout.record_offsets.typecode, len(layout.record_offsets)],
            "sources": [layout.record_sources.typecode, len(layout.record_sources)],
            "texts": {str(k): v.decode("utf-8") for k, v in layout.source_texts.items()},
        }
    ).encode("utf-8")
    return len(head).to_bytes(4, "big") + head + layout.record_offsets.tobytes() + layout.record_sources.tobytes()


def decode_layout(raw: bytes | None) -> SourceLayout | None:
    """The layout :func:`encode_layout` wrote; None for anything else (the body is then decoded instead)."""
    if not raw or len(raw) < 4:
        return None
    try:
        size = int.from_bytes(raw[:4], "big")
        head = json.loads(raw[4 : 4 + size])
        offsets = array(head["offsets"][0])
        sources = array(head["sources"][0])
        at = 4 + size
        end = at + offsets.itemsize * head["offsets"][1]
        offsets.frombytes(raw[at:end])
        sources.frombytes(raw[end : end + sources.itemsize * head["sources"][1]])
        texts = {int(k): v.encode("utf-8") for k, v in head["texts"].items()}
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return SourceLayout(offsets, sources, texts)


def _entry(row: Any) -> SearchEntry:
    """A store row as the entry the routes read (its status document, result and listing)."""
    entry = SearchEntry(
        request_id=row.request_id,
        query=DataProductQuery.from_api_payload(row.query),
        requested=row.requested,
        state=row.state,
        logs=list(row.logs),
        completed=row.completed,
        result=row.result if row.result is not None else (b"" if row.has_result else None),
        layout=decode_layout(row.layout),
        result_count=row.result_count,
        file_size=row.file_size,
        query_duration_ms=row.query_duration,
        error_message=row.error_message,
        client_ip=row.client_ip,
    )
    if entry.finished:
        entry.done_event.set()
    return entry


def _log_line(level: str, summary: str) -> dict[str, str]:
    return {"level": level, "summary": summary, "timestamp": _stamp(_now())}


class SharedRegistry:
    """The request registry of one server instance over a shared store (see the module text).

    Args:
        store: the catalog's ``server_requests()`` (``backends.postgres.server_requests``).
        ttl, max_entries, max_bytes, max_pending: as :class:`RequestRegistry`; ``max_entries`` and
            ``max_bytes`` bound the shared store too (all instances together).
        poll: seconds between polls for cancels made on other instances.
        stale_after: seconds without a heartbeat after which a running search counts as abandoned.
    """

    blocking = True

    def __init__(
        self,
        store: Any,
        *,
        ttl: float = 3600.0,
        max_entries: int = 5000,
        max_bytes: int = 64 * 1024 * 1024,
        max_pending: int = 256,
        poll: float = 0.2,
        stale_after: float = 10.0,
    ) -> None:
        self.local = RequestRegistry(ttl=ttl, max_entries=max_entries, max_bytes=max_bytes, max_pending=max_pending)
        self.store = store
        self.ttl = self.local.ttl
        self.max_entries = self.local.max_entries
        self.max_bytes = self.local.max_bytes
        self.max_pending = self.local.max_pending
        self.poll = poll
        self.stale_after = stale_after
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._upkeep_loop, name="aurorax-requests-upkeep", daemon=True)
        self._thread.start()

    # --- what the routes share with RequestRegistry ---------------------------------------------

    def __len__(self) -> int:
        return len(self.local)

    @property
    def pending(self) -> int:
        return self.local.pending

    @property
    def total_bytes(self) -> int:
        return self.local.total_bytes

    def reserve(self, size: int) -> bool:
        return self.local.reserve(size)

    def release(self, size: int) -> None:
        self.local.release(size)

    def add_log(self, entry: SearchEntry, level: str, summary: str) -> None:
        self.local.add_log(entry, level, summary)

    def create(self, query: DataProductQuery, client_ip: str = "") -> SearchEntry:
        """A new pending search, in the store before any instance can be asked about it.

        Raises:
            RequestLimitReached: this instance runs ``max_pending`` searches already.
            CatalogError: the store cannot be written (the request is not kept anywhere).
        """
        entry = self.local.create(query, client_ip)
        try:
            self.store.insert(entry.request_id, entry.status_document()["search_request"]["query"], client_ip,
                              list(entry.logs), self.instance)  # fmt: skip
        except BaseException:
            with contextlib.suppress(KeyError):
                self.local.remove(entry.request_id)
            raise
        return entry

    def complete(
        self,
        entry: SearchEntry,
        result: bytes,
        count: int,
        query_duration_ms: int,
        logs: list[tuple[str, str]],
        layout: SourceLayout | None = None,
        reserved: int = 0,
    ) -> bool:
        """Store a finished search in the shared store, then here; False when it ended meanwhile
        (cancelled here or on another instance). The store first: once any instance says "done",
        every instance can serve the data."""
        if entry.finished:
            self.local.release(reserved)
            return False
        try:
            stored = self.store.finish(
                entry.request_id,
                STATE_DONE,
                [*entry.logs, *(_log_line(level, summary) for level, summary in logs)],
                self.ttl,
                result=result,
                layout=encode_layout(layout),
                result_count=count,
                file_size=len(result),
                query_duration=query_duration_ms,
            )
        except AuroraXCoreError as exc:
            # kept here (this instance still answers it); the others report it abandoned later
            logger.error("search %s: its result could not be shared (%s)", entry.request_id, exc)
            stored = True
        if not stored:  # cancelled on another instance just before it finished
            self.local.release(reserved)
            with contextlib.suppress(KeyError):
                self.local.cancel(entry.request_id)
            return False
        return self.local.complete(entry, result, count, query_duration_ms, logs, layout, reserved=reserved)

    def fail(self, entry: SearchEntry, message: str, query_duration_ms: int = 0) -> bool:
        # here first (a failure has no data to serve, so no instance can be ahead of the store),
        # so this instance's own poll never mistakes the stored failure for a cancel from elsewhere
        if not self.local.fail(entry, message, query_duration_ms):
            return False
        try:
            self.store.finish(
                entry.request_id,
                STATE_FAILED,
                list(entry.logs),
                self.ttl,
                query_duration=query_duration_ms,
                error_message=message,
            )
        except AuroraXCoreError as exc:
            logger.error("search %s: its failure could not be shared (%s)", entry.request_id, exc)
        return True

    def cancel(self, request_id: str) -> SearchEntry:
        """Cancel a search wherever it runs (here at once; on another instance within ``poll``).

        Raises:
            KeyError: unknown or expired id.
            CatalogError: the store cannot be reached.
        """
        try:
            local = self.local.get(request_id)
        except KeyError:
            local = None
        if local is not None and not local.finished:
            entry = self.local.cancel(request_id)
            self.store.end_pending(request_id, STATE_CANCELLED, CANCEL_LOG, _log_line("error", CANCEL_LOG), self.ttl)
            return entry
        if local is None:
            self.store.end_pending(request_id, STATE_CANCELLED, CANCEL_LOG, _log_line("error", CANCEL_LOG), self.ttl)
        return self.get(request_id, with_result=False)

    def cancel_all(self) -> int:
        """Shutdown: every search of this instance stops, and is recorded failed in the store."""
        pending = [e for e in self.local.entries() if not e.finished]
        count = self.local.cancel_all()
        for entry in pending:
            with contextlib.suppress(AuroraXCoreError):
                self.store.end_pending(
                    entry.request_id,
                    STATE_FAILED,
                    ABANDONED_MESSAGE,
                    _log_line("error", "Search failed: the server instance running it was stopped"),
                    self.ttl,
                )
        return count

    def get(self, request_id: str, *, with_result: bool = True) -> SearchEntry:
        """This instance's entry, else the store's.

        Raises:
            KeyError: unknown or expired id (the message says what to do).
            CatalogError: the store cannot be reached.
        """
        try:
            local = self.local.get(request_id)
        except KeyError:
            local = None
        if local is not None and (local.finished or not with_result):
            # a status poll of a search running here answers from memory (a cancel made elsewhere
            # reaches it within ``poll``)
            return local
        # data of a search running here: the store may already hold it (the store is written first)
        row = self.store.get(request_id, with_result=with_result, stale_after=self.stale_after)
        if row is None and local is not None:
            return local
        if row is None:
            raise KeyError(
                f"search request {request_id} not found: unknown, or expired (results are kept for {self.ttl:g} "
                "seconds, or until newer results need the space); check the id or submit the search again"
            )
        if local is not None and row.state == STATE_PENDING:
            return local
        if row.stale and row.owner != self.instance:
            self.store.end_pending(
                request_id, STATE_FAILED, ABANDONED_MESSAGE, _log_line("error", ABANDONED_MESSAGE), self.ttl
            )
            row = self.store.get(request_id, with_result=with_result, stale_after=self.stale_after) or row
        return _entry(row)

    def entries(self) -> list[SearchEntry]:
        """Every request kept by any instance, oldest first."""
        return [_entry(row) for row in self.store.listing(self.stale_after)]

    def remove(self, request_id: str) -> None:
        """Forget a request everywhere (a running one is cancelled where it runs).

        Raises:
            KeyError: unknown or expired id.
        """
        held = True
        try:
            self.local.remove(request_id)
        except KeyError:
            held = False
        if not self.store.delete(request_id) and not held:
            raise KeyError(f"search request {request_id} not found; check the request id")

    # --- the upkeep thread -----------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _upkeep_loop(self) -> None:
        beat = upkeep = 0.0
        while not self._stop.wait(self.poll):
            try:
                now = time.monotonic()
                running = self.local.pending_ids()
                if running:
                    for request_id in self.store.ended(running):
                        # cancelled (or removed) on another instance: stop the work here
                        with contextlib.suppress(KeyError):
                            self.local.cancel(request_id)
                    if now - beat >= HEARTBEAT_S:
                        self.store.heartbeat(running)
                        beat = now
                if now - upkeep >= UPKEEP_S:
                    upkeep = now
                    self.store.upkeep(
                        max_entries=self.max_entries,
                        max_bytes=self.max_bytes,
                        stale_after=self.stale_after,
                        ttl=self.ttl,
                        abandoned=(ABANDONED_MESSAGE, _log_line("error", ABANDONED_MESSAGE)),
                    )
            except AuroraXCoreError as exc:  # the database is away for a moment: try again next round
                logger.warning("shared request store: %s", exc)
            except Exception:  # never let the thread die: cancels from other instances depend on it
                logger.exception("shared request store upkeep failed")
