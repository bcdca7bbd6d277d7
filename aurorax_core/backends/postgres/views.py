"""What the catalog says about itself: source statistics, availability, time span, pick lists, size.

Functions of one connection; all of them read the small tables (``day_counts``, the metadata
lists) or take two steps down the ``(source_id, start_s)`` index per source, never a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from ...errors import QueryValidationError, RecordValidationError
from ...models import DataSource, format_time, parse_time
from ..base import Availability
from .rows import TYPE_NAMES, time_text

_EPOCH: Final = date(1970, 1, 1)


def spans(conn: Any, ids: list[int]) -> list[tuple[int, int | None, int | None]]:
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


def source_stats(conn: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The 6-key AuroraX stats object of each source."""
    counts = dict(
        conn.execute(
            "SELECT source_id, sum(n)::bigint FROM aurorax.day_counts WHERE source_id = ANY(%s) GROUP BY source_id",
            (ids,),
        ).fetchall()
    )
    found = {sid: (lo, hi) for sid, lo, hi in spans(conn, [i for i in ids if counts.get(i)])}
    out = {}
    for sid in ids:
        lo, hi = found.get(sid, (None, None))
        out[sid] = {
            "ephemeris_count": 0,
            "data_product_count": int(counts.get(sid) or 0),
            "earliest_ephemeris_loaded": None,
            "latest_ephemeris_loaded": None,
            "earliest_data_product_loaded": time_text(lo) if lo is not None else None,
            "latest_data_product_loaded": time_text(hi) if hi is not None else None,
        }
    return out


def date_range(start: Any, end: Any) -> tuple[date, date]:
    first, last = _as_date(start, "start"), _as_date(end, "end")
    if last < first:
        raise QueryValidationError(f"end ({last}) is before start ({first}); swap them")
    return first, last


def availability(conn: Any, sources: list[DataSource], first: date, last: date) -> list[Availability]:
    """Per-source, per-day totals and per-type counts; sources without products omitted."""
    by_id = {s.identifier: s for s in sources if s.identifier is not None}
    if not by_id:
        return []
    rows = conn.execute(
        "SELECT source_id, day, type, n FROM aurorax.day_counts WHERE source_id = ANY(%s) AND day >= %s "
        "AND day <= %s AND n > 0 ORDER BY source_id, day, type",
        (sorted(by_id), (first - _EPOCH).days, (last - _EPOCH).days),
    ).fetchall()
    totals: dict[int, dict[str, int]] = {}
    by_type: dict[int, dict[str, dict[str, int]]] = {}
    labels: dict[int, str] = {}
    for sid, day, code, n in rows:
        label = labels.get(day)
        if label is None:
            label = labels[day] = (_EPOCH + timedelta(days=day)).isoformat()
        days = totals.setdefault(sid, {})
        days[label] = days.get(label, 0) + int(n)
        by_type.setdefault(sid, {}).setdefault(label, {})[TYPE_NAMES.get(code, str(code))] = int(n)
    return [Availability(by_id[sid], totals[sid], by_type[sid]) for sid in sorted(totals)]


def time_span(conn: Any) -> tuple[datetime, datetime] | None:
    ids = [r[0] for r in conn.execute("SELECT identifier FROM aurorax.sources")]
    found = spans(conn, ids)
    lows = [lo for _, lo, _ in found if lo is not None]
    highs = [hi for _, _, hi in found if hi is not None]
    if not lows or not highs:
        return None
    return datetime.fromtimestamp(min(lows), UTC), datetime.fromtimestamp(max(highs), UTC)


def metadata_values(conn: Any, keys: Iterable[str] | None) -> dict[str, list[Any]]:
    wanted = None if keys is None else set(keys)
    listed = conn.execute("SELECT key, overflow FROM aurorax.metadata_keys ORDER BY key").fetchall()
    values = conn.execute("SELECT key, value FROM aurorax.metadata_values ORDER BY key").fetchall()
    out: dict[str, list[Any]] = {k: [] for k, _ in listed if wanted is None or k in wanted}
    overflowed = {k for k, over in listed if over}
    for key, value in values:
        if key in out and key not in overflowed:
            out[key].append(json.loads(value))
    return {k: sorted(v, key=_sort_key) for k, v in out.items()}


def counts(conn: Any) -> tuple[dict[str, int], int, int]:
    """(records per type name, sources with products, bytes the catalog's tables take)."""
    per = conn.execute(
        "SELECT type, sum(n)::bigint FROM aurorax.day_counts WHERE n > 0 GROUP BY type ORDER BY type"
    ).fetchall()
    with_products = conn.execute("SELECT count(DISTINCT source_id) FROM aurorax.day_counts WHERE n > 0").fetchone()[0]
    size = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'aurorax' AND c.relkind = 'r'"
    ).fetchone()[0]
    per_type = {TYPE_NAMES.get(code, str(code)): int(n) for code, n in per}
    return dict(sorted(per_type.items())), int(with_products), int(size)


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


def start_ranges(
    conn: Any,
    start: datetime,
    end: datetime,
    source_ids: Iterable[int] | None,
    parts: int,
    min_records: int,
) -> list[tuple[datetime, datetime]]:
    """[start, end] cut on UTC midnights into at most ``parts`` ranges of about equal record counts
    (from the day counts); whole when it is one day or holds fewer than two ``min_records``."""
    whole = [(start, end)]
    first_day, last_day = int(start.timestamp()) // 86400, int(end.timestamp()) // 86400
    if first_day == last_day:
        return whole
    sql = "SELECT day, sum(n) FROM aurorax.day_counts WHERE day >= %s AND day <= %s"
    params: list[Any] = [first_day, last_day]
    if source_ids is not None:
        sql += " AND source_id = ANY(%s)"
        params.append(list(source_ids))
    days = conn.execute(sql + " GROUP BY day ORDER BY day", params).fetchall()
    total = sum(int(n) for _, n in days)
    parts = min(parts, total // max(1, min_records))
    if parts < 2:
        return whole
    cuts: list[int] = []
    running = 0
    for day, n in days:
        # a cut at this day's midnight leaves `running` records before it
        if day > first_day and running >= total * (len(cuts) + 1) / parts:
            cuts.append(day)
            if len(cuts) == parts - 1:
                break
        running += int(n)
    bounds = [start, *(datetime.fromtimestamp(day * 86400, UTC) for day in cuts)]
    ranges = [(low, high - timedelta(seconds=1)) for low, high in pairwise(bounds)]
    ranges.append((bounds[-1], end))
    return ranges


def stats(conn: Any, display: str, schema_version: int, sources: int) -> dict[str, Any]:
    """Records, sources, per-type counts, time span and the database size of the catalog."""
    per_type, with_products, size = counts(conn)
    span = time_span(conn)
    records = sum(per_type.values())
    return {
        "path": display,
        "schema_version": schema_version,
        "records": records,
        "sources": sources,
        "sources_with_products": with_products,
        "per_type": per_type,
        "earliest": format_time(span[0]) if span else None,
        "latest": format_time(span[1]) if span else None,
        "file_size_bytes": size,
        "bytes_per_record": (size / records) if records else None,
    }
