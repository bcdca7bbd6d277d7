"""The AuroraX-compatible HTTP API over the embedded catalog (tornado).

Endpoints (PROTOCOL §2): the data-product search lifecycle (submit, status, data by GET and by POST
with a response format, cancel), describe, synchronous search, data sources (list, search, get,
add, update, delete, with ``include_stats``), availability, upload and delete of data products,
and ``GET /`` for the connectivity check. Every path also answers with a doubled leading slash
(pyaurorax 1.22 sends ``//api/v1/data_sources/search``).

Every JSON answer carries exactly ``Content-Type: application/json`` (pyaurorax rejects a charset),
errors are AuroraX error documents ``{"error_code", "error_message"}``, and bad input gets a 4xx
saying what was wrong: request bodies are streamed and capped, so a huge body is refused without
being held in memory.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import multiprocessing
import os
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeVar

import tornado.web

from ..errors import (
    AuroraXCoreError,
    CatalogError,
    NotFound,
    QueryValidationError,
    RecordValidationError,
    SearchCancelled,
)
from ..models import DATA_SOURCE_FIELDS, DataProduct, DataSource, format_time, parse_time
from ..query import DataProductQuery
from ..results import SearchBody, SourceLayout
from .registry import RequestLimitReached, RequestRegistry, SearchEntry
from .wire import (
    MAX_AVAILABILITY_SPAN,
    ApiError,
    apply_response_format,
    needs_full_source,
    parse_bool,
    parse_date,
    parse_identifier,
    parse_source_format,
    validate_response_format,
)

logger = logging.getLogger("aurorax_core.server")

JSON_TYPE: Final = "application/json"
DEFAULT_MAX_BODY_BYTES: Final = 10 * 1024 * 1024
API_KEY_HEADER: Final = "x-aurorax-api-key"
_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_UPLOAD_KEYS: Final = frozenset(
    {"program", "platform", "instrument_type", "start", "end", "url", "data_product_type", "metadata", "data_source"}
)
# A data-source body may carry any DataSource field, plus the "format" pyaurorax echoes.
_SOURCE_WRITE_KEYS: Final = frozenset(DATA_SOURCE_FIELDS) | {"format"}
_STATS_KEYS: Final = (
    "ephemeris_count",
    "data_product_count",
    "earliest_ephemeris_loaded",
    "latest_ephemeris_loaded",
    "earliest_data_product_loaded",
    "latest_data_product_loaded",
)

T = TypeVar("T")


@dataclass
class ServerState:
    """What every handler shares: the catalog, the request registry, the thread pools, the settings."""

    catalog: Any
    registry: RequestRegistry
    api_keys: frozenset[str]
    search_pool: ThreadPoolExecutor
    read_pool: ThreadPoolExecutor
    process_pool: ProcessPoolExecutor | None = None
    process_pool_factory: Callable[[], ProcessPoolExecutor] | None = None
    search_processes: int = 0
    spill_prefix: str | None = None  # where worker processes leave large result bodies
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    submit_wait: float = 0.1
    search_timeout: float = 300.0
    started: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        """Cancel every pending search and wait for the running ones to stop.

        The caller closes the catalog afterwards; a worker still inside a catalog call at that
        moment would use a closed SQLite connection (which can crash the process).
        """
        self.registry.cancel_all()
        self.search_pool.shutdown(wait=True, cancel_futures=True)
        self.read_pool.shutdown(wait=True, cancel_futures=True)
        if self.process_pool is not None:
            self.process_pool.shutdown(wait=True, cancel_futures=True)
        if self.spill_prefix is not None:
            # bodies of searches that finished in a worker after the IO loop stopped taking them
            folder, prefix = os.path.split(self.spill_prefix)
            for name in os.listdir(folder):
                if name.startswith(prefix):
                    with suppress(OSError):
                        os.unlink(os.path.join(folder, name))

    def replace_broken_process_pool(self, broken: ProcessPoolExecutor) -> None:
        """Start new search processes in place of ``broken``, once: a worker that died (killed,
        out of memory) leaves its pool unusable, which would fail every later search."""
        if self.process_pool is not broken or self.process_pool_factory is None:
            return
        self.process_pool = self.process_pool_factory()
        broken.shutdown(wait=False, cancel_futures=True)
        logger.warning("a search process stopped abruptly; started new search processes")


# --- encoding -----------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def stats_document(source: DataSource) -> dict[str, Any]:
    """The six-key stats object pyaurorax reads for every source when stats are asked for."""
    stats = source.stats if isinstance(source.stats, Mapping) else {}
    out: dict[str, Any] = {}
    for key in _STATS_KEYS:
        value = stats.get(key)
        if key.endswith("_count"):
            out[key] = int(value) if isinstance(value, (int, float)) else 0
        else:
            out[key] = _stats_time(value)
    return out


def _stats_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, str) and value.strip():
        return value.strip().rstrip("Z")[:19]
    return None


def source_document(source: DataSource, data_source_format: str, include_stats: bool) -> dict[str, Any]:
    """A data source as the API returns it: the format's keys, plus ``stats`` only when asked for."""
    out = source.to_api_dict(data_source_format)
    if include_stats:
        out["stats"] = stats_document(source)
    return out


# --- handlers -----------------------------------------------------------------------------------


