"""The availability grid without Panel: sources × days (weeks, months) with a status per cell.

``availability_grid(session)`` asks ``aurorax_core.availability(..., expected=True)`` for the
form's sources and range (blocking: call it off the event loop) and lays the answer out:

* rows: the selected sources, grouped by instrument type (groups in name order), ordered by the
  latitude of their site, poleward first (sources without a site last, by name);
* columns: the UTC days of the range up to :data:`MAX_DAYS_BY_DAY` days, then weeks (Monday to
  Sunday, cut at the range's ends) up to :data:`MAX_DAYS_BY_WEEK`, then calendar months (the core
  aggregates those); the form refuses ranges over 25 years;
* cells: status, count, counts per product type, expected dark hours (and, for weeks and months,
  how many days had each status).

A week's status summarises its days with the core's rule for months: ``present`` when every day
with products is ordinary and no expected day is missing, ``partial`` when some are, and without
any product the first of ``missing``, ``unknown``, ``absent`` that occurs, else ``not_expected``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import aurorax_core
from aurorax_core import AVAILABILITY_STATUSES, AvailabilityCounts, DataSource, SourceDay, site_coordinates

from ...state import DashboardSession
from ...state.fields import aware

Period = Literal["day", "week", "month"]
SourceKey = tuple[str, str, str]

# One column per day up to a year (AuroraX's own availability page shows a year by day); weeks up
# to three years (at most 157 columns); months beyond (300 columns for the form's 25 years).
MAX_DAYS_BY_DAY = 366
MAX_DAYS_BY_WEEK = 3 * 366
STATUS_CODES: Mapping[str, int] = {status: i for i, status in enumerate(AVAILABILITY_STATUSES)}


@dataclass(frozen=True)
class GridColumn:
    """One column: the UTC days ``first`` .. ``last`` (one day, a week, or a month)."""

    first: date
    last: date


@dataclass(frozen=True)
class GridCell:
    """One source in one column."""

    status: str
    count: int
    counts_by_type: Mapping[str, int]
    expected_hours: float | None
    days_by_status: Mapping[str, int]


@dataclass(frozen=True)
class GridRow:
    """One source: its site's latitude and a cell per column (kept as columns of values)."""

    source: DataSource
    latitude: float | None
    statuses: tuple[str, ...]
    counts: tuple[int, ...]
    counts_by_type: tuple[Mapping[str, int], ...]
    expected_hours: tuple[float | None, ...]
    days_by_status: tuple[Mapping[str, int], ...]

    @property
    def label(self) -> str:
        return source_label(self.source)

    def cell(self, column: int) -> GridCell:
        return GridCell(
            self.statuses[column],
            self.counts[column],
            self.counts_by_type[column],
            self.expected_hours[column],
            self.days_by_status[column],
        )


@dataclass(frozen=True)
class NightTarget:
    """A day cell was clicked: open that night for that source (the Night tab)."""

    source: DataSource
    night: date


@dataclass(frozen=True)
class ZoomTarget:
    """A week or month cell was clicked: show its days (the form's range becomes the column)."""

    first: date
    last: date


@dataclass(frozen=True)
class RangeTarget:
    """Cells were dragged over: search those days for those sources.

    ``also``: sources the form cannot leave out (it selects programs × platforms × instrument
    types, so rows of different programs and sites may bring in their neighbours).
    """

    sources: tuple[DataSource, ...]
    first: date
    last: date
    programs: tuple[str, ...]
    platforms: tuple[str, ...]
    instrument_types: tuple[str, ...]
    also: tuple[DataSource, ...] = ()


@dataclass(frozen=True)
class AvailabilityGrid:
    """The grid, or ``message`` saying why there is none; ``notes`` say what a status cannot tell."""

    period: Period = "day"
    columns: tuple[GridColumn, ...] = ()
    groups: tuple[tuple[str, tuple[GridRow, ...]], ...] = ()
    message: str = ""
    notes: tuple[str, ...] = ()
    threshold: float = -12.0
    rows: tuple[GridRow, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(row for _title, rows in self.groups for row in rows))

    def cell_target(self, row: int, column: int) -> NightTarget | ZoomTarget | None:
        """What a click on a cell opens (None outside the grid)."""
        if not (0 <= row < len(self.rows) and 0 <= column < len(self.columns)):
            return None
        col = self.columns[column]
        if self.period == "day":
            return NightTarget(self.rows[row].source, col.first)
        return ZoomTarget(col.first, col.last)

    def drag_target(
        self, row0: int, col0: int, row1: int, col1: int, known: Sequence[DataSource]
    ) -> RangeTarget | None:
        """What a drag from one cell to another searches: the rows' sources over the columns' days.

        ``known``: every source the form offers (to say which others the selection brings in).
        """
        rows, cols = sorted((row0, row1)), sorted((col0, col1))
        if rows[0] < 0 or cols[0] < 0 or rows[1] >= len(self.rows) or cols[1] >= len(self.columns):
            return None
        sources = tuple(r.source for r in self.rows[rows[0] : rows[1] + 1])
        programs = tuple(dict.fromkeys(s.program for s in sources))
        platforms = tuple(dict.fromkeys(s.platform for s in sources))
        instruments = tuple(dict.fromkeys(s.instrument_type for s in sources))
        chosen = {s.key for s in sources}
        also = tuple(
            s
            for s in known
            if s.program in programs
            and s.platform in platforms
            and s.instrument_type in instruments
            and s.key not in chosen
        )
        return RangeTarget(
            sources, self.columns[cols[0]].first, self.columns[cols[1]].last, programs, platforms, instruments, also
        )


