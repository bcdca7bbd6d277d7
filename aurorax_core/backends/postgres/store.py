"""The PostgreSQL catalog: the SQLite catalog's search semantics over a shared database server.

Several processes (dashboards, API servers, ingests) use one catalog at once: readers never wait
for a writer, writers take turns, every write is one transaction. Each process keeps a pool of
connections (``pool_max``, bounded wait ``pool_timeout``; see ``connect.py``), so searches may run
from many threads at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from ...errors import (
    CatalogError,
    NotFound,
    QueryValidationError,
    RecordValidationError,
    SearchCancelled,
    SearchTimeout,
)
from ...events import (
    CancelToken,
    ProgressCallback,
)
from ...models import DataProduct, DataSource
from ...query import DataProductQuery
from ...results import SearchBody, SearchResult
from ..base import Availability
from ..catalog import DEFAULT_BATCH_SIZE, IngestProgress, IngestSummary
from . import connect as pg
from . import lifecycle, views
from .ingest import ProductLoad, replace_sources, upsert_sources
from .plan import plan
from .requests import RequestLog
from .rows import SourceIndex, build_products, encode_body, load_sources, products_by_url, sort_rows
from .schema import SCHEMA_VERSION, ensure_schema
from .server_requests import ServerRequestTable

# how long a process trusts its copy of the sources before asking whether another changed them
SOURCES_RECHECK_S = 1.0
# how long a health check waits for a connection: a balancer wants an answer in a few seconds
CONNECTIVITY_WAIT = 2.0
_EPOCH = date(1970, 1, 1)


class PostgresBackend:
    """A catalog in a PostgreSQL database: a :class:`Backend` with request tracking, availability
    counts, metadata values and a time span.

    Args:
        url: ``postgresql://user:password@host:port/database`` (``pool_max`` / ``pool_timeout``
            may be added as query options).
        readonly: never create or upgrade the schema; writes raise CatalogError.

    Raises:
        BackendConfigurationError: the URL does not parse.
        CatalogUnavailable: the server cannot be reached.
        CatalogAccessDenied: wrong user or password, or no permission.
        CatalogSchemaError: no schema (read-only), an older one opened read-only or too old, a newer one.
    """

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self._target = pg.parse_url(url)
        self._readonly = readonly
        conn = pg.connect(self._target)
        try:
            with pg.translated(self._target, "prepare the catalog schema"):
                self._schema_version = ensure_schema(conn, self._target.display, readonly=readonly)
        finally:
            conn.close()
        self._pool = pg.make_pool(self._target)
        self._index: SourceIndex | None = None
        self._checked = 0.0
        self._index_lock = threading.Lock()
        self._requests = RequestLog(self._connection)
        self._server_requests = ServerRequestTable(self._connection)

    # --- connections -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"catalog {self._target.display}"

    @property
    def url(self) -> str:
        """The catalog URL with the password hidden."""
        return self._target.display

    @property
    def readonly(self) -> bool:
        return self._readonly

    @contextmanager
    def _connection(self, doing: str, wait: float | None = None) -> Iterator[Any]:
        """A pooled connection, waited for up to ``wait`` s (default: the pool's timeout); errors typed
        (the pool drops a broken connection, so the next call gets a working one)."""
        with pg.translated(self._target, doing, wait), self._pool.connection(timeout=wait) as conn:
            yield conn

    def close(self) -> None:
        self._pool.close()

    def check_connectivity(self) -> None:
        """Return when the database answers within :data:`CONNECTIVITY_WAIT` (health checks, which
        must answer in seconds, not the searches' pool timeout); raise CatalogUnavailable saying why not."""
        wait = min(CONNECTIVITY_WAIT, self._target.pool_timeout)
        with self._connection("check the catalog database", wait) as conn:
            conn.execute("SELECT 1").fetchone()

    def server_requests(self) -> ServerRequestTable:
        """The request store every ``aurorax-core serve`` over this database shares (the
        :class:`~aurorax_core.backends.base.SharedRequestStore` ability)."""
        if self._readonly:
            raise CatalogError(f"{self.name} was opened read-only; the shared request store needs a writable open")
        return self._server_requests

    def __enter__(self) -> PostgresBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresBackend({self._target.display!r}{', readonly=True' if self._readonly else ''})"

    def _sources(self, conn: Any | None = None) -> SourceIndex:
        now = time.monotonic()
        index = self._index
        if index is not None and now - self._checked < SOURCES_RECHECK_S:
            return index
        with self._index_lock:
            if conn is None:
                with self._connection("read the data sources") as own:
                    return self._sources_on(own, now)
            return self._sources_on(conn, now)

    def _sources_on(self, conn: Any, now: float) -> SourceIndex:
        row = conn.execute("SELECT value FROM aurorax.catalog_meta WHERE key = 'generation'").fetchone()
        generation = row[0] if row else ""
        if self._index is None or self._index.generation != generation:
            self._index = load_sources(conn, generation)
        self._checked = now
        return self._index

    def _forget_sources(self) -> None:
        self._index = None

    # --- data sources ----------------------------------------------------------------------------

    def list_sources(
        self,
        *,
        programs: tuple[str, ...] | list[str] = (),
        platforms: tuple[str, ...] | list[str] = (),
        instrument_types: tuple[str, ...] | list[str] = (),
        source_type: str | None = None,
        owner: str | None = None,
        include_stats: bool = False,
    ) -> list[DataSource]:
        """Full data-source records matching every given constraint, sorted by identifier."""
        index = self._sources()
        ids = index.select(tuple(programs), tuple(platforms), tuple(instrument_types))
        out = [
            index.by_id[sid]
            for sid in (sorted(index.by_id) if ids is None else ids)
            if (source_type is None or index.by_id[sid].source_type == source_type)
            and (owner is None or index.by_id[sid].owner == owner)
        ]
        if not include_stats or not out:
            return out
        with self._connection("read the source statistics") as conn:
            stats = views.source_stats(conn, [s.identifier for s in out if s.identifier is not None])
        return [replace(s, stats=stats.get(s.identifier or 0)) for s in out]

    def get_source(self, identifier: int, *, include_stats: bool = False) -> DataSource:
        """The data source with this identifier. Raises NotFound."""
        try:
            key = int(identifier)
        except (TypeError, ValueError):
            raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404) from None
        source = self._sources().by_id.get(key)
        if source is None:
            raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404)
        if not include_stats:
            return source
        with self._connection("read the source statistics") as conn:
            return replace(source, stats=views.source_stats(conn, [key])[key])

    def get_source_by_key(self, program: str, platform: str, instrument_type: str) -> DataSource:
        """The data source with this program/platform/instrument_type. Raises NotFound."""
        index = self._sources()
        sid = index.by_key.get((program, platform, instrument_type))
        if sid is None:
            raise NotFound(f"No matching data source found ({program}/{platform}/{instrument_type})", 404)
        return index.by_id[sid]

    # --- search ----------------------------------------------------------------------------------

    def describe(self, query: DataProductQuery) -> str:
        return query.describe()

    def _select(
        self,
        query: DataProductQuery,
        cancel: CancelToken | None,
        deadline: float | None,
        timeout: float | None,
        starting: tuple[datetime, datetime] | None = None,
    ) -> tuple[list[tuple[Any, ...]], bool, SourceIndex] | None:
        import psycopg

        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        _check_stop(cancel, deadline, timeout)
        index = self._sources()
        chosen = plan(query, index, starting)
        if chosen is None:
            return None
        try:
            with self._connection("search the catalog") as conn, conn.transaction():
                if deadline is not None:
                    left_ms = max(1, int((deadline - time.perf_counter()) * 1000))
                    conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(left_ms),))
                try:
                    rows = conn.execute(chosen.sql, chosen.params).fetchall()
                except BaseException as exc:
                    if not isinstance(exc, psycopg.Error):
                        # interrupted here (a search process's cancel or deadline, Ctrl+C): stop
                        # the query on the server too, or it would run on after the search ended
                        with suppress(Exception):
                            conn.cancel_safe(timeout=1.0)
                    raise
        except CatalogError as exc:
            if isinstance(exc.__context__, psycopg.errors.QueryCanceled):
                _check_stop(cancel, deadline, timeout, force_timeout=deadline is not None)
            raise
        _check_stop(cancel, deadline, timeout)
        if any(row[0] not in index.by_id for row in rows):  # a source added since the last look
            self._forget_sources()
            index = self._sources()
        sort_rows(rows)
        return rows, chosen.needs_python, index

    def search(
        self,
        query: DataProductQuery,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Run a search (PROTOCOL §3.7 semantics); records sorted by start, then URL.

        Raises:
            SearchCancelled, SearchTimeout, CatalogError (CatalogUnavailable when the server is
            unreachable, dropped the connection or no pooled connection became free).
        """
        started = time.perf_counter()
        deadline = started + timeout if timeout is not None else None
        request_id, logs = lifecycle.begin(progress)
        selected = self._select(query, cancel, deadline, timeout)
        if selected is None:
            products: list[DataProduct] = []
            size = len('{"result": []}')
        else:
            rows, needs_python, index = selected
            filters = query.metadata_filters if needs_python else ()
            products, size = build_products(
                rows,
                filters,
                query.metadata_filters_logical_operator,
                index,
                lambda: _check_stop(cancel, deadline, timeout),
            )
        return lifecycle.finish(query, products, size, started, request_id, logs, progress, self.name)

    def search_body(
        self,
        query: DataProductQuery,
        *,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
        starting: tuple[datetime, datetime] | None = None,
    ) -> SearchBody:
        """The AuroraX data endpoint's body for ``query`` (what an AuroraX-compatible server sends)."""
        started = time.perf_counter()
        deadline = started + timeout if timeout is not None else None
        selected = self._select(query, cancel, deadline, timeout, starting)
        queried = time.perf_counter()
        if selected is None:
            return SearchBody(b'{"result": []}', 0, queried - started, 0.0)
        rows, needs_python, index = selected
        products, _ = build_products(
            rows,
            query.metadata_filters if needs_python else (),
            query.metadata_filters_logical_operator,
            index,
            lambda: _check_stop(cancel, deadline, timeout),
        )
        return SearchBody(encode_body(products), len(products), queried - started, time.perf_counter() - queried)

    def start_ranges(
        self, query: DataProductQuery, parts: int, *, min_records: int = 4000
    ) -> list[tuple[datetime, datetime]]:
        """Split ``query`` by record start time into at most ``parts`` ranges of about equal size
        (the server's search processes search them in parallel), as the SQLite catalog does:
        sizes from the day counts, cuts on UTC midnights; a small or one-day query stays whole.

        Raises:
            CatalogError: the catalog cannot be read.
        """
        source_ids = self._sources().select(query.programs, query.platforms, query.instrument_types)
        if parts < 2 or (source_ids is not None and not source_ids):
            return [(query.start, query.end)]
        with self._connection("estimate the search's size") as conn:
            return views.start_ranges(conn, query.start, query.end, source_ids, parts, min_records)

    def products_by_url(self, urls: Sequence[str]) -> list[DataProduct]:
        """The products with these URLs, in the given order; unknown URLs are skipped."""
        with self._connection("read products") as conn:
            return products_by_url(conn, urls, self._sources())

    # --- availability, stats, time span, metadata values ----------------------------------------

    def availability(
        self,
        start: date,
        end: date,
        *,
        program: str | None = None,
        platform: str | None = None,
        instrument_type: str | None = None,
        source_type: str | None = None,
        owner: str | None = None,
    ) -> list[Availability]:
        """Per-source, per-day counts (and per type) of products starting on each day in [start, end]."""
        first, last = views.date_range(start, end)
        sources = self.list_sources(
            programs=(program,) if program else (),
            platforms=(platform,) if platform else (),
            instrument_types=(instrument_type,) if instrument_type else (),
            source_type=source_type,
            owner=owner,
        )
        with self._connection("read availability") as conn:
            return views.availability(conn, sources, first, last)

    def time_span(self) -> tuple[datetime, datetime] | None:
        """(earliest product start, latest product start), or None when there are no products."""
        with self._connection("read the time span") as conn:
            return views.time_span(conn)

    def metadata_values(self, keys: Iterable[str] | None = None) -> dict[str, list[Any]]:
        """Distinct values of each metadata key, sorted; an empty list for keys with too many."""
        with self._connection("read metadata values") as conn:
            return views.metadata_values(conn, keys)

    def stats(self) -> dict[str, Any]:
        """Records, sources, per-type counts, time span and the database size of the catalog."""
        sources = len(self._sources().by_id)
        with self._connection("read catalog statistics") as conn:
            return views.stats(conn, self._target.display, SCHEMA_VERSION, sources)

    # --- writes ----------------------------------------------------------------------------------

    def _require_writable(self, what: str) -> None:
        if self._readonly:
            raise CatalogError(f"cannot {what}: catalog {self._target.display} was opened read-only")

    def ingest_sources(self, records: Iterable[Mapping[str, Any] | DataSource]) -> IngestSummary:
        """Insert or replace data sources in one transaction."""
        self._require_writable("ingest data sources")
        with self._connection("ingest data sources") as conn, conn.transaction():
            summary = upsert_sources(conn, records)
        self._forget_sources()
        return summary

    def ingest_products(
        self,
        records: Iterable[Mapping[str, Any] | DataProduct],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: IngestProgress | None = None,
    ) -> IngestSummary:
        """Insert or update data products (AuroraX JSON records) in ONE transaction, streamed with
        COPY in batches of ``batch_size``; ``progress(done)`` after each batch. Re-ingesting the same
        records writes nothing. Any error (or a dropped connection) rolls the whole call back.

        Raises:
            RecordValidationError: a record is invalid or a URL is given twice; nothing is written.
            CatalogError: read-only, or the write failed; nothing is written.
        """
        return self._load(records, batch_size, progress)

    def _load(
        self,
        records: Iterable[Any],
        batch_size: int,
        progress: IngestProgress | None,
        replace_with: list[Any] | None = None,
    ) -> IngestSummary:
        self._require_writable("ingest data products")
        if batch_size < 1:
            raise RecordValidationError(f"batch_size must be at least 1, got {batch_size}")
        started = time.perf_counter()
        with self._connection("ingest data products") as conn, conn.transaction():
            if replace_with is not None:
                replace_sources(conn, replace_with)
            index = load_sources(conn, "") if replace_with is not None else self._sources(conn)
            load = ProductLoad(conn, index)
            load.run(records, batch_size, progress)
        self._forget_sources()
        return IngestSummary(
            inserted=load.inserted,
            updated=load.updated,
            sources_added=load.sources_added,
            seconds=time.perf_counter() - started,
        )

    def replace_catalog(
        self,
        sources: Iterable[Mapping[str, Any] | DataSource],
        records: Iterable[Mapping[str, Any] | DataProduct],
        *,
        progress: IngestProgress | None = None,
    ) -> IngestSummary:
        """Replace everything (sources, products, counts, requests) in ONE transaction: readers
        see the old catalog until the new one is complete (``catalog demo --replace``)."""
        return self._load(records, DEFAULT_BATCH_SIZE, progress, replace_with=list(sources))

    # --- request tracking ------------------------------------------------------------------------

    def submit(self, query: DataProductQuery) -> str:
        """Run the search now and record it as a request; returns its request id."""
        self._require_writable("record a search request")
        return self._requests.submit(query, self.search)

    def request_status(self, request_id: str) -> dict[str, Any]:
        return self._requests.status(request_id)

    def request_data(self, request_id: str) -> list[dict[str, Any]]:
        return [p.to_api_dict("basic_info") for p in self.products_by_url(self._requests.urls(request_id))]

    def cancel_request(self, request_id: str) -> None:
        self._requests.row(request_id)


def _check_stop(
    cancel: CancelToken | None, deadline: float | None, timeout: float | None, *, force_timeout: bool = False
) -> None:
    if cancel is not None and cancel.cancelled:
        raise SearchCancelled("the search was cancelled")
    if deadline is not None and (force_timeout or time.perf_counter() > deadline):
        raise SearchTimeout(
            f"the search did not complete within {timeout:g} s; narrow the query (fewer sources or a shorter "
            "time range) or allow a longer timeout"
        )