@tornado.web.stream_request_body
class BaseHandler(tornado.web.RequestHandler):
    """JSON in, JSON out; request bodies streamed and capped; every error an AuroraX error document."""

    state: ServerState

    def initialize(self, state: ServerState) -> None:
        self.state = state
        self._chunks: list[bytes] = []
        self._body_size = 0
        self._too_large = False

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", JSON_TYPE)
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.state.max_body_bytes:
            # Read and drop the body instead of closing the socket: a client that is still sending
            # would otherwise see a broken pipe instead of this answer.
            self._too_large = True

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._too_large or self._body_size > self.state.max_body_bytes:
            self._too_large = True
            self._chunks = []
            return
        self._chunks.append(chunk)

    # --- input ---------------------------------------------------------------------------------

    def check_body_size(self) -> None:
        if self._too_large:
            raise ApiError(
                413,
                f"the request body is larger than this server accepts ({self.state.max_body_bytes:,} bytes); "
                "send fewer records per request",
            )

    def json_body(self, *, default: Any = None, what: str = "the request body") -> Any:
        """The decoded JSON body (``default`` when the body is empty).

        Raises:
            ApiError: 413 when too large, 400 when it is not UTF-8 JSON.
        """
        self.check_body_size()
        raw = b"".join(self._chunks)
        if not raw.strip():
            if default is not None:
                return default
            raise ApiError(400, f"{what} is empty; send a JSON document")
        try:
            # JSON on the wire is UTF-8 (RFC 8259); json.loads would also guess UTF-16/32 from bytes.
            return json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ApiError(400, f"{what} is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ApiError(
                400, f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except (ValueError, RecursionError) as exc:
            # e.g. an integer with more digits than Python converts, or arrays nested thousands deep
            raise ApiError(400, f"{what} cannot be read as JSON ({type(exc).__name__}: {str(exc)[:120]})") from None

    def arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return None if value is None else value

    def require_write_key(self) -> None:
        """Writes need an API key the operator configured.

        Raises:
            ApiError: 401 without a key, 403 with a key that is not configured.
        """
        key = (self.request.headers.get(API_KEY_HEADER) or "").strip()
        if not key:
            raise ApiError(
                401,
                "this operation changes the catalog and needs an API key: send it in the "
                "x-aurorax-api-key header (pyaurorax: PyAuroraX(api_key=...); aurorax-cli --api-key)",
            )
        # constant-time comparison: the answer must not leak how much of a key was right
        if not any(hmac.compare_digest(key.encode(), known.encode()) for known in self.state.api_keys):
            hint = (
                "this server accepts no writes (start it with --api-key KEY to allow them)"
                if not self.state.api_keys
                else "check the key the server was started with (--api-key or AURORAX_SERVER_API_KEYS)"
            )
            raise ApiError(403, f"the API key is not permitted to change the catalog; {hint}")

    # --- output --------------------------------------------------------------------------------

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(value if isinstance(value, bytes) else _dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            error = exc
        elif isinstance(exc, tornado.web.HTTPError):
            if status_code == 405:
                message = f"{self.request.method} is not supported on {self.request.path}"
            else:
                message = exc.log_message or self._reason
            error = ApiError(status_code, message)
        else:
            error = ApiError(
                status_code,
                "the server hit an internal error answering this request; it was logged"
                if status_code >= 500
                else self._reason,
            )
        self.clear_header("Location")
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(_dumps(error.document()))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, ApiError):
            if self._finished:
                return
            self.set_status(e.status)
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            return
        super().log_exception(typ, value, tb)

    # --- running catalog work off the IO loop ---------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a catalog call in the read pool, turning catalog errors into error documents."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.state.read_pool, lambda: fn(*args, **kwargs))
        except ApiError:
            raise
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None
        except (QueryValidationError, RecordValidationError) as exc:
            raise ApiError(400, str(exc)) from None
        except AuroraXCoreError as exc:
            status = _status_for(exc)
            raise ApiError(status, str(exc)) from None


def _status_for(exc: AuroraXCoreError) -> int:
    name = type(exc).__name__
    if name in ("DuplicateError", "ConflictError"):
        return 409
    if isinstance(exc, CatalogError):
        # the catalog cannot be read or written (read-only file, disk full, corrupt): the server's
        # state, not the request, is at fault; 503 carries the catalog's own explanation
        return 503
    return 400


class RootHandler(BaseHandler):
    """``GET /``: aurorax-cli --test-connectivity wants a 200."""

    def head(self) -> None:
        self.set_status(200)
        self.finish()

    def get(self) -> None:
        self.send_json(
            {
                "name": "aurorax-core AuroraX-compatible API",
                "api": "/api/v1",
                "catalog": str(getattr(self.state.catalog, "name", "")),
            }
        )


class NotFoundHandler(BaseHandler):
    """Any other path: a 404 error document."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such endpoint: {self.request.method} {self.request.path}")


def _parse_query(payload: Any) -> DataProductQuery:
    try:
        return DataProductQuery.from_api_payload(payload)
    except QueryValidationError as exc:
        raise ApiError(400, f"invalid data product query: {exc}") from None


class SubmitHandler(BaseHandler):
    """``POST /api/v1/data_products/search``: 202 and an absolute Location."""

    async def post(self) -> None:
        query = _parse_query(self.json_body(what="the search query"))
        try:
            entry = self.state.registry.create(query, self.request.remote_ip or "")
        except RequestLimitReached as exc:
            raise ApiError(429, str(exc)) from None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None]
        if self.state.process_pool is not None:
            future = asyncio.ensure_future(run_search_in_process(self.state, entry))
        else:
            future = loop.run_in_executor(self.state.search_pool, run_search, self.state, entry)
        if self.state.submit_wait > 0:
            # Answer as soon as a quick search is done (or after submit_wait): the client's first
            # status poll then already finds the data, and no poll interval is slept.
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout=self.state.submit_wait)
            except (TimeoutError, asyncio.CancelledError):
                pass
            except Exception:  # run_search records its own failures; this only guards the answer
                logger.exception("search %s raised", entry.request_id)
        self.set_status(202)
        self.set_header("Location", f"{self._base_url()}/api/v1/data_products/requests/{entry.request_id}")
        self.clear_header("Content-Type")
        self.finish()

    def _base_url(self) -> str:
        proto = (self.request.headers.get("X-Forwarded-Proto") or "").split(",")[0].strip().lower()
        if proto not in ("http", "https"):
            proto = self.request.protocol if self.request.protocol in ("http", "https") else "http"
        host = (self.request.headers.get("Host") or "").strip()
        if not host or not _HOST_RE.match(host):
            sockname = self.request.connection.stream.socket.getsockname()  # type: ignore[union-attr]
            host = f"{sockname[0]}:{sockname[1]}"
        return f"{proto}://{host}"


def run_search(state: ServerState, entry: SearchEntry) -> None:
    """Run one search in a worker thread and record its logs and result (never raises)."""
    registry = state.registry
    if entry.finished:  # cancelled while queued
        return
    started = time.perf_counter()
    registry.add_log(entry, "info", f"Starting query for {entry.request_id}")
    try:
        result = state.catalog.search_body(entry.query, cancel=entry.cancel, timeout=state.search_timeout)
    except SearchCancelled:
        # only registry.cancel() (or the shutdown's cancel_all) sets the token: the entry is done
        return
    except AuroraXCoreError as exc:
        registry.fail(entry, f"Search failed: {exc}", int((time.perf_counter() - started) * 1000))
        return
    except Exception as exc:  # a bug must not leave the request pending forever
        logger.exception("search %s failed", entry.request_id)
        registry.fail(
            entry,
            f"Search failed with an internal error ({type(exc).__name__}: {exc})",
            int((time.perf_counter() - started) * 1000),
        )
        return
    registry.add_log(entry, "info", f"Finished query in {result.query_seconds:.2f} seconds.")
    registry.add_log(entry, "debug", "Starting to write data to file")
    _store_result(state, entry, result, started)


def _store_result(state: ServerState, entry: SearchEntry, result: SearchBody, started: float) -> None:
    registry = state.registry
    body, count, query_s, write_s, layout = result
    if len(body) > registry.max_bytes:
        registry.fail(
            entry,
            f"Search failed: the result has {count} records ({len(body):,} bytes), more than this server keeps "
            f"({registry.max_bytes:,} bytes); narrow the time range or the data sources",
            int(query_s * 1000),
        )
        return
    total_s = time.perf_counter() - started
    registry.complete(
        entry,
        body,
        count,
        # the whole search, as AuroraX reports it (query_duration 305 with "Finished search in 0.31 seconds")
        round(total_s * 1000),
        [
            ("info", f"Finished writing data, found {count} records in {write_s:.2f} seconds."),
            ("debug", f"File size is {len(body)} bytes."),
            ("info", f"Finished search in {total_s:.2f} seconds and found {count} records."),
        ],
        layout,
    )


# --- searches in worker processes (``search_processes > 0``) --------------------------------------
# The GIL makes CPU-bound searches in threads compete with the IO loop; worker processes each open
# the catalog file themselves and send back the encoded result. A large search is split by start
# time across all the workers (a month of one program: ~50 ms in one, ~38 ms in two). A cancelled
# search that is already running in a process finishes there and its result is discarded.

_worker_catalog: Any = None
_worker_spill_prefix: str | None = None
# Bodies above this size come back as a file in /dev/shm (memory): the pool's pipe took ~35 ms for
# 13 MB (pickled, then written and read 64 KiB at a time), the file ~4 ms. A plain file write fails
# cleanly when /dev/shm is full (a container's 64 MB), where writing into a mapped SharedMemory
# would kill the worker with SIGBUS; the pipe is then the fallback.
_SPILL_ABOVE: Final = 256 * 1024


def _spill_prefix() -> str | None:
    """Path prefix of the files a server's workers leave their results in; None: use the pipe."""
    folder = "/dev/shm"
    if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        return None
    return os.path.join(folder, f"aurorax-core-{os.getpid()}-{uuid.uuid4().hex[:8]}-")


def _process_init(catalog_path: str, spill_prefix: str | None = None) -> None:
    global _worker_catalog, _worker_spill_prefix
    from ..backends.catalog import CatalogBackend

    # Ctrl+C in a terminal reaches the whole process group: the server shuts the pool down, a
    # worker interrupted on its own would only print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    _worker_catalog = CatalogBackend(catalog_path, readonly=True)
    _worker_spill_prefix = spill_prefix


def _process_ping() -> bool:
    return _worker_catalog is not None


def _process_search(
    payload: dict[str, Any], timeout: float, starting: tuple[datetime, datetime] | None = None
) -> tuple[str, Any, str | None]:
    """In a worker process: ("ok", SearchBody, the file holding its body or None) or
    ("error", message, None); never raises."""
    try:
        query = DataProductQuery.from_api_payload(payload)
        result = _worker_catalog.search_body(query, timeout=timeout, starting=starting)
    except AuroraXCoreError as exc:
        return "error", f"Search failed: {exc}", None
    except Exception as exc:  # reported in the request's log; the process stays usable
        return "error", f"Search failed with an internal error ({type(exc).__name__}: {exc})", None
    if _worker_spill_prefix is None or len(result.body) <= _SPILL_ABOVE:
        return "ok", result, None
    path = _worker_spill_prefix + uuid.uuid4().hex
    try:
        with open(path, "xb") as spill:
            spill.write(result.body)
    except OSError:  # e.g. /dev/shm is full: send it through the pipe
        with suppress(OSError):
            os.unlink(path)
        return "ok", result, None
    return "ok", result._replace(body=b""), path


def _take_spilled(result: SearchBody, path: str | None) -> SearchBody:
    """The worker's result with its body read back from the file it left, which is removed."""
    if path is None:
        return result
    try:
        with open(path, "rb") as spill:
            body = spill.read()
    finally:
        with suppress(OSError):
            os.unlink(path)
    return result._replace(body=body)


def _collect(outcomes: list[Any]) -> tuple[SearchBody | None, str | None]:
    """The parts' outcomes as (the joined result, None) or (None, the first failure); (None, None)
    when the parts wrote a source differently (the catalog changed between them). Every body a
    worker left in a file is read back and the file removed, whatever happened to the search."""
    failure: str | None = None
    parts: list[SearchBody] = []
    for outcome in outcomes:
        if isinstance(outcome, BrokenProcessPool):
            failure = failure or (
                "Search failed: a search process stopped abruptly (killed, or out of memory); the server "
                "started new ones: run the search again"
            )
            continue
        if isinstance(outcome, BaseException):
            failure = failure or f"Search failed: the search worker stopped ({type(outcome).__name__}: {outcome})"
            continue
        kind, value, spilled = outcome
        if kind != "ok":
            failure = failure or str(value)
            continue
        try:
            parts.append(_take_spilled(value, spilled))
        except OSError as exc:
            failure = failure or f"Search failed: its result could not be read back ({exc})"
    if failure is not None:
        return None, failure
    return SearchBody.concat(parts), None


async def _search_in_parts(
    state: ServerState, payload: dict[str, Any], ranges: list[tuple[datetime, datetime] | None]
) -> tuple[SearchBody | None, str | None]:
    """One search in the process pool, one part per start-time range (None: the whole query)."""
    pool = state.process_pool
    assert pool is not None
    loop = asyncio.get_running_loop()
    try:
        outcomes = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _process_search, payload, state.search_timeout, starting)
                for starting in ranges
            ),
            return_exceptions=True,
        )
    except Exception as exc:  # the pool broke or shut down before the parts were queued
        outcomes = [exc]
    if any(isinstance(outcome, BrokenProcessPool) for outcome in outcomes):
        state.replace_broken_process_pool(pool)
    try:
        # reading back and joining ~13 MB takes a few ms: not on the IO loop
        return await loop.run_in_executor(state.read_pool, _collect, outcomes)
    except RuntimeError:  # the server is shutting down: still remove the files
        return _collect(outcomes)


