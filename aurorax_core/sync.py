"""Keep a local catalog in step with an AuroraX(-compatible) API: ``catalog sync``.

The range is cut into chunks, one per data source and calendar month. For each month the API is
asked once for the records of the sources that need it; each source's share is then written in its
own transaction together with its ledger entry (what, from where, when, record count, checksum).

* **Incremental.** One availability request (per-source, per-day counts) tells which chunks may
  have changed since the ledger entry; only those are fetched. An unchanged range costs the source
  list and that one request, and writes nothing. ``full=True`` fetches every chunk and compares
  its checksum and the local URLs of the chunk instead (catching edits that keep the counts, an
  availability that lags -- the real API refreshes it ~10 minutes after a change -- and local
  records removed or added by hand).
* **Deletions.** A fetched chunk replaces the local records of that source and window: local
  records missing upstream are deleted in the same transaction.
* **Resumable and idempotent.** A chunk is committed with its ledger entry or not at all, so after
  Ctrl-C, kill -9 or the API going away, the next run re-does only what is missing; re-running
  a finished sync changes nothing.
* **Checked.** A record outside the asked window or of a source that was not asked for means the
  server answered another question: the sync stops with an error and that chunk is not written.

Records are assigned to the month of their start. A month's query reaches ``OVERHANG`` into the next
month so that products starting before midnight of the last day are found; longer products that
cross a month boundary are not synced (AuroraX searches by containment).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import orjson

from .backends.base import Backend, SyncLedger
from .errors import AuroraXCoreError, BackendError, RecordValidationError, SearchFailed, SearchTimeout
from .events import CancelToken
from .models import DataSource, format_time, parse_time
from .query import DataProductQuery

__all__ = [
    "LedgerEntry",
    "SyncChunk",
    "SyncError",
    "SyncProgress",
    "SyncReport",
    "ledger_for",
    "sync_catalog",
    "sync_query",
]

OVERHANG: Final = timedelta(days=1)
_PREFETCH: Final = 2
_SOURCES_PER_REQUEST: Final = 12


class SyncError(AuroraXCoreError):
    """A sync stopped: the server answered wrongly, or went away (what finished is kept)."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    origin: str
    program: str
    platform: str
    instrument_type: str
    window_start: datetime
    window_end: datetime
    month: str
    source_id: int | None
    upstream_signal: int | None
    records: int
    checksum: str
    synced_at: datetime

    @property
    def key(self) -> tuple[str, str, str, str, datetime, datetime]:
        return (self.origin, self.program, self.platform, self.instrument_type, self.window_start, self.window_end)


@dataclass(frozen=True, slots=True)
class SyncChunk:
    """One source's records for one month window, as fetched from ``origin``."""

    origin: str
    source: DataSource
    month: str
    window_start: datetime
    window_end: datetime
    start_before: datetime  # records starting at or after this belong to the next month
    records: list[dict[str, Any]]
    checksum: str
    upstream_signal: int | None

    @property
    def key(self) -> tuple[str, str, str, str, datetime, datetime]:
        s = self.source
        return (self.origin, s.program, s.platform, s.instrument_type, self.window_start, self.window_end)


@dataclass(frozen=True, slots=True)
class SyncProgress:
    chunks_done: int
    chunks_total: int
    records: int


@dataclass(slots=True)
class SyncReport:
    origin: str
    chunks_total: int = 0  # chunks the range has (sources with data x months)
    chunks_fetched: int = 0
    chunks_written: int = 0
    chunks_unchanged: int = 0
    records_fetched: int = 0
    records_written: int = 0
    records_deleted: int = 0
    sources_written: int = 0
    requests: int = 0
    seconds: float = 0.0
    months: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.records_fetched / self.seconds if self.seconds > 0 else 0.0
        return (
            f"Synced from {self.origin}: {self.chunks_written} of {self.chunks_total} chunks written "
            f"({self.chunks_fetched} fetched, {self.chunks_unchanged} unchanged), {self.records_written:,} records "
            f"written, {self.records_deleted:,} deleted, {self.sources_written} data sources updated, "
            f"{self.requests} API requests, {self.seconds:.1f} s ({rate:,.0f} records/s)"
        )


@dataclass(frozen=True, slots=True)
class _Window:
    month: str
    start: datetime
    end: datetime  # inclusive, the query end
    start_before: datetime
    first_day: date
    last_day: date


