"""The data-product search routes: submit, status, data, cancel, synchronous search, describe.

Every search, on either route, runs through ``state.searcher`` with the server's deadline, a cancel
token that reaches the work, and the result memory as its bound: a result larger than
``--result-memory`` is refused with the same message on both routes, and results on their way
(read back from a worker, sent by the synchronous route) hold their size of that memory until they
are stored or sent, so concurrent large searches cannot together exceed it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any, Final

from ..errors import QueryValidationError
from ..models import DataSource
from ..query import MAX_QUERY_BYTES, DataProductQuery, too_large_message
from ..results import SearchBody, SourceLayout
from .base import BaseHandler
from .registry import RequestLimitReached, SearchEntry
from .state import ServerState
from .wire import ApiError, apply_response_format, needs_full_source, parse_source_format, validate_response_format
from .workers import LinkedCancelToken, Outcome
from .workers import too_large_message as result_too_large

logger = logging.getLogger("aurorax_core.server")

_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RESULT_HEAD: Final = len(b'{"result": ')


class QueryHandler(BaseHandler):
    """A route whose body is a query: at most MAX_QUERY_BYTES, refused with 413 before parsing."""

    body_limit = MAX_QUERY_BYTES

    def too_large_message(self) -> str:
        return too_large_message(self._declared or self._body_size or None)

    def parse_query(self, payload: Any) -> DataProductQuery:
        try:
            return DataProductQuery.from_api_payload(payload)
        except QueryValidationError as exc:
            raise ApiError(400, f"invalid data product query: {exc}") from None


class SubmitHandler(QueryHandler):
    """``POST /api/v1/data_products/search``: 202 and an absolute Location."""

    async def post(self) -> None:
        query = self.parse_query(self.json_body(what="the search query"))
        try:
            entry = await self.registry_call(self.state.registry.create, query, self.request.remote_ip or "")
        except RequestLimitReached as exc:
            raise ApiError(429, str(exc)) from None
        future = asyncio.ensure_future(run_search(self.state, entry))
        if self.state.submit_wait > 0:
            # Answer as soon as a quick search is done (or after submit_wait): the client's first
            # status poll then already finds the data, and no poll interval is slept.
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout=self.state.submit_wait)
            except (TimeoutError, asyncio.CancelledError):
                pass
            except Exception:  # run_search records its own failures; this only guards the answer
                logger.exception("search %s raised", entry.request_id)
        self.set_header("Location", f"{self._base_url()}/api/v1/data_products/requests/{entry.request_id}")
        self.send_empty(202)

    def _base_url(self) -> str:
        """The configured public URL, else the address this connection reached: never the client's
        Host header, which anyone can set (``Host: evil.example`` must not become the Location)."""
        if self.state.public_url:
            return self.state.public_url
        sockname = self.request.connection.stream.socket.getsockname()  # type: ignore[union-attr]
        host = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
        return f"http://{host}:{sockname[1]}"


async def run_search(state: ServerState, entry: SearchEntry) -> None:
    """Run one asynchronous search and record its logs and result (never raises)."""
    registry = state.registry
    if entry.finished:  # cancelled before it started
        return
    started = time.perf_counter()
    registry.add_log(entry, "info", f"Starting query for {entry.request_id}")
    try:
        outcome = await state.searcher.run(
            entry.query, entry.cancel, time.monotonic() + state.search_timeout, state.search_timeout, registry.max_bytes
        )
    except Exception as exc:  # a bug must not leave the request pending forever
        logger.exception("search %s failed", entry.request_id)
        outcome = Outcome(failure=f"internal error ({type(exc).__name__}: {exc})")
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    if entry.finished:  # cancelled meanwhile: registry.cancel() wrote the log
        return
    failure: str | None = None
    if outcome.cancelled:  # stopped, but not by the client: the server is stopping
        failure = "Search failed: the server stopped this search (it is shutting down)"
    elif outcome.too_large is not None:
        count, size = outcome.too_large
        failure = "Search failed: " + result_too_large(count, size, registry.max_bytes, outcome.partial)
        elapsed_ms = 0
    elif outcome.body is None:
        failure = f"Search failed: {outcome.failure or 'unknown reason'}"
    else:
        result = outcome.body
        stored = len(result.body) + (result.layout.nbytes if result.layout is not None else 0)
        if registry.reserve(stored):
            registry.add_log(entry, "info", f"Finished query in {result.query_seconds:.2f} seconds.")
            registry.add_log(entry, "debug", "Starting to write data to file")
            await _finish(state, _store_result, state, entry, result, started, stored)
            return
        failure = "Search failed: " + result_too_large(result.count, stored, registry.max_bytes)
        elapsed_ms = 0
    await _finish(state, registry.fail, entry, failure, elapsed_ms)


async def _finish(state: ServerState, fn: Any, *args: Any) -> None:
    """Record how a search ended: off the IO loop when the registry writes to a database."""
    if not state.registry.blocking:
        fn(*args)
        return
    try:
        await asyncio.get_running_loop().run_in_executor(state.read_pool, fn, *args)
    except RuntimeError:  # the server is shutting down (the pool is closed): record it here
        fn(*args)


def _store_result(state: ServerState, entry: SearchEntry, result: SearchBody, started: float, reserved: int) -> None:
    body, count, _query_s, write_s, layout = result
    total_s = time.perf_counter() - started
    state.registry.complete(
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
        reserved=reserved,
    )


async def request_entry(handler: BaseHandler, request_id: str, *, with_result: bool = True) -> SearchEntry:
    if not _UUID_RE.match(request_id):
        raise ApiError(404, f"search request {request_id!r} not found: request ids are UUIDs")
    try:
        return await handler.registry_call(handler.state.registry.get, request_id.lower(), with_result=with_result)
    except KeyError as exc:
        raise ApiError(404, str(exc.args[0])) from None


class RequestStatusHandler(BaseHandler):
    """``GET`` status and logs; ``DELETE`` cancels (and stops the work where it runs)."""

    async def get(self, request_id: str) -> None:
        self.send_json((await request_entry(self, request_id, with_result=False)).status_bytes())

    async def delete(self, request_id: str) -> None:
        await request_entry(self, request_id, with_result=False)
        try:
            entry = await self.registry_call(self.state.registry.cancel, request_id.lower())
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        self.send_json(entry.status_document())


class SourceFormats(BaseHandler):
    """Data sources of a stored body in another record format."""

    async def spliced(self, body: bytes, layout: SourceLayout, fmt: str) -> bytes:
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

    async def replace_sources(self, records: list[dict[str, Any]], fmt: str) -> None:
        sources = await self.read(self.state.catalog.list_sources)
        by_id = {s.identifier: s.to_api_dict(fmt) for s in sources}
        for record in records:
            full = by_id.get(record["data_source"].get("identifier"))
            if full is not None:
                record["data_source"] = full


class RequestDataHandler(SourceFormats):
    """``GET`` the result; ``POST`` it with a response-format tree."""

    def compute_etag(self) -> str | None:
        # No ETag: tornado would SHA-1 every body (~25 ms for a 22 MB result, on the path of
        # every search) for a header no AuroraX client uses; a result never changes anyway.
        return None

    async def get(self, request_id: str) -> None:
        entry = await self._ready(request_id)
        fmt = parse_source_format(self.arg("data_source_record_format"))
        if fmt == "basic_info":
            self.send_json(entry.result or b'{"result": []}')
            return
        if entry.result is not None and entry.layout is not None:
            self.send_json(await self.spliced(entry.result, entry.layout, fmt))
            return
        records = json.loads(entry.result or b'{"result": []}')["result"]
        await self.replace_sources(records, fmt)
        self.send_json({"result": records})

    async def post(self, request_id: str) -> None:
        entry = await self._ready(request_id)
        tree = validate_response_format(self.json_body(default={}, what="the response format"))
        records = json.loads(entry.result or b'{"result": []}')["result"]
        if needs_full_source(tree):
            await self.replace_sources(records, "full_record")
        self.send_json({"result": apply_response_format(records, tree) if tree else records})

    async def _ready(self, request_id: str) -> SearchEntry:
        entry = await request_entry(self, request_id)
        if not entry.finished:
            raise ApiError(
                409,
                f"search request {entry.request_id} is still running; poll its status until data_uri is set",
                "Conflict",
            )
        if entry.error_message is not None:
            raise ApiError(409, f"search request {entry.request_id} has no data: {entry.error_message}", "Conflict")
        return entry


class SynchronousSearchHandler(SourceFormats, QueryHandler):
    """``POST /api/v1/data_products/search_synchronous``: ``{"query", "response_format"}`` -> array.

    The same searcher, deadline and result limit as the asynchronous route; a client that goes
    away cancels its search, and the answer holds its size of the result memory until it is sent.
    """

    _token: LinkedCancelToken | None = None
    _held = 0

    def finish(self, chunk: Any = None) -> Any:
        done = super().finish(chunk)
        # the answer holds its share of the result memory until its last byte is sent
        done.add_done_callback(lambda _: self._release())
        return done

    def on_connection_close(self) -> None:
        if self._token is not None:  # the client went away: stop its search where it runs
            self._token.cancel()
        self._release()
        super().on_connection_close()

    def _release(self) -> None:
        if self._held:
            self.state.registry.release(self._held)
            self._held = 0

    async def post(self) -> None:
        body = self.json_body(what="the synchronous search body")
        if not isinstance(body, dict) or "query" not in body:
            raise ApiError(
                400, 'the body must be {"query": {...}, "response_format": {...}} (response_format optional)'
            )
        query = self.parse_query(body["query"])
        tree = body.get("response_format")
        tree = None if tree is None else validate_response_format(tree)
        fmt = parse_source_format(self.arg("data_source_record_format"))
        registry = self.state.registry
        self._token = LinkedCancelToken()
        outcome = await self.state.searcher.run(
            query,
            self._token,
            time.monotonic() + self.state.search_timeout,
            self.state.search_timeout,
            registry.max_bytes,
        )
        if outcome.cancelled:
            raise ApiError(503, "search failed: the search was cancelled (the server is stopping, or the client left)")
        if outcome.too_large is not None:
            count, size = outcome.too_large
            raise ApiError(413, "search failed: " + result_too_large(count, size, registry.max_bytes, outcome.partial))
        if outcome.body is None:
            raise ApiError(400, f"search failed: {outcome.failure}")
        result = outcome.body
        if not registry.reserve(len(result.body)):
            raise ApiError(
                413, "search failed: " + result_too_large(result.count, len(result.body), registry.max_bytes)
            )
        self._held = len(result.body)
        if tree:
            records = json.loads(result.body)["result"]
            if needs_full_source(tree):
                await self.replace_sources(records, "full_record")
            self.send_json(apply_response_format(records, tree))
            return
        encoded = result.body
        if fmt != "basic_info" and result.layout is not None:
            encoded = await self.spliced(encoded, result.layout, fmt)
        del outcome, result  # the answer below is the one copy this route holds
        # the stored form is {"result": [...]}; this route answers the bare array
        self.send_json(encoded[_RESULT_HEAD:-1] if encoded.startswith(b'{"result": ') else b"[]")


class DescribeHandler(QueryHandler):
    """``POST /api/v1/utils/describe/query/data_products``: a JSON string."""

    def post(self) -> None:
        query = self.parse_query(self.json_body(what="the query to describe"))
        self.send_json(query.describe())
