"""The Availability view without a browser: the grid from a hand-built catalog equals
``aurorax_core.availability``; weeks and months for long ranges; the latitude order; what a click
and a drag open; backends without availability; the AuroraX API (our own server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import aurorax_core
from aurorax_core import AvailabilityCounts, open_backend
from aurorax_core.backends.catalog import CatalogBackend
from dashboard.app import DashboardApp
from dashboard.state import DashboardSession
from dashboard.views.availability import AvailabilityView, availability_grid
from dashboard.views.availability.grid import (
    GridColumn,
    NightTarget,
    ZoomTarget,
    aggregate,
    payload,
    source_label,
    week_columns,
)
from dashboard.views.registry import VIEWS, view_names

# Real sources at real sites (latitudes from assets/sites.json): THEMIS Rankin Inlet 62.8° N,
# Fort Smith 60.0° N, Gillam 56.4° N; TREx RGB Gillam; Swarm A (a spacecraft: no site).
SOURCES: list[dict[str, Any]] = [
    {"identifier": 3, "program": "swarm", "platform": "swarma", "instrument_type": "footprint", "source_type": "leo",
     "display_name": "Swarm A"},
    {"identifier": 46, "program": "themis-asi", "platform": "gillam", "instrument_type": "panchromatic ASI",
     "source_type": "ground", "display_name": "THEMIS-ASI GILL"},
    {"identifier": 51, "program": "themis-asi", "platform": "rankin inlet", "instrument_type": "panchromatic ASI",
     "source_type": "ground", "display_name": "THEMIS-ASI RANK"},
    {"identifier": 55, "program": "themis-asi", "platform": "fort smith", "instrument_type": "panchromatic ASI",
     "source_type": "ground", "display_name": "THEMIS-ASI FSMI"},
    {"identifier": 103, "program": "trex", "platform": "gillam", "instrument_type": "RGB ASI",
     "source_type": "ground", "display_name": "TREx RGB GILL"},
    {"identifier": 96, "program": "trex", "platform": "fort smith", "instrument_type": "RGB ASI",
     "source_type": "ground", "display_name": "TREx RGB FSMI"},
]  # fmt: skip
FULL_NIGHT = list(range(13))  # hourly keograms 00-12 UT: Gillam's January dark window
GILLAM_MISSING = date(2020, 1, 5)
GILLAM_THIN = date(2020, 1, 7)


def _product(sid: int, start: datetime, kind: str, hours: int = 1) -> dict[str, Any]:
    return {
        "data_source": {"identifier": sid},
        "data_product_type": kind,
        "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "end": (start + timedelta(hours=hours, seconds=-1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "url": f"https://example.org/{sid}/{start:%Y%m%d%H}_{kind}.jpg",
        "metadata": {},
    }


def _night(sid: int, day: date, hours: list[int]) -> list[dict[str, Any]]:
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [_product(sid, base + timedelta(hours=h), "keogram") for h in hours] + [_product(sid, base, "montage", 24)]


def _records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in range(1, 11):  # THEMIS GILL and TREx RGB GILL: January 2020, one missing, one thin night
        day = date(2020, 1, d)
        if day != GILLAM_MISSING:
            out += _night(46, day, [0, 1] if day == GILLAM_THIN else FULL_NIGHT)
        out += _night(103, day, FULL_NIGHT)
    out += _night(55, date(2020, 1, 15), FULL_NIGHT)
    out += _night(51, date(2020, 1, 3), FULL_NIGHT)
    out.append(_product(3, datetime(2020, 1, 2, tzinfo=UTC), "summary_plot", 24))
    out += _night(96, date(2019, 12, 15), FULL_NIGHT)
    for year in range(2005, 2025):  # 20 years: a few nights a year at Fort Smith
        for month in (1, 2, 11):
            out += _night(55, date(year, month, 10), [4, 5, 6])
    return out


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("availability-view") / "catalog.sqlite"
    catalog = CatalogBackend(path)
    try:
        catalog.ingest_sources(SOURCES)
        catalog.ingest_products(_records())
    finally:
        catalog.close()
    return path


@pytest.fixture
def hand(catalog_path: Path) -> Iterator[Any]:
    backend = open_backend(str(catalog_path))
    yield backend
    backend.close()


def _session(backend: Any, first: date, last: date, **sources: list[str]) -> DashboardSession:
    session = DashboardSession(backend, view_names=view_names())
    session.form.param.update(programs=sources.get("programs", ["themis-asi", "trex", "swarm"]))
    session.form.param.update(platforms=sources.get("platforms", []))
    session.form.param.update(instrument_types=sources.get("instrument_types", []))
    session.form.set_days(first, last)
    return session


def test_cells_are_the_statuses_counts_and_hours_of_aurorax_core_availability(hand: Any) -> None:
    """Every cell holds exactly what aurorax_core.availability says for that source and day."""
    session = _session(hand, date(2020, 1, 1), date(2020, 1, 31))
    grid = availability_grid(session)
    assert grid.message == "" and grid.period == "day"
    assert [c.first for c in grid.columns] == [date(2020, 1, 1) + timedelta(days=i) for i in range(31)]
    report = aurorax_core.availability("2020-01-01", "2020-01-31", expected=True, backend=hand)
    truth = {(r.display_name, r.date): r for r in report}
    assert sorted(r.label for r in grid.rows) == sorted(s["display_name"] for s in SOURCES)
    for row in grid.rows:
        for i, column in enumerate(grid.columns):
            want, cell = truth[(row.label, column.first)], row.cell(i)
            assert (cell.status, cell.count, dict(cell.counts_by_type), cell.expected_hours) == (
                want.status,
                want.count,
                dict(want.counts_by_type),
                want.expected_hours,
            )
    gill = next(r for r in grid.rows if r.label == "THEMIS-ASI GILL")
    assert gill.statuses[:10] == ("present",) * 4 + ("missing", "present", "partial") + ("present",) * 3
    assert dict(gill.cell(0).counts_by_type) == {"keogram": 13, "montage": 1}
    assert gill.cell(0).expected_hours > 12  # a January night at 56° N
    swarm = next(r for r in grid.rows if r.label == "Swarm A")
    assert swarm.statuses[1] == "present" and swarm.statuses[0] == "absent" and swarm.latitude is None


def test_rows_are_grouped_by_instrument_and_ordered_poleward_first(hand: Any) -> None:
    session = _session(hand, date(2020, 1, 1), date(2020, 1, 3))
    grid = availability_grid(session)
    assert [title for title, _ in grid.groups] == ["footprint", "panchromatic ASI", "RGB ASI"]
    themis = dict(grid.groups)["panchromatic ASI"]
    assert [r.label for r in themis] == ["THEMIS-ASI RANK", "THEMIS-ASI FSMI", "THEMIS-ASI GILL"]
    assert [round(r.latitude or 0, 1) for r in themis] == [62.8, 60.0, 56.4]


def test_long_ranges_are_weeks_then_months_and_sum_the_days(hand: Any) -> None:
    """Two years: Monday-Sunday weeks whose cells sum the days; 20 years: the core's months."""
    session = _session(hand, date(2019, 1, 1), date(2020, 12, 31), programs=["themis-asi"])
    grid = availability_grid(session)
    assert grid.period == "week" and len(grid.columns) == 105
    assert grid.columns[0] == GridColumn(date(2019, 1, 1), date(2019, 1, 6))  # cut at the range's start
    assert all(c.first.weekday() == 0 for c in grid.columns[1:])
    days = aurorax_core.availability("2019-01-01", "2020-12-31", program="themis-asi", backend=hand)
    gill_days = [r for r in days if r.display_name == "THEMIS-ASI GILL"]
    gill = next(r for r in grid.rows if r.label == "THEMIS-ASI GILL")
    week = next(i for i, c in enumerate(grid.columns) if c.first == date(2020, 1, 6))  # the thin night's week
    cell = gill.cell(week)
    assert cell.count == sum(r.count for r in gill_days if date(2020, 1, 6) <= r.date <= date(2020, 1, 12))
    assert cell.status == "partial" and cell.days_by_status["partial"] == 1
    # A week's status follows the core's rule for a month: aggregating a month's days gives its month.
    month = aurorax_core.availability("2020-01-01", "2020-01-31", program="themis-asi", by="month", backend=hand)
    january = [r for r in days if r.date.month == 1 and r.date.year == 2020]
    for source in {r.display_name for r in january}:
        (mine,) = aggregate(
            [r for r in january if r.display_name == source], [GridColumn(date(2020, 1, 1), date(2020, 1, 31))]
        )
        (core,) = [r for r in month if r.display_name == source]
        assert (mine.status, mine.count, dict(mine.days_by_status)) == (
            core.status,
            core.count,
            dict(core.days_by_status),
        )
        # the days' hours are rounded to 0.01 h before they are summed
        assert mine.expected_hours == pytest.approx(core.expected_hours, abs=0.2)
    session.form.set_days(date(2005, 1, 1), date(2024, 12, 31))
    grid = availability_grid(session)
    assert grid.period == "month" and len(grid.columns) == 240
    fsmi = next(r for r in grid.rows if r.label == "THEMIS-ASI FSMI")
    assert sum(fsmi.counts) == 20 * 3 * 4 + 14  # 3 nights of 3 keograms + a montage a year, and 15 January 2020
    assert fsmi.statuses[0] == "partial"  # January 2005: one night of 31 expected
    assert fsmi.statuses[5] == "not_expected"  # June 2005 at 60° N