def month_windows(start: datetime, end: datetime) -> list[_Window]:
    """The month chunks of [start, end] (UTC, inclusive)."""
    out = []
    cursor = datetime(start.year, start.month, 1, tzinfo=UTC)
    while cursor <= end:
        nxt = datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=UTC)
        w_start = max(start, cursor)
        w_end = min(end, nxt - timedelta(seconds=1) + OVERHANG)
        last_day = min(end, nxt - timedelta(seconds=1)).date()
        out.append(_Window(cursor.strftime("%Y-%m"), w_start, w_end, nxt, w_start.date(), last_day))
        cursor = nxt
    return out


def ledger_for(catalog: Any) -> SyncLedger:
    """The sync ledger of a catalog backend (the catalog itself when it declares the ability)."""
    if isinstance(catalog, SyncLedger):
        return catalog
    from .backends.catalog import CatalogBackend
    from .backends.catalog_sync import CatalogSyncLedger

    if isinstance(catalog, CatalogBackend):
        return CatalogSyncLedger(catalog)
    raise SyncError(f"{getattr(catalog, 'name', catalog)} cannot keep a synced copy; sync into a catalog file")


def _checksum(records: Sequence[dict[str, Any]]) -> str:
    """sha256 of the records in URL order as canonical JSON (sorted keys), encoded by orjson."""
    ordered = sorted(records, key=lambda r: str(r.get("url")))
    try:
        data = orjson.dumps(ordered, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (integers beyond 64 bits ...): the standard encoder
        data = json.dumps(ordered, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def _source_compare(source: DataSource) -> dict[str, Any]:
    return source.to_api_dict("full_record")


def sync_catalog(
    catalog: Any,
    remote: Backend,
    start: datetime,
    end: datetime,
    *,
    programs: Sequence[str] = (),
    platforms: Sequence[str] = (),
    instrument_types: Sequence[str] = (),
    full: bool = False,
    progress: Callable[[SyncProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> SyncReport:
    """Bring the catalog's copy of ``remote``'s records in [start, end] up to date (see the module doc).

    ``remote`` is an AuroraX API backend (:class:`~aurorax_core.backends.remote.RemoteBackend`),
    ``catalog`` a catalog backend with the :class:`SyncLedger` ability (or a CatalogBackend).

    Raises:
        SyncError: the server answered records outside the asked range, or failed mid-way (the
            chunks already written are kept; run again to continue).
        QueryValidationError: bad range. CatalogError: the catalog cannot be written (locked,
            read-only, full disk).
    """
    started = time.perf_counter()
    start, end = parse_time(start, field_name="start"), parse_time(end, field_name="end")
    DataProductQuery(start=start, end=end)  # validates the range the same way a search would
    ledger = ledger_for(catalog)
    origin = remote.name
    report = SyncReport(origin)
    try:
        sources = _sync_sources(catalog, remote, programs, platforms, instrument_types, report)
        if not sources:
            report.seconds = time.perf_counter() - started
            return report
        signals = _signals(remote, sources, start, end, programs, platforms, instrument_types, report)
        windows = month_windows(start, end)
        known = {e.key: e for e in ledger.ledger_entries(origin)}
        plan: list[tuple[_Window, list[DataSource]]] = []
        for window in windows:
            needed = []
            for source in sources.values():
                signal = sum(
                    n
                    for day, n in signals.get(source.identifier, {}).items()
                    if window.first_day <= day <= window.last_day
                )
                key = (origin, *source.key, window.start, window.end)
                entry = known.get(key)
                if entry is None and signal == 0:
                    continue
                report.chunks_total += 1
                if not full and entry is not None and entry.upstream_signal == signal:
                    report.chunks_unchanged += 1
                    continue
                needed.append(source)
            if needed:
                # A month is fetched in groups of sources (alike ones together, so the union of their
                # programs/platforms/types asks for little else): the next group downloads while
                # the current one is written.
                needed.sort(key=lambda s: (s.program, s.instrument_type, s.platform))
                for i in range(0, len(needed), _SOURCES_PER_REQUEST):
                    plan.append((window, needed[i : i + _SOURCES_PER_REQUEST]))
                report.months.append(window.month)
        done = report.chunks_unchanged
        if progress is not None:
            progress(SyncProgress(done, report.chunks_total, 0))
        for chunks in _fetch_months(remote, plan, report, cancel, origin, signals):
            for chunk in chunks:
                if cancel is not None and cancel.cancelled:
                    raise KeyboardInterrupt
                report.chunks_fetched += 1
                report.records_fetched += len(chunk.records)
                entry = known.get(chunk.key)
                upstream_urls = {r["url"] for r in chunk.records}
                local_urls = ledger.local_urls(chunk)
                if (
                    full
                    and entry is not None
                    and entry.checksum == chunk.checksum
                    and entry.upstream_signal == chunk.upstream_signal
                    and local_urls == upstream_urls  # and nobody removed or added records here locally
                ):
                    report.chunks_unchanged += 1
                else:
                    stale = local_urls - upstream_urls
                    ledger.apply_chunk(chunk, stale)
                    report.chunks_written += 1
                    report.records_written += len(chunk.records)
                    report.records_deleted += len(stale)
                done += 1
                if progress is not None:
                    progress(SyncProgress(done, report.chunks_total, report.records_fetched))
    except (BackendError, SearchFailed, SearchTimeout) as exc:
        raise SyncError(
            f"{exc}; {report.chunks_written} chunk(s) were synced and kept, run the same command again to continue"
        ) from None
    report.seconds = time.perf_counter() - started
    return report


def _sync_sources(
    catalog: Any,
    remote: Backend,
    programs: Sequence[str],
    platforms: Sequence[str],
    instrument_types: Sequence[str],
    report: SyncReport,
) -> dict[int, DataSource]:
    """The matching upstream sources by identifier; the changed ones are written locally first."""
    upstream = remote.list_sources(
        programs=list(programs), platforms=list(platforms), instrument_types=list(instrument_types)
    )
    report.requests += 1
    local = {s.identifier: _source_compare(s) for s in catalog.list_sources()}
    changed = [s for s in upstream if s.identifier is not None and local.get(s.identifier) != _source_compare(s)]
    if changed:
        catalog.ingest_sources(changed)
        report.sources_written = len(changed)
    return {s.identifier: s for s in upstream if s.identifier is not None}


def _signals(
    remote: Backend,
    sources: dict[int, DataSource],
    start: datetime,
    end: datetime,
    programs: Sequence[str],
    platforms: Sequence[str],
    instrument_types: Sequence[str],
    report: SyncReport,
) -> dict[int, dict[date, int]]:
    """Per source and day, how many products the API has (one availability request)."""
    from .backends.base import AvailabilityCounts

    if not isinstance(remote, AvailabilityCounts):
        raise SyncError(f"{remote.name} has no availability counts; it cannot be synced incrementally")

    def one(values: Sequence[str]) -> str | None:
        return values[0] if len(values) == 1 else None

    answers = remote.availability(
        start.date(),
        end.date(),
        program=one(programs),
        platform=one(platforms),
        instrument_type=one(instrument_types),
    )
    report.requests += 1
    out: dict[int, dict[date, int]] = {}
    for item in answers:
        sid = item.data_source.identifier
        if sid not in sources:
            continue
        days = out.setdefault(sid, {})
        for day, count in item.available_data_products.items():
            days[date.fromisoformat(day)] = days.get(date.fromisoformat(day), 0) + int(count)
    return out


def _fetch_records(
    remote: Any, query: DataProductQuery, cancel: CancelToken | None
) -> tuple[list[dict[str, Any]], int]:
    """Submit, wait, download raw records; (records, requests made)."""
    request_id = remote.submit(query)
    requests = 1
    pause = 0.005
    limit = float(getattr(remote, "deadline", 0) or 600.0)
    give_up = time.monotonic() + limit
    while True:
        if time.monotonic() > give_up:
            remote.cancel_request(request_id)
            raise SearchTimeout(f"the search for {query.start:%Y-%m} did not finish within {limit:g} s")
        if cancel is not None and cancel.cancelled:
            remote.cancel_request(request_id)
            raise KeyboardInterrupt
        status = remote.request_status(request_id)
        requests += 1
        result = status.get("search_result") or {}
        if result.get("data_uri") is not None:
            break
        time.sleep(pause)
        pause = min(pause * 1.5, 0.25)
    records = remote.request_data(request_id)
    return records, requests + 2


def _fetch_months(
    remote: Backend,
    plan: list[tuple[_Window, list[DataSource]]],
    report: SyncReport,
    cancel: CancelToken | None,
    origin: str,
    signals: dict[int, dict[date, int]],
) -> Iterator[list[SyncChunk]]:
    """Each planned group's checked chunks, in plan order. The next groups are fetched, checked and
    checksummed in worker threads while the caller writes the current one (SQLite releases the GIL)."""

    def query_for(window: _Window, needed: list[DataSource]) -> DataProductQuery:
        return DataProductQuery(
            start=window.start,
            end=window.end,
            programs=tuple(sorted({s.program for s in needed})),
            platforms=tuple(sorted({s.platform for s in needed})),
            instrument_types=tuple(sorted({s.instrument_type for s in needed})),
        )

    def fetch(window: _Window, needed: list[DataSource]) -> tuple[list[SyncChunk], int]:
        records, requests = _fetch_records(remote, query_for(window, needed), cancel)
        return _split(origin, window, needed, records, signals), requests

    with ThreadPoolExecutor(max_workers=_PREFETCH, thread_name_prefix="aurorax-sync") as pool:
        pending: list[Future[tuple[list[SyncChunk], int]]] = []
        index = 0
        try:
            while index < len(plan) or pending:
                while index < len(plan) and len(pending) < _PREFETCH:
                    pending.append(pool.submit(fetch, *plan[index]))
                    index += 1
                chunks, requests = pending.pop(0).result()
                report.requests += requests
                yield chunks
        finally:
            for future in pending:
                future.cancel()


def _split(
    origin: str,
    window: _Window,
    needed: list[DataSource],
    records: list[dict[str, Any]],
    signals: dict[int, dict[date, int]],
) -> list[SyncChunk]:
    """Check every record against the asked window and sources; one chunk per needed source."""
    wanted = {s.identifier: s for s in needed}
    programs = {s.program for s in needed}
    platforms = {s.platform for s in needed}
    instrument_types = {s.instrument_type for s in needed}
    lo, hi, before = format_time(window.start), format_time(window.end), format_time(window.start_before)
    by_source: dict[int, list[dict[str, Any]]] = {sid: [] for sid in wanted}
    for record in records:
        ds = record.get("data_source") if isinstance(record, dict) else None
        if not isinstance(ds, dict):
            raise SyncError(
                f"the server returned a record without a data_source in {window.month}; nothing of it was written"
            )
        url = record.get("url")
        if not isinstance(url, str) or not url:
            raise SyncError(f"the server returned a record without a URL in {window.month}; nothing of it was written")
        rs, re_ = record.get("start"), record.get("end")
        if not (isinstance(rs, str) and isinstance(re_, str) and len(rs) == 19 and len(re_) == 19):
            try:
                rs = format_time(parse_time(rs, field_name="start"))
                re_ = format_time(parse_time(re_, field_name="end"))
            except RecordValidationError as exc:
                raise SyncError(
                    f"the server returned a malformed record ({exc}); nothing of {window.month} was written"
                ) from None
        if rs < lo or re_ > hi:
            raise SyncError(
                f"the server returned a record outside the asked range ({record.get('url')!r}: {rs} .. {re_}, asked "
                f"{lo} .. {hi}); it answers another question, so nothing of {window.month} was written"
            )
        program, platform, instrument_type = ds.get("program"), ds.get("platform"), ds.get("instrument_type")
        if (
            (program is not None and program not in programs)
            or (platform is not None and platform not in platforms)
            or (instrument_type is not None and instrument_type not in instrument_types)
        ):
            raise SyncError(
                f"the server returned a record of a data source that was not asked for ({record.get('url')!r}); "
                f"nothing of {window.month} was written"
            )
        if rs >= before:
            continue  # starts next month: that month's chunk holds it
        sid = ds.get("identifier")
        if sid in by_source:
            by_source[sid].append(record)
    chunks = []
    for sid, items in by_source.items():
        signal = sum(n for day, n in signals.get(sid, {}).items() if window.first_day <= day <= window.last_day)
        checksum = _checksum(items)  # of the records as the server sent them
        # One data_source object for the whole chunk: the catalog's ingest resolves a source once
        # per distinct object (the records were checked against this source above).
        shared = {"identifier": sid}
        for record in items:
            record["data_source"] = shared
        chunks.append(
            SyncChunk(
                origin,
                wanted[sid],
                window.month,
                window.start,
                window.end,
                window.start_before,
                items,
                checksum,
                signal,
            )
        )
    return chunks


def sync_query(
    catalog: Any,
    remote: Backend,
    query: DataProductQuery,
    *,
    full: bool = False,
    progress: Callable[[SyncProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> SyncReport:
    """Keep a search's results offline: sync the sources and time range of ``query`` (its
    programs/platforms/instrument types; type and metadata filters are not applied, the whole
    sources' months are copied so that later searches of them work offline)."""
    return sync_catalog(
        catalog,
        remote,
        query.start,
        query.end,
        programs=query.programs,
        platforms=query.platforms,
        instrument_types=query.instrument_types,
        full=full,
        progress=progress,
        cancel=cancel,
    )