async def run_search_in_process(state: ServerState, entry: SearchEntry) -> None:
    """Run one search in the process pool, split across its workers when large, and record its
    logs and result (never raises)."""
    registry = state.registry
    started = time.perf_counter()
    registry.add_log(entry, "info", f"Starting query for {entry.request_id}")
    payload = entry.query.to_api_payload()
    ranges: list[tuple[datetime, datetime] | None] = [None]
    split = getattr(state.catalog, "start_ranges", None)
    if split is not None and state.search_processes > 1:
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                state.read_pool, split, entry.query, state.search_processes
            )
        except (AuroraXCoreError, RuntimeError):
            found = []  # the workers report a catalog error themselves; RuntimeError: shutting down
        if len(found) > 1:
            ranges = list(found)
    value, failure = await _search_in_parts(state, payload, ranges)
    if value is None and failure is None:  # the parts saw different catalogs: once more, whole
        value, failure = await _search_in_parts(state, payload, [None])
    if entry.finished:  # cancelled meanwhile
        return
    if value is None:
        registry.fail(entry, failure or "Search failed", int((time.perf_counter() - started) * 1000))
        return
    registry.add_log(entry, "info", f"Finished query in {value.query_seconds:.2f} seconds.")
    registry.add_log(entry, "debug", "Starting to write data to file")
    _store_result(state, entry, value, started)


