"""The PostgreSQL catalog: the SQLite catalog's search semantics over a shared database server.

Several processes (dashboards, API servers, ingests) use one catalog at once: readers never wait
for a writer, writers take turns, every write is one transaction. Each process keeps a pool of
connections (``pool_max``, bounded wait ``pool_timeout``; see ``connect.py``), so searches may run
from many threads at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
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
from ...models import DataProduct, DataSource, format_time, parse_time
from ...progress import emit, natural_size
from ...query import DataProductQuery
from ...results import LogEntry, SearchBody, SearchResult
from ..base import Availability
from ..catalog import DEFAULT_BATCH_SIZE, IngestProgress, IngestSummary
from . import connect as pg
from .ingest import ProductLoad, upsert_sources
from .plan import plan
from .requests import RequestLog
from .rows import ROW_COLUMNS, TYPE_NAMES, SourceIndex, build_products, encode_body, load_sources, sort_rows, time_text
from .schema import SCHEMA_VERSION, ensure_schema

# how long a process trusts its copy of the sources before asking whether another changed them
SOURCES_RECHECK_S = 1.0
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
    def _connection(self, doing: str) -> Iterator[Any]:
        """A pooled connection; psycopg and pool errors come out typed (a broken connection is
        dropped by the pool, so the next call gets a working one)."""
        with pg.translated(self._target, doing), self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        self._pool.close()

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
        stats = self._source_stats([s.identifier for s in out if s.identifier is not None])
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
        return replace(source, stats=self._source_stats([key])[key]) if include_stats else source

    def _source_stats(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        with self._connection("read the source statistics") as conn:
            counts = dict(
                conn.execute(
                    "SELECT source_id, sum(n)::bigint FROM aurorax.day_counts WHERE source_id = ANY(%s) "
                    "GROUP BY source_id",
                    (ids,),
                ).fetchall()
            )
            spans = {sid: (lo, hi) for sid, lo, hi in self._spans(conn, [i for i in ids if counts.get(i)])}
        out = {}
        for sid in ids:
            lo, hi = spans.get(sid, (None, None))
            out[sid] = {
                "ephemeris_count": 0,
                "data_product_count": int(counts.get(sid) or 0),
                "earliest_ephemeris_loaded": None,
                "latest_ephemeris_loaded": None,
                "earliest_data_product_loaded": time_text(lo) if lo is not None else None,
                "latest_data_product_loaded": time_text(hi) if hi is not None else None,
            }
        return out

    @staticmethod
    def _spans(conn: Any, ids: list[int]) -> list[tuple[int, int | None, int | None]]:
        """(source, first start, last start) of each source: two steps down its index each."""
        if not ids:
            return []
        return conn.execute(
            "SELECT s.sid, "
            "(SELECT start_s FROM aurorax.products WHERE source_id = s.sid ORDER BY start_s LIMIT 1), "
            "(SELECT start_s FROM aurorax.products WHERE source_id = s.sid ORDER BY start_s DESC LIMIT 1) "
            "FROM unnest(%s::integer[]) AS s(sid)",
            (ids,),
        ).fetchall()

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
                rows = conn.execute(chosen.sql, chosen.params).fetchall()
        except CatalogError as exc:
            if isinstance(exc.__context__, psycopg.errors.QueryCanceled) and deadline is not None:
                _check_stop(cancel, deadline, timeout, force_timeout=True)
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
        request_id = str(uuid.uuid4())
        emit(progress, STAGE_CREATED, "Search object created")
        logs = [LogEntry("debug", "Search request arrived and saved", datetime.now(UTC))]
        emit(progress, STAGE_SUBMITTED, "Request submitted", request_id)
        emit(progress, STAGE_REQUEST_ID, f"Request ID: {request_id}", request_id)
        emit(progress, STAGE_WAITING, "Waiting for data ...", request_id)
        logs.append(LogEntry("info", f"Starting query for {request_id}", datetime.now(UTC)))
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
        n = len(products)
        finished = time.perf_counter()
        logs.append(LogEntry("info", f"Finished query in {finished - started:.2f} seconds.", datetime.now(UTC)))
        logs.append(LogEntry("debug", "Starting to write data to file", datetime.now(UTC)))
        logs.append(LogEntry("info", f"Finished writing data, found {n} records in 0.00 seconds.", datetime.now(UTC)))
        logs.append(LogEntry("debug", f"File size is {size} bytes.", datetime.now(UTC)))
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
            f"Retrieved {natural_size(size)} of data containing {n} records",
            request_id,
            result_count=n,
            file_size=size,
        )
        return SearchResult(
            query=query,
            data=products,
            request_id=request_id,
            logs=logs,
            file_size=size,
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

    def products_by_url(self, urls: Sequence[str]) -> list[DataProduct]:
        """The products with these URLs, in the given order; unknown URLs are skipped."""
        found: dict[str, tuple[Any, ...]] = {}
        with self._connection("read products") as conn:
            for first in range(0, len(urls), 5000):
                chunk = list(urls[first : first + 5000])
                sql = f"SELECT {ROW_COLUMNS} FROM aurorax.products WHERE url = ANY(%s)"
                for row in conn.execute(sql, (chunk,)):
                    found[row[4]] = row
        rows = [found[u] for u in urls if u in found]
        return build_products(rows, (), "AND", self._sources(), lambda: None)[0]

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
        first, last = _as_date(start, "start"), _as_date(end, "end")
        if last < first:
            raise QueryValidationError(f"end ({last}) is before start ({first}); swap them")
        sources = self.list_sources(
            programs=(program,) if program else (),
            platforms=(platform,) if platform else (),
            instrument_types=(instrument_type,) if instrument_type else (),
            source_type=source_type,
            owner=owner,
        )
        by_id = {s.identifier: s for s in sources if s.identifier is not None}
        if not by_id:
            return []
        totals: dict[int, dict[str, int]] = {}
        by_type: dict[int, dict[str, dict[str, int]]] = {}
        labels: dict[int, str] = {}
        with self._connection("read availability") as conn:
            rows = conn.execute(
                "SELECT source_id, day, type, n FROM aurorax.day_counts WHERE source_id = ANY(%s) AND day >= %s "
                "AND day <= %s AND n > 0 ORDER BY source_id, day, type",
                (sorted(by_id), (first - _EPOCH).days, (last - _EPOCH).days),
            ).fetchall()
        for sid, day, code, n in rows:
            label = labels.get(day)
            if label is None:
                label = labels[day] = (_EPOCH + timedelta(days=day)).isoformat()
            days = totals.setdefault(sid, {})
            days[label] = days.get(label, 0) + int(n)
            by_type.setdefault(sid, {}).setdefault(label, {})[TYPE_NAMES.get(code, str(code))] = int(n)
        return [Availability(by_id[sid], totals[sid], by_type[sid]) for sid in sorted(totals)]

    def time_span(self) -> tuple[datetime, datetime] | None:
        """(earliest product start, latest product start), or None when there are no products."""
        with self._connection("read the time span") as conn:
            ids = [r[0] for r in conn.execute("SELECT DISTINCT source_id FROM aurorax.day_counts WHERE n > 0")]
            spans = self._spans(conn, ids)
        lows = [lo for _, lo, _ in spans if lo is not None]
        highs = [hi for _, _, hi in spans if hi is not None]
        if not lows or not highs:
            return None
        return datetime.fromtimestamp(min(lows), UTC), datetime.fromtimestamp(max(highs), UTC)

    def metadata_values(self, keys: Iterable[str] | None = None) -> dict[str, list[Any]]:
        """Distinct values of each metadata key, sorted; an empty list for keys with too many."""
        import json

        wanted = None if keys is None else set(keys)
        with self._connection("read metadata values") as conn:
            listed = conn.execute("SELECT key, overflow FROM aurorax.metadata_keys ORDER BY key").fetchall()
            values = conn.execute("SELECT key, value FROM aurorax.metadata_values ORDER BY key").fetchall()
        out: dict[str, list[Any]] = {k: [] for k, _ in listed if wanted is None or k in wanted}
        overflowed = {k for k, over in listed if over}
        for key, value in values:
            if key in out and key not in overflowed:
                out[key].append(json.loads(value))
        return {k: sorted(v, key=_sort_key) for k, v in out.items()}

    def stats(self) -> dict[str, Any]:
        """Records, sources, per-type counts, time span and the database size of the catalog."""
        index = self._sources()
        with self._connection("read catalog statistics") as conn:
            per = conn.execute(
                "SELECT type, sum(n)::bigint, count(DISTINCT source_id) FROM aurorax.day_counts WHERE n > 0 "
                "GROUP BY type ORDER BY type"
            ).fetchall()
            with_products = conn.execute(
                "SELECT count(DISTINCT source_id) FROM aurorax.day_counts WHERE n > 0"
            ).fetchone()[0]
            size = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'aurorax' AND c.relkind = 'r'"
            ).fetchone()[0]
        per_type = {TYPE_NAMES.get(code, str(code)): int(n) for code, n, _ in per}
        records = sum(per_type.values())
        span = self.time_span()
        return {
            "path": self._target.display,
            "schema_version": SCHEMA_VERSION,
            "records": records,
            "sources": len(index.by_id),
            "sources_with_products": int(with_products),
            "per_type": dict(sorted(per_type.items())),
            "earliest": format_time(span[0]) if span else None,
            "latest": format_time(span[1]) if span else None,
            "file_size_bytes": int(size),
            "bytes_per_record": (int(size) / records) if records else None,
        }

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
        self._require_writable("ingest data products")
        if batch_size < 1:
            raise RecordValidationError(f"batch_size must be at least 1, got {batch_size}")
        started = time.perf_counter()
        with self._connection("ingest data products") as conn, conn.transaction():
            load = ProductLoad(conn, self._sources(conn))
            load.run(records, batch_size, progress)
        self._forget_sources()
        return IngestSummary(
            inserted=load.inserted,
            updated=load.updated,
            sources_added=load.sources_added,
            seconds=time.perf_counter() - started,
        )

    def clear(self) -> None:
        """Remove every product, source, count and request (``catalog demo --replace``)."""
        self._require_writable("clear the catalog")
        with self._connection("clear the catalog") as conn, conn.transaction():
            conn.execute(
                "TRUNCATE aurorax.products, aurorax.sources, aurorax.day_counts, aurorax.metadata_keys, "
                "aurorax.metadata_values, aurorax.search_requests RESTART IDENTITY"
            )
            conn.execute("DELETE FROM aurorax.catalog_meta WHERE key = 'cross_keys'")
            conn.execute("UPDATE aurorax.catalog_meta SET value = %s WHERE key = 'generation'", (uuid.uuid4().hex,))
        self._forget_sources()

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


def _as_date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_time(value, field_name=name).date()
        except RecordValidationError as exc:
            raise QueryValidationError(str(exc)) from None
    raise QueryValidationError(f"{name} must be a date like 2020-01-01, got {value!r}")


def _sort_key(value: Any) -> tuple[int, Any]:
    import json

    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True))
