"""Availability that knows when data was expected: one record per source and day (or month).

``availability(start, end, program=..., platform=..., instrument_type=..., expected=True,
backend=...)`` asks the backend for its per-source, per-day counts (the catalog's day counts, or the
AuroraX API's availability endpoint) and, for every source of the selection on every day of the
range (days without products included), adds the hours in which an all-sky imager at the source's
site could image (sun below ``threshold``, :mod:`aurorax_core.sky`) and a status:

``present``       products exist (and are not noticeably fewer than usual);
``partial``       products exist, but fewer than half the source's usual count for days with a similar
                  number of dark hours (the median count over the range's days with products whose
                  expected hours are within ±1 h; decided only when at least 3 such days exist);
``missing``       dark sky was expected (at least ``min_expected_hours``, default 1 h), no products;
``not_expected``  no products, and less than ``min_expected_hours`` of dark sky that day;
``unknown``       no products at a ground imager whose site coordinates are not known;
``absent``        no products at a source that images regardless of the sun (spacecraft, event
                  lists, radars): such sources are only ``present`` or ``absent``.

Days are UT dates of the product start, as the AuroraX availability counts them, so a day's expected
hours are the dark parts of that UT day (the end of one night and the start of the next).

The module is not called ``availability`` because ``aurorax_core.availability`` is the function.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, overload

import numpy as np

from . import config
from .backends.base import AvailabilityCounts, Backend
from .backends.registry import open_backend
from .errors import BackendError, QueryValidationError
from .models import DataSource, parse_time
from .sky import IMAGING_SUN_ELEVATION, check_site, check_threshold, expected_hours

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AVAILABILITY_STATUSES",
    "AvailabilityReport",
    "SourceDay",
    "availability",
    "site_coordinates",
]

AVAILABILITY_STATUSES: Final = ("present", "partial", "missing", "not_expected", "unknown", "absent")
_PRESENT, _PARTIAL, _MISSING, _NOT_EXPECTED, _UNKNOWN, _ABSENT = range(6)

DEFAULT_MIN_EXPECTED_HOURS: Final = 1.0
# "Noticeably less than usual": under half the median of comparable days (similar dark hours).
PARTIAL_FRACTION: Final = 0.5
SIMILAR_HOURS: Final = 1.0
MIN_COMPARABLE_DAYS: Final = 3
# One record per source and day over more than ~20 years is hundreds of thousands of rows: by month.
MAX_DAYS_BY_DAY: Final = 7320
MAX_YEARS: Final = 100
AUTO_MONTH_AFTER_DAYS: Final = 366

# Ground instruments that do not need a dark sky (they are only present/absent).
_NOT_OPTICAL: Final = ("isr", "radar", "riometer", "magnetometer", "gnss", "gps", "vlf")
_LAT_KEYS: Final = ("latitude", "geodetic_latitude", "geographic_latitude", "site_latitude", "lat")
_LON_KEYS: Final = ("longitude", "geodetic_longitude", "geographic_longitude", "site_longitude", "lon")

Period = Literal["day", "month"]
# Shared read-only mappings: most records have no per-type counts, and a day has one status.
_EMPTY: Final[Mapping[str, int]] = MappingProxyType({})
_ONE_DAY: Final = tuple(MappingProxyType({status: 1}) for status in AVAILABILITY_STATUSES)
_STATUS_NAMES: Final = np.array(AVAILABILITY_STATUSES, dtype=object)
_ONE_DAY_ARRAY: Final = np.empty(len(_ONE_DAY), dtype=object)
_ONE_DAY_ARRAY[:] = _ONE_DAY


class SourceDay(NamedTuple):
    """One source on one day (``period == "day"``) or in one month (``date`` is its first day).

    ``counts_by_type``: data product type -> count, where the backend breaks counts down (the
    catalogs; empty over the AuroraX API). ``expected_hours``: hours of dark sky at the site (summed
    over the month); None for sources whose data does not depend on the sun, for ground imagers
    without coordinates, and without ``expected``. ``status``: one of :data:`AVAILABILITY_STATUSES`
    (None without ``expected``). ``days_by_status``: how many of the period's days had each status.
    A (typed) named tuple: a year of all ground sources is ~22,000 of them, built in milliseconds.
    """

    identifier: int | None
    display_name: str
    program: str
    platform: str
    instrument_type: str
    source_type: str
    date: date
    count: int
    counts_by_type: Mapping[str, int] = _EMPTY
    expected_hours: float | None = None
    status: str | None = None
    period: Period = "day"
    days_by_status: Mapping[str, int] = _EMPTY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the date as ``YYYY-MM-DD`` (``YYYY-MM`` for a month)."""
        out: dict[str, Any] = {
            "identifier": self.identifier,
            "display_name": self.display_name,
            "program": self.program,
            "platform": self.platform,
            "instrument_type": self.instrument_type,
            "source_type": self.source_type,
            "date": self.date.strftime("%Y-%m") if self.period == "month" else self.date.isoformat(),
            "count": self.count,
            "counts_by_type": dict(self.counts_by_type),
            "expected_hours": self.expected_hours,
            "status": self.status,
        }
        if self.period == "month":
            out["days_by_status"] = dict(self.days_by_status)
        return out


