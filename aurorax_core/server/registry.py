"""The bounded store of search requests: status, logs and the pre-encoded result of each search.

Memory stays bounded however many requests arrive: the registry holds at most ``max_entries``
requests and ``max_bytes`` of encoded results; a request expires ``ttl`` seconds after it
completed. When a limit is reached the oldest *finished* requests are evicted first. Ids that
were evicted or expired are remembered (ids only, also bounded) so that asking for one answers
"expired" rather than "never existed".

All methods are thread-safe: the search workers write results while the IO loop reads them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from ..query import DataProductQuery
from ..results import SourceLayout
from .workers import LinkedCancelToken

STATE_PENDING: Final = "pending"
STATE_DONE: Final = "done"
STATE_FAILED: Final = "failed"
STATE_CANCELLED: Final = "cancelled"

CANCEL_LOG: Final = "Search cancelled by the user"


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(value: datetime) -> str:
    # The 2024 AuroraX form: microseconds, no zone (pyaurorax parses it with dateutil).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass
class SearchEntry:
    """One search request and everything its status document reports."""

    request_id: str
    query: DataProductQuery
    requested: datetime = field(default_factory=_now)
    state: str = STATE_PENDING
    logs: list[dict[str, str]] = field(default_factory=list)
    completed: datetime | None = None
    result: bytes | None = None
    # where each record's data_source sits in ``result`` (serves the other data-source formats)
    layout: SourceLayout | None = None
    result_count: int | None = None
    file_size: int | None = None
    query_duration_ms: int | None = None
    error_message: str | None = None
    cancel: LinkedCancelToken = field(default_factory=LinkedCancelToken)
    done_event: threading.Event = field(default_factory=threading.Event)
    # monotonic completion time, for the TTL
    finished_at: float | None = None
    _status_cache: bytes | None = field(default=None, repr=False)
    client_ip: str = ""

    def log(self, level: str, summary: str) -> None:
        self.logs.append({"level": level, "summary": summary, "timestamp": _stamp(_now())})

    @property
    def stored_bytes(self) -> int:
        """What this request's result holds in memory (the body and its layout)."""
        if self.result is None:
            return 0
        return len(self.result) + (self.layout.nbytes if self.layout is not None else 0)

    @property
    def finished(self) -> bool:
        return self.state != STATE_PENDING

    @property
    def data_uri(self) -> str:
        return f"/api/v1/data_products/requests/{self.request_id}/data"

    def listing(self) -> dict[str, Any]:
        """The admin SearchRequestListing of this request (PROTOCOL §3.9)."""
        return {
            "search_type": "data_product",
            "ip_address": self.client_ip,
            "request_id": self.request_id,
            "requested": _stamp(self.requested),
            "active": not self.finished,
            "query_duration": self.query_duration_ms,
            "result_file_exists": self.result is not None,
            "file_size": self.file_size,
            "result_count": self.result_count,
            "error_condition": None if not self.finished else self.state != STATE_DONE,
        }

    def status_bytes(self) -> bytes:
        """The encoded status document; computed once when finished (it never changes after)."""
        cached = self._status_cache
        if cached is not None:
            return cached
        # read the state first: a document built while pending must never be cached
        finished = self.finished
        encoded = json.dumps(self.status_document(), separators=(",", ":")).encode("utf-8")
        if finished:
            self._status_cache = encoded
        return encoded

    def status_document(self) -> dict[str, Any]:
        """The AuroraX status JSON (PROTOCOL §3.2); every search_result field is null while pending."""
        query = self.query.to_api_payload()
        # AuroraX echoes the query normalised: {} filters come back as an empty AND expression list,
        # and request_id is always present (aurorax-cli get_query deletes it).
        filters = query["data_sources"].get("data_product_metadata_filters") or {}
        query["data_sources"]["data_product_metadata_filters"] = {
            "expressions": filters.get("expressions", []),
            "logical_operator": filters.get("logical_operator", "AND"),
        }
        query["request_id"] = None
        if self.finished:
            result: dict[str, Any] = {
                "completed_timestamp": _stamp(self.completed or _now()),
                "data_uri": self.data_uri,
                "error_condition": self.state != STATE_DONE,
                "file_size": self.file_size or 0,
                "query_duration": self.query_duration_ms or 0,
                "result_count": self.result_count or 0,
                "result_file_deleted_timestamp": None,
            }
        else:
            result = dict.fromkeys(
                (
                    "completed_timestamp",
                    "data_uri",
                    "error_condition",
                    "file_size",
                    "query_duration",
                    "result_count",
                    "result_file_deleted_timestamp",
                )
            )
        return {
            "logs": list(self.logs),
            "search_request": {
                "query": query,
                "request_id": self.request_id,
                "request_type": "data_product",
                "requested": _stamp(self.requested),
            },
            "search_result": result,
        }