def _entry(state: ServerState, request_id: str) -> SearchEntry:
    if not _UUID_RE.match(request_id):
        raise ApiError(404, f"search request {request_id!r} not found: request ids are UUIDs")
    try:
        return state.registry.get(request_id.lower())
    except KeyError as exc:
        raise ApiError(404, str(exc.args[0])) from None


class RequestStatusHandler(BaseHandler):
    """``GET`` status and logs; ``DELETE`` cancels."""

    def get(self, request_id: str) -> None:
        self.send_json(_entry(self.state, request_id).status_bytes())

    def delete(self, request_id: str) -> None:
        _entry(self.state, request_id)
        try:
            entry = self.state.registry.cancel(request_id.lower())
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        self.send_json(entry.status_document())


class RequestDataHandler(BaseHandler):
    """``GET`` the result; ``POST`` it with a response-format tree."""

    def compute_etag(self) -> str | None:
        # No ETag: tornado would SHA-1 every body (~25 ms for a 22 MB result, on the path of
        # every search) for a header no AuroraX client uses; a result never changes anyway.
        return None

    async def get(self, request_id: str) -> None:
        entry = self._ready(request_id)
        fmt = parse_source_format(self.arg("data_source_record_format"))
        if fmt == "basic_info":
            self.send_json(entry.result or b'{"result": []}')
            return
        if entry.result is not None and entry.layout is not None:
            self.send_json(await self._spliced(entry.result, entry.layout, fmt))
            return
        records = json.loads(entry.result or b'{"result": []}')["result"]
        await self._replace_sources(records, fmt)
        self.send_json({"result": records})

    async def post(self, request_id: str) -> None:
        entry = self._ready(request_id)
        tree = validate_response_format(self.json_body(default={}, what="the response format"))
        records = json.loads(entry.result or b'{"result": []}')["result"]
        if needs_full_source(tree):
            await self._replace_sources(records, "full_record")
        self.send_json({"result": apply_response_format(records, tree) if tree else records})

    def _ready(self, request_id: str) -> SearchEntry:
        entry = _entry(self.state, request_id)
        if not entry.finished:
            raise ApiError(
                409,
                f"search request {entry.request_id} is still running; poll its status until data_uri is set",
                "Conflict",
            )
        if entry.error_message is not None:
            raise ApiError(409, f"search request {entry.request_id} has no data: {entry.error_message}", "Conflict")
        return entry

    async def _spliced(self, body: bytes, layout: SourceLayout, fmt: str) -> bytes:
        """The stored body with its data sources in another format, without decoding it."""
        by_id: dict[int | None, DataSource] = {}
        if fmt != "identifier_only":
            by_id = {s.identifier: s for s in await self.read(self.state.catalog.list_sources)}
        texts = {}
        for identifier, written in layout.source_texts.items():
            source = by_id.get(identifier)
            if fmt == "identifier_only":
                texts[identifier] = json.dumps({"identifier": identifier}).encode("ascii")
            elif source is None:  # deleted since the search: keep what the search wrote
                texts[identifier] = written
            else:
                texts[identifier] = json.dumps(source.to_api_dict(fmt)).encode("ascii")
        # ~8 ms for 20,000 records: off the IO loop, like the searches
        return await self.read(layout.replace_sources, body, texts)

    async def _replace_sources(self, records: list[dict[str, Any]], fmt: str) -> None:
        sources = await self.read(self.state.catalog.list_sources)
        by_id = {s.identifier: s.to_api_dict(fmt) for s in sources}
        for record in records:
            full = by_id.get(record["data_source"].get("identifier"))
            if full is not None:
                record["data_source"] = full