@dataclass(frozen=True)
class AvailabilityReport(Sequence[SourceDay]):
    """The records of one availability question, in source order then date order.

    ``notes`` say what the statuses could not tell (e.g. ground imagers without coordinates).
    """

    start: date
    end: date
    period: Period
    expected: bool
    threshold: float
    records: tuple[SourceDay, ...]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> SourceDay: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[SourceDay, ...]: ...
    def __getitem__(self, index: int | slice) -> SourceDay | tuple[SourceDay, ...]:
        return self.records[index]

    def __iter__(self) -> Iterator[SourceDay]:
        return iter(self.records)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per record: identifier, display_name, program, platform, instrument_type,
        source_type, date (datetime64), count, counts_by_type (dict), expected_hours, status."""
        import pandas as pd

        columns = (
            "identifier",
            "display_name",
            "program",
            "platform",
            "instrument_type",
            "source_type",
            "date",
            "count",
            "counts_by_type",
            "expected_hours",
            "status",
        )
        frame = pd.DataFrame(
            {name: [getattr(r, name) for r in self.records] for name in columns}, columns=list(columns)
        )
        frame["date"] = pd.to_datetime(frame["date"])
        frame["count"] = frame["count"].astype("int64")
        frame["expected_hours"] = frame["expected_hours"].astype("float64")
        return frame


# --- sites ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _asset_sites() -> tuple[dict[int, tuple[float, float]], dict[str, tuple[float, float]]]:
    """(by source identifier, by platform name) from ``assets/sites.json`` (the real UCalgary sites)."""
    path = Path(config.assets_dir()) / "sites.json"
    try:
        sites = json.loads(path.read_text(encoding="utf-8"))["sites"]
    except (OSError, ValueError, KeyError, TypeError):  # a stripped install: no coordinates, said per source
        return {}, {}
    by_id: dict[int, tuple[float, float]] = {}
    by_platform: dict[str, tuple[float, float]] = {}
    platforms = _platform_names()
    for site in sites:
        coords = (float(site["latitude"]), float(site["longitude"]))
        by_id[int(site["source_identifier"])] = coords
        platform = platforms.get(int(site["source_identifier"]))
        if platform:
            by_platform.setdefault(platform, coords)
    return by_id, by_platform


def _platform_names() -> dict[int, str]:
    path = Path(config.assets_dir()) / "data_sources.json"
    try:
        records = json.loads(path.read_text(encoding="utf-8"))["records"]
        return {int(r["identifier"]): str(r["platform"]).strip().lower() for r in records}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _coordinate(meta: Any, keys: Sequence[str]) -> float | None:
    if not isinstance(meta, Mapping):
        return None
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def site_coordinates(source: DataSource) -> tuple[float, float] | None:
    """(latitude, longitude) of a ground source's site: its own metadata, else the bundled sites
    (by identifier, then by platform name, which AuroraX shares between a site's instruments)."""
    lat, lon = _coordinate(source.metadata, _LAT_KEYS), _coordinate(source.metadata, _LON_KEYS)
    if lat is not None and lon is not None:
        try:
            return check_site(lat, lon)
        except QueryValidationError:
            pass  # bad metadata: fall back to the bundled table
    by_id, by_platform = _asset_sites()
    if source.identifier is not None and source.identifier in by_id:
        return by_id[source.identifier]
    return by_platform.get(source.platform.strip().lower())


def _needs_dark_sky(source: DataSource) -> bool:
    if source.source_type != "ground":
        return False
    instrument = source.instrument_type.lower()
    return not any(word in instrument for word in _NOT_OPTICAL)


# --- classification ----------------------------------------------------------------------------------


def _classify(counts: np.ndarray, hours: np.ndarray | None, has_model: bool, min_hours: float) -> np.ndarray:
    """Status codes per day for one source (see the module docstring)."""
    have = counts > 0
    if hours is None:
        return np.where(have, _PRESENT, _UNKNOWN if has_model else _ABSENT)
    expected = hours >= min_hours
    codes = np.where(have, _PRESENT, np.where(expected, _MISSING, _NOT_EXPECTED))
    judged = have & expected
    if judged.sum() < MIN_COMPARABLE_DAYS:
        return codes
    # Days grouped by whole expected hours (0..24); a day is compared with the days within ±1 h.
    bins = np.rint(hours).astype(np.int64)
    by_bin: dict[int, list[int]] = {}
    for b, n in zip(bins[judged].tolist(), counts[judged].tolist(), strict=True):
        by_bin.setdefault(b, []).append(n)
    limit = np.full(26, -1.0)  # a count below limit[bin] is "noticeably less than usual"
    reach = round(SIMILAR_HOURS)
    for b in by_bin:
        comparable = sorted(n for k in range(b - reach, b + reach + 1) for n in by_bin.get(k, ()))
        if len(comparable) >= MIN_COMPARABLE_DAYS:
            mid = len(comparable) // 2
            usual = comparable[mid] if len(comparable) % 2 else (comparable[mid - 1] + comparable[mid]) / 2
            limit[b] = PARTIAL_FRACTION * usual
    codes[judged & (counts < limit[bins])] = _PARTIAL
    return codes


def _month_status(tally: Sequence[int]) -> int:
    """A month's status from how many of its days had each status."""
    if tally[_PRESENT] + tally[_PARTIAL] == 0:
        for code in (_MISSING, _UNKNOWN, _ABSENT):
            if tally[code]:
                return code
        return _NOT_EXPECTED
    return _PRESENT if tally[_MISSING] + tally[_PARTIAL] == 0 else _PARTIAL


# --- the entry point ---------------------------------------------------------------------------------


def _as_day(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return parse_time(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
        try:
            return parse_time(value, field_name=name).date()
        except Exception:
            raise QueryValidationError(
                f"{name} date {value!r} is not a date; use YYYY-MM-DD, e.g. 2020-01-01"
            ) from None
    raise QueryValidationError(f"{name} must be a date like 2020-01-01, got {value!r}")


def _period(by: str, n_days: int) -> Period:
    if by == "auto":
        return "day" if n_days <= AUTO_MONTH_AFTER_DAYS else "month"
    if by not in ("day", "month"):
        raise QueryValidationError(f"by must be 'day', 'month' or 'auto', got {by!r}")
    if by == "day" and n_days > MAX_DAYS_BY_DAY:
        raise QueryValidationError(
            f"{n_days:,} days is too long a range for one record per day (at most {MAX_DAYS_BY_DAY:,}, "
            "about 20 years); aggregate by month (by='month', --by month)"
        )
    return by  # type: ignore[return-value]


def _filters_text(
    program: str | None, platform: str | None, instrument_type: str | None, source_type: str | None
) -> str:
    given = {"program": program, "platform": platform, "instrument_type": instrument_type, "source_type": source_type}
    return " ".join(f"{k}={v!r}" for k, v in given.items() if v)


def availability(
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    program: str | None = None,
    platform: str | None = None,
    instrument_type: str | None = None,
    source_type: str | None = None,
    expected: bool = True,
    by: str = "day",
    threshold: float = IMAGING_SUN_ELEVATION,
    min_expected_hours: float = DEFAULT_MIN_EXPECTED_HOURS,
    backend: Backend | str | Path | None = None,
) -> AvailabilityReport:
    """Per-source availability for every day (or month) of ``[start, end]`` (inclusive UT dates).

    Args:
        start, end: dates (or datetimes / ``YYYY-MM-DD`` text; the UT date is used).
        program, platform, instrument_type, source_type: select the sources (exact names).
        expected: add expected hours and a status (see the module docstring); False gives counts only.
        by: ``"day"``, ``"month"``, or ``"auto"`` (months for ranges over a year).
        threshold: the sun elevation in degrees below which imaging is expected (default -12°).
        min_expected_hours: fewer dark hours than this and a day without products is ``not_expected``.
        backend: an AuroraX API URL, a catalog path, a Backend, or None for the default.

    Raises:
        QueryValidationError: bad dates, end before start, a range over 100 years, no source matches
            the selection, or a bad setting.
        BackendError: the backend does not count availability, or fails.
    """
    first, last = _as_day(start, "start"), _as_day(end, "end")
    if last < first:
        raise QueryValidationError(f"end date {last} is before start date {first}; swap them")
    n_days = (last - first).days + 1
    if n_days > MAX_YEARS * 366:
        raise QueryValidationError(f"a range of {n_days / 365.25:.0f} years is too long; at most {MAX_YEARS} years")
    period = _period(by, n_days)
    threshold = check_threshold(threshold)
    if isinstance(min_expected_hours, bool) or not isinstance(min_expected_hours, int | float):
        raise QueryValidationError(f"min_expected_hours must be a number of hours, got {min_expected_hours!r}")
    if not 0 <= min_expected_hours <= 24:
        raise QueryValidationError(f"min_expected_hours must be between 0 and 24, got {min_expected_hours!r}")
    owned = not isinstance(backend, Backend)
    resolved = open_backend(backend)
    try:
        if not isinstance(resolved, AvailabilityCounts):
            raise BackendError(f"{resolved.name} does not answer availability (no per-day counts); use a catalog")
        sources = resolved.list_sources(
            programs=[program] if program else [],
            platforms=[platform] if platform else [],
            instrument_types=[instrument_type] if instrument_type else [],
            source_type=source_type,
        )
        filters = _filters_text(program, platform, instrument_type, source_type)
        if not sources and filters:
            raise QueryValidationError(
                f"no data source matches {filters}; `aurorax-core sources list` shows the names (exact, case-sensitive)"
            )
        counted = resolved.availability(
            first, last, program=program, platform=platform, instrument_type=instrument_type, source_type=source_type
        )
    finally:
        if owned:
            resolved.close()
    return build_report(
        first,
        last,
        sources,
        counted,
        expected=expected,
        period=period,
        threshold=threshold,
        min_hours=min_expected_hours,
    )


def build_report(
    first: date,
    last: date,
    sources: Sequence[DataSource],
    counted: Sequence[Any],
    *,
    expected: bool,
    period: Period,
    threshold: float,
    min_hours: float,
) -> AvailabilityReport:
    """Join the listed sources with the backend's counts (``Availability`` records) and classify."""
    n_days = (last - first).days + 1
    days = [first + timedelta(days=i) for i in range(n_days)]
    labels = [day.isoformat() for day in days]
    first64 = np.datetime64(first, "D")
    by_key: dict[Any, Any] = {}
    for item in counted:
        by_key[_key(item.data_source)] = item
    ordered = list(sources)
    known = {_key(s) for s in ordered}
    ordered.extend(item.data_source for key, item in by_key.items() if key not in known)
    ordered.sort(key=lambda s: (s.identifier is None, s.identifier or 0, s.display_name))
    month_edges = _month_edges(first, n_days) if period == "month" else None
    hours_at: dict[tuple[float, float], np.ndarray] = {}  # instruments at one site share its sky
    records: list[SourceDay] = []
    no_site: list[str] = []
    for source in ordered:
        item = by_key.get(_key(source))
        counts = np.zeros(n_days, dtype=np.int64)
        by_type: Mapping[str, Mapping[str, int]] = {}
        if item is not None and item.available_data_products:
            # day labels -> indices in one numpy pass (20 years of 60 sources are ~250,000 labels)
            per_day = item.available_data_products
            index = _day_indices(list(per_day), first64, source)
            values = np.fromiter(per_day.values(), dtype=np.int64, count=len(per_day))
            inside = (index >= 0) & (index < n_days)
            counts[index[inside]] = values[inside]
            by_type = item.by_type or {}
        hours: np.ndarray | None = None
        codes: np.ndarray | None = None
        if expected:
            has_model = _needs_dark_sky(source)
            coords = site_coordinates(source) if has_model else None
            if has_model and coords is None:
                no_site.append(source.display_name or f"{source.program}/{source.platform}/{source.instrument_type}")
            if coords is not None:
                hours = hours_at.get(coords)
                if hours is None:
                    hours = hours_at[coords] = expected_hours(first, n_days, coords[0], coords[1], threshold)
            codes = _classify(counts, hours, has_model, min_hours)
        records.extend(_records(source, days, labels, counts, by_type, hours, codes, month_edges))
    notes: list[str] = []
    if no_site:
        notes.append(
            f"{len(no_site)} ground source(s) without site coordinates: status 'unknown' on days without "
            f"products ({', '.join(sorted(no_site))})"
        )
    return AvailabilityReport(first, last, period, expected, float(threshold), tuple(records), tuple(notes))


def _day_indices(labels: list[str], first64: np.datetime64, source: DataSource) -> np.ndarray:
    """Day offsets from the range's first day of ``YYYY-MM-DD`` labels (longer ISO times are cut).

    Raises:
        BackendError: the backend named a day that is not a date.
    """
    try:
        return (np.array(labels, dtype="datetime64[D]") - first64).astype(np.int64)
    except ValueError:
        pass
    try:
        parsed = [date.fromisoformat(str(label)[:10]) for label in labels]
    except ValueError:
        bad = next(label for label in labels if not _is_day(label))
        raise BackendError(
            f"the backend's availability for {source.display_name or source.identifier} names a day {bad!r} "
            "that is not a YYYY-MM-DD date"
        ) from None
    return (np.array(parsed, dtype="datetime64[D]") - first64).astype(np.int64)


def _is_day(label: Any) -> bool:
    try:
        date.fromisoformat(str(label)[:10])
    except ValueError:
        return False
    return True


def _key(source: DataSource) -> Any:
    return source.identifier if source.identifier is not None else source.key


def _month_edges(first: date, n_days: int) -> list[tuple[int, int]]:
    """(first index, end index) of each calendar month's days inside the range."""
    edges = []
    i = 0
    while i < n_days:
        day = first + timedelta(days=i)
        following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        j = min(n_days, (following - first).days)
        edges.append((i, j))
        i = j
    return edges


def _records(
    source: DataSource,
    days: list[date],
    labels: list[str],
    counts: np.ndarray,
    by_type: Mapping[str, Mapping[str, int]],
    hours: np.ndarray | None,
    codes: np.ndarray | None,
    month_edges: list[tuple[int, int]] | None,
) -> Iterator[SourceDay]:
    base = (
        source.identifier,
        source.display_name,
        source.program,
        source.platform,
        source.instrument_type,
        source.source_type,
    )
    if month_edges is None:
        n_days = len(days)
        if by_type:
            typed: Iterable[Mapping[str, int]] = [
                MappingProxyType(dict(by_type[label])) if n and by_type.get(label) else _EMPTY
                for label, n in zip(labels, counts.tolist(), strict=True)
            ]
        else:
            typed = repeat(_EMPTY, n_days)
        columns: list[Iterable[Any]] = [repeat(value, n_days) for value in base]
        columns += [days, counts.tolist(), typed]
        if codes is None:
            columns += [repeat(None, n_days), repeat(None, n_days), repeat("day", n_days), repeat(_EMPTY, n_days)]
        else:
            columns += [
                repeat(None, n_days) if hours is None else np.round(hours, 2).tolist(),
                _STATUS_NAMES[codes].tolist(),
                repeat("day", n_days),
                _ONE_DAY_ARRAY[codes].tolist(),
            ]
        # zip builds each record's tuple in C; _make wraps it without re-reading the fields
        yield from map(SourceDay._make, zip(*columns, strict=False))
        return
    starts = np.array([lo for lo, _ in month_edges], dtype=np.int64)
    month_counts = np.add.reduceat(counts, starts).tolist()
    month_hours = None if hours is None else np.round(np.add.reduceat(hours, starts), 2).tolist()
    tallies = None if codes is None else np.add.reduceat(np.eye(6, dtype=np.int64)[codes], starts).tolist()
    for m, (lo, hi) in enumerate(month_edges):
        typed_sum: dict[str, int] = {}
        if by_type:
            for label in labels[lo:hi]:
                for kind, n in (by_type.get(label) or {}).items():
                    typed_sum[kind] = typed_sum.get(kind, 0) + n
        days_by_status: Mapping[str, int] = _EMPTY
        status = None
        if tallies is not None:
            tally = tallies[m]
            days_by_status = MappingProxyType({AVAILABILITY_STATUSES[c]: t for c, t in enumerate(tally) if t})
            status = AVAILABILITY_STATUSES[_month_status(tally)]
        yield SourceDay(
            *base,
            days[lo].replace(day=1),
            month_counts[m],
            MappingProxyType(typed_sum) if typed_sum else _EMPTY,
            None if month_hours is None else month_hours[m],
            status,
            "month",
            days_by_status,
        )
