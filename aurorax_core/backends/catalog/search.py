"""Searching the catalog: ``search`` (records), ``search_body`` (the AuroraX response body),
``start_ranges`` (a split for parallel workers), ``products_by_url``."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...errors import CatalogError, QueryValidationError
from ...events import (
    STAGE_AVAILABLE,
    STAGE_CREATED,
    STAGE_REQUEST_ID,
    STAGE_RETRIEVED,
    STAGE_RETRIEVING,
    STAGE_SUBMITTED,
    STAGE_WAITING,
    CancelToken,
    ProgressCallback,
)
from ...models import DataProduct
from ...progress import emit, natural_size
from ...query import DataProductQuery
from ...results import LogEntry, SearchBody, SearchResult
from . import planner
from .codec import build_products, encode_body
from .deadline import _check_stop
from .store import CatalogStore, _chunks, _locked, _locked_message, _SourceCache


class _Search(CatalogStore):
    """The read path of a search, from a query to records or to a response body."""

    def describe(self, query: DataProductQuery) -> str:
        """The AuroraX-style description of the query (``query.describe()``)."""
        return query.describe()

    def search(
        self,
        query: DataProductQuery,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Run a search (PROTOCOL §3.7 semantics); records are sorted by start, then URL.

        Emits the AuroraX stages through ``progress``; never writes to the catalog.
        ``file_size`` is the exact size of the result as the AuroraX data endpoint's JSON
        (``{"result": [...]}`` with basic_info data sources, ``json.dumps`` spacing).

        Raises:
            SearchCancelled: ``cancel`` was set.
            SearchTimeout: ``timeout`` seconds passed.
            CatalogError: the catalog cannot be read.
        """
        started = time.perf_counter()
        deadline = started + timeout if timeout is not None else None
        request_id = str(uuid.uuid4())
        emit(progress, STAGE_CREATED, "Search object created")
        logs = [LogEntry("debug", "Search request arrived and saved", datetime.now(UTC))]
        emit(progress, STAGE_SUBMITTED, "Request submitted", request_id)
        emit(progress, STAGE_REQUEST_ID, f"Request ID: {request_id}", request_id)
        emit(progress, STAGE_WAITING, "Waiting for data ...", request_id)
        _check_stop(cancel, deadline, timeout)
        logs.append(LogEntry("info", f"Starting query for {request_id}", datetime.now(UTC)))
        products, file_size = self._execute(query, cancel, deadline, timeout)
        query_done = time.perf_counter()
        logs.append(LogEntry("info", f"Finished query in {query_done - started:.2f} seconds.", datetime.now(UTC)))
        logs.append(LogEntry("debug", "Starting to write data to file", datetime.now(UTC)))
        n = len(products)
        logs.append(LogEntry("info", f"Finished writing data, found {n} records in 0.00 seconds.", datetime.now(UTC)))
        logs.append(LogEntry("debug", f"File size is {file_size} bytes.", datetime.now(UTC)))
        finished = time.perf_counter()
        logs.append(
            LogEntry(
                "info", f"Finished search in {finished - started:.2f} seconds and found {n} records.", datetime.now(UTC)
            )
        )
        emit(progress, STAGE_AVAILABLE, "Data is now available", request_id)
        emit(progress, STAGE_RETRIEVING, "Retrieving data ...", request_id)
        emit(
            progress,
            STAGE_RETRIEVED,
            f"Retrieved {natural_size(file_size)} of data containing {n} records",
            request_id,
            result_count=n,
            file_size=file_size,
        )
        return SearchResult(
            query=query,
            data=products,
            request_id=request_id,
            logs=logs,
            file_size=file_size,
            query_duration_ms=(finished - started) * 1000.0,
            elapsed_s=finished - started,
            backend=self.name,
        )

    def search_body(
        self,
        query: DataProductQuery,
        *,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
        starting: tuple[datetime, datetime] | None = None,
    ) -> SearchBody:
        """The AuroraX data endpoint's body for ``query``, made straight from the catalog rows.

        The bytes are exactly ``json.dumps({"result": [p.to_api_dict() for p in
        self.search(query).data]})`` (so their length is that search's ``file_size``), in about half
        the time: no DataProduct is built and each record's metadata is the JSON text the catalog
        stores. What the AuroraX-compatible server sends; the same errors as :meth:`search`.

        ``starting`` (first, last): only the records that also start in that range (inclusive;
        the query's end still bounds their end). The bodies of the ranges :meth:`start_ranges`
        returns, joined with :meth:`SearchBody.concat`, are the body of the whole query.
        """
        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        started = time.perf_counter()
        deadline = started + timeout if timeout is not None else None
        _check_stop(cancel, deadline, timeout)
        selected = self._select(query, cancel, deadline, timeout, as_bytes=True, starting=starting)
        queried = time.perf_counter()
        if selected is None:
            return SearchBody(b'{"result": []}', 0, queried - started, 0.0)
        rows, needs_python, cache = selected
        filters = query.metadata_filters if needs_python else ()
        body, layout = encode_body(
            rows, filters, query.metadata_filters_logical_operator, cache, cancel, deadline, timeout
        )
        return SearchBody(body, len(layout.record_sources), queried - started, time.perf_counter() - queried, layout)

    def start_ranges(
        self, query: DataProductQuery, parts: int, *, min_records: int = 4000
    ) -> list[tuple[datetime, datetime]]:
        """Split ``query`` by record start time into at most ``parts`` ranges of about equal size,
        for :meth:`search_body`'s ``starting`` (a server searching them in parallel processes).

        Sizes are estimated from the per-source day counts the catalog keeps (one small query), and
        cuts fall on UTC midnights. A query estimated below ``min_records`` per range, or within one
        day, stays whole: ``[(query.start, query.end)]``.

        Raises:
            CatalogError: the catalog cannot be read.
        """
        try:
            conn = self._conn()
            return planner.start_ranges(conn, self._sources(conn), query, parts, min_records)
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot read catalog {self._path}: {exc}") from None

    def _select(
        self,
        query: DataProductQuery,
        cancel: CancelToken | None,
        deadline: float | None,
        timeout: float | None,
        *,
        as_bytes: bool = False,
        starting: tuple[datetime, datetime] | None = None,
    ) -> tuple[list[tuple[Any, ...]], bool, _SourceCache] | None:
        """The prefiltered rows sorted by (start, url), whether the metadata filters must still run
        in Python, and the sources; None when nothing can match. ``as_bytes``: the url and metadata
        as UTF-8 bytes (what an encoded body is made of), not str."""
        conn = self._conn()
        try:
            cache = self._sources(conn)
            columns = planner._ROW_COLUMNS_BYTES if as_bytes else planner._ROW_COLUMNS
            plan = planner.plan(query, cache, columns, starting)
            if plan is None:
                return None
            sql, params, needs_python = plan
            rows = planner.fetch_rows(conn, sql, params, cancel, deadline, timeout)
        except sqlite3.Error as exc:
            if _locked(exc):
                raise CatalogError(_locked_message(self._path, "search")) from None
            raise CatalogError(f"cannot search catalog {self._path}: {exc}") from None
        return rows, needs_python, cache

    def _execute(
        self, query: DataProductQuery, cancel: CancelToken | None, deadline: float | None, timeout: float | None
    ) -> tuple[list[DataProduct], int]:
        selected = self._select(query, cancel, deadline, timeout)
        if selected is None:
            return [], len('{"result": []}')
        rows, needs_python, cache = selected
        # No garbage-collector pause here (there was one): measured in CPU time on the benchmark
        # catalog it changed nothing (10,000-60,000-record searches within +-3 %), and in a
        # multi-session server it switched the collector off for every thread.
        filters = query.metadata_filters if needs_python else ()
        return build_products(rows, filters, query.metadata_filters_logical_operator, cache, cancel, deadline, timeout)

    def products_by_url(self, urls: Sequence[str]) -> list[DataProduct]:
        """The products with these URLs, in the given order; unknown URLs are skipped."""
        conn = self._conn()
        cache = self._sources(conn)
        found: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(list(urls), 500):
            sql = f"SELECT {planner._ROW_COLUMNS} FROM products WHERE url IN ({','.join('?' * len(chunk))})"
            for row in conn.execute(sql, chunk):
                found[row[4]] = row
        rows = [found[u] for u in urls if u in found]
        return build_products(rows, (), "AND", cache, None, None, None)[0]

    # --- writes --------------------------------------------------------------------------------