def source_label(source: DataSource) -> str:
    return source.display_name or f"{source.program} {source.platform} {source.instrument_type}"


def choose_period(n_days: int) -> Period:
    """Days up to a year, weeks up to three years, months beyond."""
    if n_days <= MAX_DAYS_BY_DAY:
        return "day"
    return "week" if n_days <= MAX_DAYS_BY_WEEK else "month"


def summary_status(days_by_status: Mapping[str, int]) -> str:
    """The status of several days (a week), by the rule the core uses for a month."""
    if days_by_status.get("present", 0) + days_by_status.get("partial", 0) == 0:
        for status in ("missing", "unknown", "absent"):
            if days_by_status.get(status, 0):
                return status
        return "not_expected"
    return "present" if days_by_status.get("missing", 0) + days_by_status.get("partial", 0) == 0 else "partial"


def week_columns(first: date, last: date) -> list[GridColumn]:
    """Monday-to-Sunday weeks covering ``first`` .. ``last``, the first and last cut at the range."""
    columns = []
    day = first
    while day <= last:
        sunday = day + timedelta(days=6 - day.weekday())
        columns.append(GridColumn(day, min(sunday, last)))
        day = sunday + timedelta(days=1)
    return columns


def aggregate(days: Sequence[SourceDay], columns: Sequence[GridColumn]) -> list[GridCell]:
    """One cell per column from one source's day records (in date order, one per day of the range)."""
    cells = []
    i = 0
    for column in columns:
        n = (column.last - column.first).days + 1
        chunk = days[i : i + n]
        i += n
        by_type: dict[str, int] = {}
        tally: dict[str, int] = {}
        hours: float | None = 0.0
        for record in chunk:
            for kind, count in record.counts_by_type.items():
                by_type[kind] = by_type.get(kind, 0) + count
            status = record.status or "absent"
            tally[status] = tally.get(status, 0) + 1
            hours = None if hours is None or record.expected_hours is None else hours + record.expected_hours
        cells.append(
            GridCell(
                summary_status(tally),
                sum(r.count for r in chunk),
                by_type,
                None if hours is None else round(hours, 2),
                {s: tally[s] for s in AVAILABILITY_STATUSES if s in tally},
            )
        )
    return cells


def _row(source: DataSource, cells: Iterable[GridCell] | None, records: Sequence[SourceDay] | None) -> GridRow:
    coords = site_coordinates(source) if source.source_type == "ground" else None
    latitude = coords[0] if coords else None
    if records is not None:
        # One transposition in C instead of a pass per field (a year of 60 sources is 22,000 records).
        fields = dict(zip(SourceDay._fields, zip(*records, strict=True), strict=True))
        return GridRow(
            source,
            latitude,
            fields["status"] if None not in fields["status"] else tuple(s or "absent" for s in fields["status"]),
            fields["count"],
            fields["counts_by_type"],
            fields["expected_hours"],
            fields["days_by_status"],
        )
    listed = list(cells or [])
    return GridRow(
        source,
        latitude,
        tuple(c.status for c in listed),
        tuple(c.count for c in listed),
        tuple(c.counts_by_type for c in listed),
        tuple(c.expected_hours for c in listed),
        tuple(c.days_by_status for c in listed),
    )


def _poleward_first(row: GridRow) -> tuple[bool, float, str]:
    return (row.latitude is None, -abs(row.latitude or 0.0), row.label.casefold())


def _filters(form: Any, sources: Sequence[DataSource]) -> dict[str, str]:
    # The core filters on one value per field; with several, all are asked and the rows filtered here.
    kwargs = {}
    for name, key in (("programs", "program"), ("platforms", "platform"), ("instrument_types", "instrument_type")):
        chosen = getattr(form, name)
        if len(chosen) == 1:
            kwargs[key] = chosen[0]
    kinds = {s.source_type for s in sources}
    if len(kinds) == 1:
        kwargs["source_type"] = kinds.pop()
    return kwargs


