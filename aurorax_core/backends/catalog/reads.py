"""What the catalog holds, read from the counts it keeps: its data sources (with stats), per-day
availability, the catalog summary, its time span and the distinct metadata values."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ...errors import NotFound, QueryValidationError, RecordValidationError
from ...models import DataSource, format_time, parse_time
from ..base import Availability
from .store import _TYPE_NAMES, SCHEMA_VERSION, TYPE_COLUMNS, CatalogStore, _chunks


class _Reads(CatalogStore):
    """Data sources, availability, stats, time span and metadata values."""

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
        """Full data-source records matching every given constraint, sorted by identifier.

        Lists are OR'ed inside (exact, case-sensitive); ``source_type`` and ``owner`` are exact.
        With ``include_stats`` every source carries the 6-key AuroraX stats object.
        """
        conn = self._conn()
        cache = self._sources(conn)
        ids = cache.select(tuple(programs), tuple(platforms), tuple(instrument_types))
        candidates = sorted(cache.by_id) if ids is None else ids
        out = []
        for sid in candidates:
            source = cache.by_id[sid]
            if source_type is not None and source.source_type != source_type:
                continue
            if owner is not None and source.owner != owner:
                continue
            out.append(self._with_stats(conn, source) if include_stats else source)
        return out

    def get_source(self, identifier: int, *, include_stats: bool = False) -> DataSource:
        """The data source with this identifier.

        Raises:
            NotFound: no such source ("No Data Source record found in AuroraX for identifier N").
        """
        conn = self._conn()
        try:
            key = int(identifier)
        except (TypeError, ValueError):
            raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404) from None
        source = self._sources(conn).by_id.get(key)
        if source is None:
            raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404)
        return self._with_stats(conn, source) if include_stats else source

    def get_source_by_key(self, program: str, platform: str, instrument_type: str) -> DataSource:
        """The data source with this program/platform/instrument_type.

        Raises:
            NotFound: no such source.
        """
        cache = self._sources()
        sid = cache.by_key.get((program, platform, instrument_type))
        if sid is None:
            raise NotFound(f"No matching data source found ({program}/{platform}/{instrument_type})", 404)
        return cache.by_id[sid]

    @staticmethod
    def _source_stats(conn: sqlite3.Connection, identifier: int) -> dict[str, Any]:
        count = conn.execute("SELECT coalesce(sum(n), 0) FROM type_counts WHERE source_id = ?", (identifier,))
        n = int(count.fetchone()[0])
        earliest = latest = None
        if n:
            # Each is one step down the (source_id, start_s) index.
            first = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s LIMIT 1", (identifier,)
            ).fetchone()
            last = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s DESC LIMIT 1", (identifier,)
            ).fetchone()
            earliest = format_time(datetime.fromtimestamp(first[0], UTC)) if first else None
            latest = format_time(datetime.fromtimestamp(last[0], UTC)) if last else None
        return {
            "ephemeris_count": 0,
            "data_product_count": n,
            "earliest_ephemeris_loaded": None,
            "latest_ephemeris_loaded": None,
            "earliest_data_product_loaded": earliest,
            "latest_data_product_loaded": latest,
        }

    def _with_stats(self, conn: sqlite3.Connection, source: DataSource) -> DataSource:
        assert source.identifier is not None
        return replace(source, stats=self._source_stats(conn, source.identifier))

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
        """Per-source, per-day counts of products whose start falls on a day in [start, end], with
        the breakdown by data product type (``by_type``: day -> type -> count).

        Read from the per-source, per-day counts that every write keeps in its own transaction
        (no scan of the products). Sources with no products in the range are omitted. Days are UTC dates of the product
        start; the dict is ordered by date and the list by source identifier.

        Raises:
            QueryValidationError: start/end are not dates, or end is before start.
        """
        first = _as_date(start, "start")
        last = _as_date(end, "end")
        if last < first:
            raise QueryValidationError(f"end ({last}) is before start ({first}); swap them")
        sources = self.list_sources(
            programs=(program,) if program else (),
            platforms=(platform,) if platform else (),
            instrument_types=(instrument_type,) if instrument_type else (),
            source_type=source_type,
            owner=owner,
        )
        if not sources:
            return []
        epoch = date(1970, 1, 1)
        d0, d1 = (first - epoch).days, (last - epoch).days
        by_id = {s.identifier: s for s in sources}
        counts: dict[int, dict[str, int]] = {}
        by_type: dict[int, dict[str, dict[str, int]]] = {}
        labels: dict[int, str] = {}  # day number -> "YYYY-MM-DD", shared by all sources
        conn = self._conn()
        ids = sorted(i for i in by_id if i is not None)
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            # Only the type columns these sources use are read (each column read costs ~1 ms a year).
            codes = [
                code
                for (code,) in conn.execute(
                    f"SELECT DISTINCT type FROM type_counts WHERE source_id IN ({marks}) AND n > 0 ORDER BY type",
                    chunk,
                )
            ]
            names = tuple(_TYPE_NAMES[code] for code in codes)
            # per-type counts -> {type: count}: most source-days share a handful of patterns
            breakdowns: dict[tuple[int, ...], dict[str, int]] = {}
            columns = "".join(f", {TYPE_COLUMNS[code - 1]}" for code in codes)
            sql = (
                f"SELECT source_id, day, n{columns} FROM day_counts WHERE source_id IN ({marks}) "
                "AND day >= ? AND day <= ? AND n > 0 ORDER BY source_id, day"
            )
            current = -1
            days: dict[str, int] = {}
            types: dict[str, dict[str, int]] = {}
            for row in conn.execute(sql, [*chunk, d0, d1]):
                if row[0] != current:
                    current = row[0]
                    days = counts[current] = {}
                    types = by_type[current] = {}
                label = labels.get(row[1])
                if label is None:
                    label = labels[row[1]] = (epoch + timedelta(days=row[1])).isoformat()
                days[label] = row[2]
                key = row[3:]
                breakdown = breakdowns.get(key)
                if breakdown is None:
                    breakdown = breakdowns[key] = {name: c for name, c in zip(names, key, strict=True) if c}
                types[label] = breakdown.copy()
        return [Availability(by_id[sid], counts[sid], by_type[sid]) for sid in ids if sid in counts]

    def stats(self) -> dict[str, Any]:
        """Catalog summary: ``records``, ``sources``, ``sources_with_products``, ``per_type``
        (type -> count), ``earliest``/``latest`` product start (AuroraX time strings or None),
        ``file_size_bytes`` (database + WAL), ``bytes_per_record``, ``path``, ``schema_version``."""
        conn = self._conn()
        cache = self._sources(conn)
        per_type: dict[str, int] = {}
        with_products = set()
        for sid, code, n in conn.execute("SELECT source_id, type, n FROM type_counts WHERE n > 0"):
            per_type[_TYPE_NAMES.get(code, str(code))] = per_type.get(_TYPE_NAMES.get(code, str(code)), 0) + n
            with_products.add(sid)
        records = sum(per_type.values())
        span = self.time_span()
        size = sum(p.stat().st_size for p in (self._path, Path(f"{self._path}-wal")) if p.exists())
        return {
            "path": str(self._path),
            "schema_version": SCHEMA_VERSION,
            "records": records,
            "sources": len(cache.by_id),
            "sources_with_products": len(with_products),
            "per_type": dict(sorted(per_type.items())),
            "earliest": format_time(span[0]) if span else None,
            "latest": format_time(span[1]) if span else None,
            "file_size_bytes": size,
            "bytes_per_record": (size / records) if records else None,
        }

    def time_span(self) -> tuple[datetime, datetime] | None:
        """(earliest product start, latest product start) over the catalog, or None when empty."""
        conn = self._conn()
        lo: int | None = None
        hi: int | None = None
        for (sid,) in conn.execute("SELECT DISTINCT source_id FROM type_counts WHERE n > 0"):
            first = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s LIMIT 1", (sid,)
            ).fetchone()
            last = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s DESC LIMIT 1", (sid,)
            ).fetchone()
            if first:
                lo = first[0] if lo is None else min(lo, first[0])
            if last:
                hi = last[0] if hi is None else max(hi, last[0])
        if lo is None or hi is None:
            return None
        return datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)

    def metadata_values(self, keys: Iterable[str] | None = None) -> dict[str, list[Any]]:
        """Distinct values of each metadata key over the catalog, sorted (key -> values).

        Keys with more than :data:`MAX_LISTED_VALUES` distinct values (free-form ones such as
        ``imaging_start_time``) map to an empty list. Values are maintained incrementally at
        ingest, so after deletions the lists may still hold values no record carries any more.
        """
        conn = self._conn()
        wanted = None if keys is None else set(keys)
        out: dict[str, list[Any]] = {}
        for key, _overflow in conn.execute("SELECT key, overflow FROM metadata_keys ORDER BY key"):
            if wanted is None or key in wanted:
                out[key] = []
        for key, value in conn.execute("SELECT key, value FROM metadata_values ORDER BY key"):
            if key in out:
                out[key].append(json.loads(value))
        for key, _overflow in conn.execute("SELECT key, overflow FROM metadata_keys WHERE overflow = 1"):
            if key in out:
                out[key] = []
        for key, values in out.items():
            out[key] = sorted(values, key=_sort_key)
        return out


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
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True))