def test_week_columns_cover_the_range_once() -> None:
    columns = week_columns(date(2020, 1, 1), date(2020, 3, 1))
    assert columns[0] == GridColumn(date(2020, 1, 1), date(2020, 1, 5))
    assert columns[-1] == GridColumn(date(2020, 2, 24), date(2020, 3, 1))
    assert sum((c.last - c.first).days + 1 for c in columns) == 61


def test_fifty_years_are_refused_with_the_form_limit(hand: Any) -> None:
    session = _session(hand, date(1975, 1, 1), date(2024, 12, 31))
    grid = availability_grid(session)
    assert grid.rows == () and "the limit is 25" in grid.message and "Narrow the range" in grid.message


def test_a_day_cell_opens_that_night_in_the_night_tab_with_that_source(hand: Any) -> None:
    app = DashboardApp(hand)
    session = app.session
    session.form.param.update(programs=["themis-asi", "trex"])
    session.form.set_days(date(2020, 1, 1), date(2020, 1, 10))
    session.view = "availability"
    view = app.views["availability"]
    grid = view.grid
    row = next(i for i, r in enumerate(grid.rows) if r.label == "TREx RGB GILL")
    assert grid.cell_target(row, 3) == NightTarget(grid.rows[row].source, date(2020, 1, 4))
    view.on_message({"type": "open", "token": view._token, "row": row, "col": 3})
    assert session.view == "night"
    night = app.views["night"]
    assert night.night == "2020-01-04" and night.instrument == "RGB ASI"
    assert (session.form.programs, session.form.platforms, session.form.instrument_types) == (
        ["trex"],
        ["gillam"],
        ["RGB ASI"],
    )
    assert night.state.night == date(2020, 1, 4)
    view.on_message({"type": "open", "token": view._token - 1, "row": 0, "col": 0})  # a stale grid: ignored
    assert session.view == "night"