class RequestLimitReached(Exception):
    """Too many searches are running or queued; the caller should retry later."""


class RequestRegistry:
    """Thread-safe, bounded map of request id -> :class:`SearchEntry`.

    Args:
        ttl: seconds a finished request (and its result) is kept.
        max_entries: most requests kept at once (pending and finished).
        max_bytes: most bytes of encoded results kept at once.
        max_pending: most searches queued or running at once; more raise RequestLimitReached.
        clock: monotonic clock (tests pass their own).
    """

    # its calls never wait on IO: the routes may call them on the IO loop
    blocking = False

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        max_entries: int = 5000,
        max_bytes: int = 64 * 1024 * 1024,
        max_pending: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries < 1 or max_bytes < 1 or max_pending < 1:
            raise ValueError("ttl, max_entries, max_bytes and max_pending must be positive")
        self.ttl = float(ttl)
        self.max_entries = int(max_entries)
        self.max_bytes = int(max_bytes)
        self.max_pending = min(int(max_pending), self.max_entries)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, SearchEntry] = OrderedDict()
        self._gone: OrderedDict[str, None] = OrderedDict()
        # finished ids in completion order, so expiry and eviction never scan pending entries
        self._done: OrderedDict[str, float] = OrderedDict()
        self._bytes = 0  # kept results plus reservations of results on their way
        self._pending = 0

    # --- bookkeeping -------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return self._bytes

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def _forget(self, request_id: str) -> None:
        entry = self._entries.pop(request_id)
        self._done.pop(request_id, None)
        if entry.result is not None:
            self._bytes -= entry.stored_bytes
        if not entry.finished:
            self._pending -= 1
            entry.cancel.cancel()
        self._gone[request_id] = None
        while len(self._gone) > 4 * self.max_entries:
            self._gone.popitem(last=False)

    def _expire(self) -> None:
        now = self._clock()
        while self._done:
            rid, finished_at = next(iter(self._done.items()))
            if now - finished_at < self.ttl:
                break
            self._forget(rid)

    def _evict_for(self, extra_entries: int, extra_bytes: int) -> None:
        self._expire()
        if len(self._entries) + extra_entries <= self.max_entries and self._bytes + extra_bytes <= self.max_bytes:
            return
        # oldest finished first; pending searches are bounded separately by max_pending
        while self._done and (
            len(self._entries) + extra_entries > self.max_entries or self._bytes + extra_bytes > self.max_bytes
        ):
            self._forget(next(iter(self._done)))

    def reserve(self, size: int) -> bool:
        """Hold ``size`` bytes of the result memory for a result on its way (read back from a worker,
        or sent by the synchronous route), evicting the oldest finished results if needed; False when
        it does not fit even then. Every True is paired with :meth:`release` or ``complete(reserved=)``."""
        with self._lock:
            self._evict_for(0, size)
            if self._bytes + size > self.max_bytes:
                return False
            self._bytes += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self._bytes -= size

    # --- the lifecycle -------------------------------------------------------------------------

    def entries(self) -> list[SearchEntry]:
        """Every request kept right now, oldest first (a snapshot)."""
        with self._lock:
            self._expire()
            return list(self._entries.values())

    def remove(self, request_id: str) -> None:
        """Forget a request and its result (admin delete); a pending search is cancelled.

        Raises:
            KeyError: unknown or expired id.
        """
        with self._lock:
            self._get_locked(request_id)
            self._forget(request_id)

    def create(self, query: DataProductQuery, client_ip: str = "") -> SearchEntry:
        """Register a new pending search (its first log line written).

        Raises:
            RequestLimitReached: ``max_pending`` searches are already queued or running.
        """
        with self._lock:
            if self._pending >= self.max_pending:
                raise RequestLimitReached(
                    f"{self._pending} searches are already running or queued on this server; retry in a moment"
                )
            self._evict_for(1, 0)
            entry = SearchEntry(request_id=str(uuid.uuid4()), query=query, client_ip=client_ip)
            entry.log("debug", "Search request arrived and saved")
            self._entries[entry.request_id] = entry
            self._pending += 1
            return entry

    def _finish(self, entry: SearchEntry, state: str) -> bool:
        # caller holds the lock
        if entry.finished:
            return False
        entry.state = state
        entry.completed = _now()
        entry.finished_at = self._clock()
        if self._entries.get(entry.request_id) is entry:
            self._pending -= 1
            self._done[entry.request_id] = entry.finished_at
        entry.done_event.set()
        return True

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
        """Store a finished search's encoded result; False when it was cancelled or evicted meanwhile.
        ``reserved``: bytes :meth:`reserve` held for it, released here whatever happens."""
        stored = len(result) + (layout.nbytes if layout is not None else 0)
        with self._lock:
            self._bytes -= reserved
            if entry.finished or self._entries.get(entry.request_id) is not entry:
                return False
            self._evict_for(0, stored)
            if self._entries.get(entry.request_id) is not entry:
                return False
            for level, summary in logs:
                entry.log(level, summary)
            entry.result = result
            entry.layout = layout
            entry.result_count = count
            entry.file_size = len(result)
            entry.query_duration_ms = query_duration_ms
            self._bytes += stored
            return self._finish(entry, STATE_DONE)

    def add_log(self, entry: SearchEntry, level: str, summary: str) -> None:
        """Append a log line to a pending search (ignored once it finished, e.g. after a cancel)."""
        with self._lock:
            if not entry.finished:
                entry.log(level, summary)

    def fail(self, entry: SearchEntry, message: str, query_duration_ms: int = 0) -> bool:
        """Mark a search failed; the error becomes its last log line."""
        with self._lock:
            if entry.finished:
                return False
            entry.error_message = message
            entry.query_duration_ms = query_duration_ms
            entry.result_count = 0
            entry.file_size = 0
            entry.log("error", message)
            return self._finish(entry, STATE_FAILED)

    def cancel(self, request_id: str) -> SearchEntry:
        """Cancel a pending search (no-op for a finished one) and return its entry.

        Raises:
            KeyError: unknown or expired id (the message says which).
        """
        with self._lock:
            entry = self._get_locked(request_id)
            if not entry.finished:
                entry.cancel.cancel()
                entry.error_message = CANCEL_LOG
                entry.result_count = 0
                entry.file_size = 0
                entry.log("error", CANCEL_LOG)
                self._finish(entry, STATE_CANCELLED)
            return entry

    def cancel_all(self) -> int:
        """Cancel every pending search (server shutdown); returns how many were pending."""
        with self._lock:
            pending = [rid for rid, e in self._entries.items() if not e.finished]
        for rid in pending:
            with contextlib.suppress(KeyError):
                self.cancel(rid)
        return len(pending)

    def _get_locked(self, request_id: str) -> SearchEntry:
        self._expire()
        entry = self._entries.get(request_id)
        if entry is None:
            if request_id in self._gone:
                raise KeyError(
                    f"search request {request_id} has expired: results are kept for {self.ttl:g} seconds "
                    "(or until newer searches need the space); submit the search again"
                )
            raise KeyError(f"search request {request_id} not found; check the request id")
        return entry

    def pending_ids(self) -> list[str]:
        """The ids of the searches queued or running here."""
        with self._lock:
            return [rid for rid, entry in self._entries.items() if not entry.finished]

    def close(self) -> None:
        """Nothing to release (the shared registry stops its upkeep here)."""

    def get(self, request_id: str, *, with_result: bool = True) -> SearchEntry:
        """The entry for an id (``with_result`` matters to the shared registry only).

        Raises:
            KeyError: unknown or expired id (the message says which).
        """
        with self._lock:
            return self._get_locked(request_id)