def availability_grid(session: DashboardSession) -> AvailabilityGrid:
    """The grid for the form's sources and range (blocking: the backend is asked; call it off the loop)."""
    backend = session.backend
    form = session.form
    if backend is None:
        return AvailabilityGrid(message="No backend is open yet.")
    if not isinstance(backend, AvailabilityCounts):
        return AvailabilityGrid(
            message=f"This backend ({session.backend_name or type(backend).__name__}) does not answer availability "
            "(counts per day), so this view cannot be drawn; searching and the other tabs work as usual. "
            "Use the embedded catalog or an AuroraX API for this view."
        )
    if not form.has_source_constraint():
        return AvailabilityGrid(message="Select at least one program, platform or instrument type to see its days.")
    errors = form.check_times()
    if errors:
        return AvailabilityGrid(message=" ".join(errors.values()))
    sources = form.selected_sources()
    if not sources:
        return AvailabilityGrid(message="No data source matches the selection.")
    first, last = aware(form.start).date(), aware(form.end).date()
    period = choose_period((last - first).days + 1)
    report = aurorax_core.availability(
        first,
        last,
        expected=True,
        by="month" if period == "month" else "day",
        backend=backend,
        **_filters(form, sources),
    )
    wanted = {s.key: s for s in sources}
    by_source: dict[SourceKey, list[SourceDay]] = {}
    for record in report:
        key = (record.program, record.platform, record.instrument_type)
        if key in wanted:
            by_source.setdefault(key, []).append(record)
    if period == "day":
        columns = [
            GridColumn(first + timedelta(days=i), first + timedelta(days=i)) for i in range((last - first).days + 1)
        ]
    elif period == "week":
        columns = week_columns(first, last)
    else:
        columns = [GridColumn(max(r.date, first), _month_end(r.date, last)) for r in next(iter(by_source.values()), [])]
    rows = []
    for key, source in wanted.items():
        records = by_source.get(key)
        if records is None:
            continue  # the backend does not list it (e.g. another backend's source)
        if period == "week":
            rows.append(_row(source, aggregate(records, columns), None))
        else:
            rows.append(_row(source, None, records))
    if not rows:
        return AvailabilityGrid(message="No data source matches the selection.")
    groups: dict[str, list[GridRow]] = {}
    for row in rows:
        groups.setdefault(row.source.instrument_type, []).append(row)
    ordered = tuple(
        (title, tuple(sorted(groups[title], key=_poleward_first))) for title in sorted(groups, key=str.casefold)
    )
    return AvailabilityGrid(period, tuple(columns), ordered, notes=tuple(report.notes), threshold=report.threshold)


def _month_end(month: date, last: date) -> date:
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return min(following - timedelta(days=1), last)


# --- what the browser draws --------------------------------------------------------------------------

CAPTIONS: Mapping[str, str] = {
    "day": "Data products per source and UTC day",
    "week": "Data products per source and week (Monday–Sunday, UTC)",
    "month": "Data products per source and month (UTC)",
}
HINTS: Mapping[str, str] = {
    "day": "Click a cell to open that night in the Night tab; drag across cells to search those days and sources.",
    "week": "The range is long, so days are grouped by week. Click a week to see its days; drag to search.",
    "month": "The range is long, so days are grouped by month. Click a month to see its days; drag to search.",
}


def payload(grid: AvailabilityGrid, token: int) -> str:
    """The grid as JSON for the browser (record text is drawn there as text only)."""
    types = sorted({kind for row in grid.rows for cell in row.counts_by_type for kind in cell})
    aggregated = grid.period != "day"
    n_days = (grid.columns[-1].last - grid.columns[0].first).days + 1 if grid.columns else 0
    caption = CAPTIONS[grid.period]
    if aggregated:
        caption += f" — {n_days:,} days ({n_days / 365.25:.1f} years), aggregated by {grid.period}"
    out: dict[str, Any] = {
        "token": token,
        "period": grid.period,
        "caption": caption,
        "hint": HINTS[grid.period],
        "first": [c.first.isoformat() for c in grid.columns],
        "last": [c.last.isoformat() for c in grid.columns] if aggregated else [],
        "statuses": list(AVAILABILITY_STATUSES),
        "types": types,
        "threshold": grid.threshold,
        "notes": list(grid.notes),
        "groups": [],
    }
    for title, rows in grid.groups:
        out["groups"].append({"title": title, "rows": [_row_payload(row, types, aggregated) for row in rows]})
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def _row_payload(row: GridRow, types: Sequence[str], aggregated: bool) -> dict[str, Any]:
    source = row.source
    item: dict[str, Any] = {
        "label": row.label,
        "program": source.program,
        "platform": source.platform,
        "instrument_type": source.instrument_type,
        "lat": None if row.latitude is None else round(row.latitude, 2),
        "codes": "".join(str(STATUS_CODES[s]) for s in row.statuses),
        "counts": list(row.counts),
        "hours": [None if h is None else round(h, 1) for h in row.expected_hours],
    }
    if types and any(row.counts_by_type):
        item["by_type"] = [cell.get(kind, 0) for cell in row.counts_by_type for kind in types]
    if aggregated:
        item["tally"] = [tally.get(s, 0) for tally in row.days_by_status for s in AVAILABILITY_STATUSES]
    return item