def test_a_drag_searches_those_days_and_sources(hand: Any) -> None:
    session = _session(hand, date(2020, 1, 1), date(2020, 1, 10))
    view = AvailabilityView(session=session)
    session.view = "availability"
    labels = [r.label for r in view.grid.rows]
    first, last = labels.index("THEMIS-ASI FSMI"), labels.index("THEMIS-ASI GILL")
    target = view.search_range(last, 6, first, 2)  # dragged bottom-right to top-left
    assert target is not None and (target.first, target.last) == (date(2020, 1, 3), date(2020, 1, 7))
    assert session.view == "table"
    assert session.form.programs == ["themis-asi"] and sorted(session.form.platforms) == ["fort smith", "gillam"]
    assert session.form.start == datetime(2020, 1, 3, tzinfo=UTC)
    assert session.form.end == datetime(2020, 1, 7, 23, 59, 59, tzinfo=UTC)
    found = session.results.result
    assert found is not None and {p.data_source.display_name for p in found.data} == {"THEMIS-ASI GILL"}
    # GILL on 3, 4, 6 January full (14 each), 5 missing, 7 thin (2 keograms + montage)
    assert len(found.data) == 3 * 14 + 3


def test_a_drag_across_programs_and_sites_says_which_other_sources_the_search_covers(hand: Any) -> None:
    """THEMIS GILL and TREx RGB FSMI: the form can only select themis-asi, trex × gillam, fort smith ×
    both instruments, which brings in THEMIS FSMI and TREx RGB GILL; the status line says so."""
    session = _session(hand, date(2020, 1, 1), date(2020, 1, 10))
    view = AvailabilityView(session=session)
    session.view = "availability"
    labels = [r.label for r in view.grid.rows]
    target = view.search_range(labels.index("THEMIS-ASI GILL"), 0, labels.index("TREx RGB FSMI"), 1)
    assert target is not None
    assert sorted(source_label(s) for s in target.also) == ["THEMIS-ASI FSMI", "TREx RGB GILL"]
    assert session.view == "table" and len(session.results.result) > 0
    assert "also covers THEMIS-ASI FSMI, TREx RGB GILL" in session.job.notice