class SynchronousSearchHandler(BaseHandler):
    """``POST /api/v1/data_products/search_synchronous``: ``{"query", "response_format"}`` -> array."""

    async def post(self) -> None:
        body = self.json_body(what="the synchronous search body")
        if not isinstance(body, dict) or "query" not in body:
            raise ApiError(
                400, 'the body must be {"query": {...}, "response_format": {...}} (response_format optional)'
            )
        query = _parse_query(body["query"])
        tree = body.get("response_format")
        tree = None if tree is None else validate_response_format(tree)
        fmt = parse_source_format(self.arg("data_source_record_format"))
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self.state.search_pool, lambda: self.state.catalog.search(query, timeout=self.state.search_timeout)
            )
        except AuroraXCoreError as exc:
            raise ApiError(_status_for(exc), f"search failed: {exc}") from None
        if tree and needs_full_source(tree):
            fmt = "full_record"
        records = [p.to_api_dict(fmt) for p in result.data]
        self.send_json(apply_response_format(records, tree) if tree else records)


class DescribeHandler(BaseHandler):
    """``POST /api/v1/utils/describe/query/data_products``: a JSON string."""

    def post(self) -> None:
        query = _parse_query(self.json_body(what="the query to describe"))
        self.send_json(query.describe())


# --- data sources -------------------------------------------------------------------------------