def test_a_week_or_month_cell_zooms_into_its_days(hand: Any) -> None:
    session = _session(hand, date(2005, 1, 1), date(2024, 12, 31), programs=["themis-asi"])
    view = AvailabilityView(session=session)
    session.view = "availability"
    assert view.grid.period == "month"
    assert view.grid.cell_target(0, 13) == ZoomTarget(date(2006, 2, 1), date(2006, 2, 28))
    view.open_cell(0, 13)
    assert session.view == "availability"
    assert view.grid.period == "day" and len(view.grid.columns) == 28


def test_a_backend_without_availability_says_so_and_searching_still_works(hand: Any) -> None:
    class SearchOnly:
        # Delegates searching and listing only: no ``availability``.
        name = "search-only backend"

        def list_sources(self, *a: Any, **k: Any) -> Any:
            return hand.list_sources(*a, **k)

        def search(self, *a: Any, **k: Any) -> Any:
            return hand.search(*a, **k)

        def close(self) -> None:
            pass

    plain = SearchOnly()
    assert not isinstance(plain, AvailabilityCounts)
    session = _session(hand, date(2020, 1, 1), date(2020, 1, 2))
    session.backend = plain
    view = AvailabilityView(session=session)
    session.view = "availability"
    assert view.grid.rows == () and "does not answer availability" in view._message.object
    assert view.canvas.payload == ""
    assert session.run_search() and len(session.results.result) > 0


def test_over_the_aurorax_api_the_grid_is_the_catalogs(hand: Any, catalog_path: Path) -> None:
    """Through `aurorax-core serve` on 127.0.0.1 (the API's availability endpoint) the statuses and
    counts are those of the catalog."""
    from aurorax_core.server import serve_in_thread

    url, stop = serve_in_thread(catalog_path)
    remote = open_backend(url)
    try:
        local = availability_grid(_session(hand, date(2020, 1, 1), date(2020, 1, 12)))
        over_api = availability_grid(_session(remote, date(2020, 1, 1), date(2020, 1, 12)))
    finally:
        remote.close()
        stop()
    assert over_api.message == ""
    assert [(r.label, r.statuses, r.counts, r.expected_hours) for r in over_api.rows] == [
        (r.label, r.statuses, r.counts, r.expected_hours) for r in local.rows
    ]


def test_record_text_reaches_the_browser_as_data_only() -> None:
    """Names go in the JSON; the browser sets them with textContent (never innerHTML)."""
    js = (Path(__file__).resolve().parents[2] / "dashboard" / "views" / "availability" / "grid.js").read_text()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "outerHTML" not in js


def test_payload_has_every_cell(hand: Any) -> None:
    import json

    grid = availability_grid(_session(hand, date(2020, 1, 1), date(2020, 1, 31)))
    data = json.loads(payload(grid, 7))
    assert data["token"] == 7 and len(data["first"]) == 31
    rows = [row for group in data["groups"] for row in group["rows"]]
    assert [r["label"] for r in rows] == [r.label for r in grid.rows]
    assert all(len(r["codes"]) == len(r["counts"]) == 31 for r in rows)
    gill = next(r for r in rows if r["label"] == "THEMIS-ASI GILL")
    assert data["statuses"][int(gill["codes"][4])] == "missing"
    n = len(data["types"])
    assert dict(zip(data["types"], gill["by_type"][:n], strict=True)) == {
        "keogram": 13,
        "montage": 1,
        "summary_plot": 0,
    }


def test_registry_names_are_unique_and_permalinks_use_them(backend: Any) -> None:
    """The tab names come from the registry; ?view= accepts exactly those."""
    names = view_names()
    assert names == ["table", "gallery", "night", "availability", "basket", "export"]
    session = DashboardSession(backend, view_names=names)
    assert session.apply_permalink({"view": "availability"}) == []
    assert session.view == "availability" and session.to_permalink()["view"] == "availability"
    session.apply_permalink({"view": "nonsense"})
    assert session.view == "availability"
    assert all(cls.title for cls in VIEWS)