def _single(name: str, value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


class DataSourcesHandler(BaseHandler):
    """``GET`` lists sources (exact-match filters); ``POST`` adds one (API key)."""

    async def get(self) -> None:
        fmt = parse_source_format(self.arg("format"))
        include_stats = parse_bool("include_stats", self.arg("include_stats"))
        sources = await self.read(
            self.state.catalog.list_sources,
            programs=_single("program", self.arg("program")),
            platforms=_single("platform", self.arg("platform")),
            instrument_types=_single("instrument_type", self.arg("instrument_type")),
            source_type=self.arg("source_type") or None,
            owner=self.arg("owner") or None,
            include_stats=include_stats,
        )
        self.send_json([source_document(s, fmt, include_stats) for s in _sorted(sources)])

    async def post(self) -> None:
        self.require_write_key()
        body = self.json_body(what="the data source")
        source = _source_from_body(body, require_all=True)
        created = await self.read(self.state.catalog.add_source, source)
        self.send_json(source_document(created, "full_record", False))


def _sorted(sources: Iterable[DataSource]) -> list[DataSource]:
    return sorted(sources, key=lambda s: (s.identifier is None, s.identifier or 0))


def _source_from_body(body: Any, *, require_all: bool) -> DataSource:
    if not isinstance(body, dict):
        raise ApiError(400, f"a data source must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - _SOURCE_WRITE_KEYS)
    if unknown:
        raise ApiError(400, f"unknown data source field(s) {', '.join(unknown)}")
    for key in ("program", "platform", "instrument_type", "source_type", "display_name", "owner"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ApiError(400, f"data source field {key!r} must be a string, got {body[key]!r}")
    if body.get("identifier") is not None and (
        isinstance(body["identifier"], bool) or not isinstance(body["identifier"], int)
    ):
        raise ApiError(400, f"data source identifier must be an integer, got {body['identifier']!r}")
    for key in ("ephemeris_metadata_schema", "data_product_metadata_schema", "maintainers"):
        if body.get(key) is not None and not isinstance(body[key], list):
            raise ApiError(400, f"data source field {key!r} must be a list, got {body[key]!r}")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise ApiError(400, f"data source field 'metadata' must be an object, got {body['metadata']!r}")
    if require_all:
        missing = [
            k for k in ("program", "platform", "instrument_type", "source_type", "display_name") if not body.get(k)
        ]
        if missing:
            raise ApiError(400, f"the data source is missing {', '.join(missing)}")
    data = {k: v for k, v in body.items() if k not in ("stats", "format")}
    try:
        return DataSource.from_api_dict(data) if require_all else DataSource(**_partial(data))
    except RecordValidationError as exc:
        raise ApiError(400, str(exc)) from None


def _partial(data: dict[str, Any]) -> dict[str, Any]:
    # For PATCH: unset fields stay None ("omitted fields are ignored" by the catalog's update).
    fields = dict.fromkeys(("identifier", "program", "platform", "instrument_type"), None)
    fields.update({k: v for k, v in data.items() if v is not None})
    return fields


class DataSourcesSearchHandler(BaseHandler):
    """``POST /api/v1/data_sources/search``: lists of programs/platforms/instrument types."""

    async def post(self) -> None:
        fmt = parse_source_format(self.arg("format"))
        include_stats = parse_bool("include_stats", self.arg("include_stats"))
        body = self.json_body(default={}, what="the data source search")
        if not isinstance(body, dict):
            raise ApiError(400, 'the body must be an object like {"programs": ["trex"], "platforms": [], ...}')
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("programs", "platforms", "instrument_types"):
            value = body.get(key)
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ApiError(400, f"{key} must be a list of strings, got {value!r}")
            lists[key] = tuple(value)
        sources = await self.read(self.state.catalog.list_sources, include_stats=include_stats, **lists)
        self.send_json([source_document(s, fmt, include_stats) for s in _sorted(sources)])


class DataSourceHandler(BaseHandler):
    """``GET``/``PATCH``/``DELETE /api/v1/data_sources/{identifier}``."""

    async def get(self, identifier: str) -> None:
        fmt = parse_source_format(self.arg("format"))
        include_stats = parse_bool("include_stats", self.arg("include_stats"))
        source = await self._source(identifier, include_stats)
        self.send_json(source_document(source, fmt, include_stats))

    async def patch(self, identifier: str) -> None:
        self.require_write_key()
        number = parse_identifier(identifier)
        await self._source(identifier, False)
        body = self.json_body(what="the data source update")
        if isinstance(body, dict) and body.get("identifier") not in (None, number):
            raise ApiError(400, f"the body's identifier {body['identifier']!r} differs from the URL's {number}")
        changes = {k: v for k, v in (body.items() if isinstance(body, dict) else ()) if v is not None}
        _source_from_body(body, require_all=False)  # type checks
        changes.pop("identifier", None)
        changes.pop("stats", None)
        changes.pop("format", None)
        updated = await self.read(self.state.catalog.update_source, number, changes)
        self.send_json(source_document(updated, "full_record", False))

    async def delete(self, identifier: str) -> None:
        self.require_write_key()
        number = parse_identifier(identifier)
        await self._source(identifier, False)
        await self.read(self.state.catalog.delete_source, number)
        self.set_status(200)
        self.finish()

    async def _source(self, identifier: str, include_stats: bool) -> DataSource:
        return await get_source(self, identifier, include_stats)


async def get_source(handler: BaseHandler, identifier: str, include_stats: bool = False) -> DataSource:
    """The catalog's source for a path identifier.

    Raises:
        ApiError: 400 for a non-integer id, 404 (AuroraX wording) for an unknown one.
    """
    number = parse_identifier(identifier)
    try:
        source = await handler.read(handler.state.catalog.get_source, number, include_stats=include_stats)
    except ApiError as exc:
        if exc.status != 404:
            raise
        source = None
    if source is None:
        raise ApiError(404, f"No Data Source record found in AuroraX for identifier {number}")
    return source


class DataProductsUploadHandler(BaseHandler):
    """``POST`` uploads records to a source, ``DELETE`` removes records by URL (API key for both)."""

    async def post(self, identifier: str) -> None:
        self.require_write_key()
        body = self.json_body(what="the data products to upload")
        source = await get_source(self, identifier)
        if not isinstance(body, list):
            raise ApiError(400, f"the upload body must be a JSON array of data products, got {type(body).__name__}")
        products = validate_upload(source, body)
        records = [
            {
                "data_product_type": p.data_product_type,
                "start": format_time(p.start),
                "end": format_time(p.end),
                "url": p.url,
                "metadata": p.metadata,
            }
            for p in products
        ]
        # the catalog writes the whole batch in one transaction (nothing on error)
        await self.read(self.state.catalog.upload_products, source.identifier, records)
        self.set_status(202)
        self.clear_header("Content-Type")
        self.finish()

    async def delete(self, identifier: str) -> None:
        self.require_write_key()
        body = self.json_body(what="the delete request")
        source = await get_source(self, identifier)
        if not isinstance(body, dict):
            raise ApiError(400, 'the body must be {"program", "platform", "instrument_type", "urls": [...]}')
        _check_triple(source, body, "the delete request")
        urls = body.get("urls")
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise ApiError(400, f"'urls' must be a list of non-empty strings, got {urls!r}")
        if urls:
            await self.read(self.state.catalog.delete_products, source.identifier, list(dict.fromkeys(urls)))
        self.set_status(200)
        self.clear_header("Content-Type")
        self.finish()


def _check_triple(source: DataSource, record: Mapping[str, Any], where: str) -> None:
    for key, expected in zip(("program", "platform", "instrument_type"), source.key, strict=True):
        value = record.get(key)
        if value is None:
            raise ApiError(400, f"{where} has no {key!r}; it must be {expected!r} for data source {source.identifier}")
        if value != expected:
            raise ApiError(
                400,
                f"{where}: {key} {value!r} does not match data source {source.identifier} "
                f"({'/'.join(source.key)}); upload it to the right data source",
            )


def validate_upload(source: DataSource, records: list[Any]) -> list[DataProduct]:
    """Check a whole upload batch before anything is written.

    Raises:
        ApiError: 400 naming the first bad record.
    """
    products: list[DataProduct] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        where = f"record {index}"
        if not isinstance(record, dict):
            raise ApiError(400, f"{where} is not a JSON object")
        unknown = sorted(set(record) - _UPLOAD_KEYS)
        if unknown:
            raise ApiError(400, f"{where} has unknown field(s) {', '.join(unknown)}")
        _check_triple(source, record, where)
        missing = [k for k in ("start", "end", "url", "data_product_type") if record.get(k) in (None, "")]
        if missing:
            raise ApiError(400, f"{where} is missing {', '.join(missing)}")
        data = {k: v for k, v in record.items() if k not in ("program", "platform", "instrument_type", "data_source")}
        try:
            product = DataProduct.from_api_dict(data, data_source=source)
        except RecordValidationError as exc:
            raise ApiError(400, f"{where}: {exc}") from None
        if product.url in seen:
            raise ApiError(400, f"{where}: url {product.url!r} appears twice in the upload; URLs identify records")
        seen.add(product.url)
        products.append(product)
    return products


class AvailabilityHandler(BaseHandler):
    """``GET /api/v1/availability/data_products``: per-source, per-day counts."""

    async def get(self) -> None:
        today = datetime.now(UTC).date()
        start = parse_date("start", self.arg("start"), date(today.year, 1, 1))
        try:
            default_end = start + timedelta(days=365)  # the API's default: twelve months
        except OverflowError:
            default_end = date.max
        end = parse_date("end", self.arg("end"), default_end)
        if end < start:
            raise ApiError(400, f"end ({end}) is before start ({start}); swap them")
        if end - start > MAX_AVAILABILITY_SPAN:
            raise ApiError(400, f"the range {start} .. {end} spans more than 25 years; narrow it")
        fmt = parse_source_format(self.arg("format"))
        parse_bool("slow", self.arg("slow"))  # every count is exact here; validated only
        items = await self.read(
            self.state.catalog.availability,
            start,
            end,
            program=self.arg("program") or None,
            platform=self.arg("platform") or None,
            instrument_type=self.arg("instrument_type") or None,
            source_type=self.arg("source_type") or None,
            owner=self.arg("owner") or None,
        )
        self.send_json([item.to_api_dict(fmt) for item in items])


class AdminSearchRequestsHandler(BaseHandler):
    """``GET /api/v1/utils/admin/search_requests``: the kept requests (any configured key is admin)."""

    def get(self) -> None:
        self.require_write_key()
        search_type = self.arg("search_type")
        if search_type not in (None, "", "data_product", "conjunction", "ephemeris"):
            raise ApiError(400, f"search_type {search_type!r} must be data_product, conjunction or ephemeris")
        active = self.arg("active")
        want_active = None if active is None else parse_bool("active", active)
        error = self.arg("error_condition")
        want_error = None if error is None else parse_bool("error_condition", error)
        since = _optional_time(self.arg("start"), "start")
        until = _optional_time(self.arg("end"), "end")
        minimums = {
            key: _optional_number(self.arg(key), key) for key in ("file_size", "result_count", "query_duration")
        }
        out = []
        if search_type in (None, "", "data_product"):
            for entry in self.state.registry.entries():
                listing = entry.listing()
                if want_active is not None and listing["active"] != want_active:
                    continue
                if want_error is not None and listing["error_condition"] is not want_error:
                    continue
                if (since is not None and entry.requested < since) or (until is not None and entry.requested > until):
                    continue
                size_kb = (listing["file_size"] or 0) / 1000
                values = {"file_size": size_kb, "result_count": listing["result_count"] or 0}
                values["query_duration"] = listing["query_duration"] or 0
                if any(m is not None and values[k] < m for k, m in minimums.items()):
                    continue
                out.append(listing)
        self.send_json(out)


class AdminSearchRequestHandler(BaseHandler):
    """``DELETE /api/v1/utils/admin/search_requests/{id}``: forget a request and its result."""

    def delete(self, request_id: str) -> None:
        self.require_write_key()
        _entry(self.state, request_id)
        try:
            self.state.registry.remove(request_id.lower())
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        self.send_json({})


def _optional_time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value, field_name=name)
    except RecordValidationError as exc:
        raise ApiError(400, str(exc)) from None


def _optional_number(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise ApiError(400, f"query parameter {name}={value!r} is not a number") from None


# --- the application ----------------------------------------------------------------------------


def _routes(state: ServerState) -> list[tuple[str, type[BaseHandler], dict[str, Any]]]:
    kw = {"state": state}
    api = r"/+api/v1"
    return [
        (r"/*", RootHandler, kw),
        (rf"{api}/?", RootHandler, kw),
        (rf"{api}/data_products/search/?", SubmitHandler, kw),
        (rf"{api}/data_products/search_synchronous/?", SynchronousSearchHandler, kw),
        (rf"{api}/data_products/requests/([^/]+)/?", RequestStatusHandler, kw),
        (rf"{api}/data_products/requests/([^/]+)/data/?", RequestDataHandler, kw),
        (rf"{api}/utils/describe/query/data_products/?", DescribeHandler, kw),
        (rf"{api}/data_sources/?", DataSourcesHandler, kw),
        (rf"{api}/data_sources/search/?", DataSourcesSearchHandler, kw),
        (rf"{api}/data_sources/([^/]+)/?", DataSourceHandler, kw),
        (rf"{api}/data_sources/([^/]+)/data_products/?", DataProductsUploadHandler, kw),
        (rf"{api}/availability/data_products/?", AvailabilityHandler, kw),
        (rf"{api}/utils/admin/search_requests/?", AdminSearchRequestsHandler, kw),
        (rf"{api}/utils/admin/search_requests/([^/]+)/?", AdminSearchRequestHandler, kw),
    ]


def make_app(
    catalog: Any,
    *,
    api_keys: Iterable[str] = (),
    result_ttl: float = 3600.0,
    max_requests: int = 5000,
    max_result_bytes: int = 256 * 1024 * 1024,
    max_pending: int = 256,
    workers: int = 4,
    submit_wait: float = 0.1,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    search_processes: int = 0,
    search_timeout: float = 300.0,
) -> tornado.web.Application:
    """The tornado application serving the AuroraX API over ``catalog`` (a CatalogBackend).

    ``app.settings["aurorax_state"]`` is the :class:`ServerState`; call its ``close()`` when done.
    Searches run in ``workers`` threads, or, with ``search_processes > 0``, in that many worker
    processes (each opens the catalog file read-only), which keeps the IO loop responsive under load.
    A search running longer than ``search_timeout`` seconds fails with that reason in its log.

    Raises:
        ValueError: a limit is not positive.
    """
    if workers < 1 or max_body_bytes < 1 or submit_wait < 0 or search_timeout <= 0 or search_processes < 0:
        raise ValueError(
            "workers, max_body_bytes and search_timeout must be positive, submit_wait and search_processes >= 0"
        )
    registry = RequestRegistry(
        ttl=result_ttl, max_entries=max_requests, max_bytes=max_result_bytes, max_pending=max_pending
    )
    state = ServerState(
        catalog=catalog,
        registry=registry,
        api_keys=frozenset(k.strip() for k in api_keys if k and k.strip()),
        search_pool=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aurorax-search"),
        read_pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="aurorax-read"),
        max_body_bytes=max_body_bytes,
        submit_wait=submit_wait,
        search_timeout=search_timeout,
        search_processes=search_processes,
        spill_prefix=_spill_prefix() if search_processes > 0 else None,
    )
    if search_processes > 0:
        path = getattr(catalog, "path", None)
        if path is None:
            raise ValueError("search_processes needs a catalog with a file path (a CatalogBackend)")
        spill_prefix = state.spill_prefix

        def new_pool() -> ProcessPoolExecutor:
            # spawn, not fork: the parent may already run threads (tests, the dashboard)
            return ProcessPoolExecutor(
                max_workers=search_processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_process_init,
                initargs=(str(path), spill_prefix),
            )

        state.process_pool_factory = new_pool
        state.process_pool = new_pool()
        for future in [state.process_pool.submit(_process_ping) for _ in range(search_processes)]:
            future.result(timeout=120)  # start and warm every worker before the first request
    return tornado.web.Application(
        _routes(state),  # type: ignore[arg-type]
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        aurorax_state=state,
        compress_response=False,
        log_function=_log_request,
    )


access_logger = logging.getLogger("aurorax_core.server.access")


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # 4xx answers are the client's mistake and already explained to it; only 5xx are warnings.
    status = handler.get_status()
    level = logging.WARNING if status >= 500 else logging.DEBUG
    if access_logger.isEnabledFor(level):
        access_logger.log(
            level,
            "%d %s %s %.2fms",
            status,
            handler.request.method,
            handler.request.uri,
            1000.0 * handler.request.request_time(),
        )
