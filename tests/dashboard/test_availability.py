"""The Availability view without a browser: the sources × days grid, the message, a click searches the day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aurorax_core import AvailabilityCounts
from dashboard.state import DashboardSession
from dashboard.views.availability import AvailabilityView, availability_grid
from dashboard.views.registry import VIEWS, view_names


def _session(backend: Any) -> DashboardSession:
    session = DashboardSession(backend, view_names=view_names())
    session.form.preset_example_day()  # TREx RGB at Fort Smith, 2020-01-01
    return session


def test_grid_counts_products_per_source_and_day_like_a_search(backend: Any) -> None:
    """Each cell is the number of products the catalog holds for that source and day; it equals a search."""
    session = _session(backend)
    session.form.set_days(date(2019, 12, 31), date(2020, 1, 2))
    grid = availability_grid(session)
    assert grid.message == ""
    assert grid.days == [date(2019, 12, 31), date(2020, 1, 1), date(2020, 1, 2)]
    assert [label for label, _ in grid.rows] == ["TREx RGB FSMI"]
    counts = grid.rows[0][1]
    session.form.set_days(date(2020, 1, 1), date(2020, 1, 1))
    session.run_search()
    assert counts[1] == len(session.results.result) > 0


def test_several_programs_give_one_row_per_selected_source(backend: Any) -> None:
    """Two programs: every source of both, each with its own counts (the backend filters one value only)."""
    session = _session(backend)
    session.form.param.update(programs=["trex", "themis-asi"], platforms=[], instrument_types=[])
    grid = availability_grid(session)
    assert len(grid.rows) == len(session.form.selected_sources()) > 2
    assert any(sum(counts) > 0 for _label, counts in grid.rows)


def test_a_backend_without_availability_says_so(backend: Any) -> None:
    """A backend that cannot count per day gets a clear message instead of a grid."""

    class SearchOnly:
        # Delegates the search interface only: it has no ``availability``.
        name = "search-only backend"

        def list_sources(self, *a: Any, **k: Any) -> Any:
            return backend.list_sources(*a, **k)

        def close(self) -> None:
            pass

    plain = SearchOnly()
    assert not isinstance(plain, AvailabilityCounts)
    session = _session(backend)
    session.backend = plain
    grid = availability_grid(session)
    assert grid.rows == [] and "does not answer availability" in grid.message


def test_bad_ranges_and_empty_selection_are_explained(backend: Any) -> None:
    """No source selected, end before start, or more than 62 days: a message, no backend call."""
    session = _session(backend)
    session.form.start = datetime(2020, 1, 1, tzinfo=UTC)
    session.form.end = datetime(2020, 6, 1, tzinfo=UTC)
    assert "at most 62" in availability_grid(session).message
    session.form.end = datetime(2019, 1, 1, tzinfo=UTC)
    assert "before start" in availability_grid(session).message
    session.form.param.update(programs=[], platforms=[], instrument_types=[])
    assert "Select at least one" in availability_grid(session).message


def test_view_loads_only_when_shown_and_a_cell_click_searches_that_day(backend: Any) -> None:
    """The view asks the backend when its tab is shown; clicking a day searches it and shows the table."""
    session = _session(backend)
    view = AvailabilityView(session=session)
    assert view.grid.rows == []  # not shown yet: nothing asked
    session.form.set_days(date(2019, 12, 31), date(2020, 1, 2))
    session.view = "availability"
    assert view.grid.days == ["2019-12-31", "2020-01-01", "2020-01-02"]
    assert view.grid.rows[0]["label"] == "TREx RGB FSMI"
    shown = view.grid.rows[0]["counts"][1]
    view._on_msg({"day": "2020-01-01"})
    assert session.view == "table"
    assert session.form.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert session.form.end == datetime(2020, 1, 1, 23, 59, 59, tzinfo=UTC)
    assert session.results.result is not None and len(session.results.result) == shown
    view._on_msg({"day": "1999-01-01"})  # not a shown day: ignored
    assert session.form.start == datetime(2020, 1, 1, tzinfo=UTC)


def test_hostile_source_names_stay_text() -> None:
    """Labels reach the browser only as data set with textContent (no HTML is built from them)."""
    from dashboard.views.availability import _ESM

    assert "innerHTML" not in _ESM and "textContent = row.label" in _ESM


def test_registry_names_are_unique_and_permalinks_use_them(backend: Any) -> None:
    """The tab names come from the registry; ?view= accepts exactly those."""
    names = view_names()
    assert names == ["table", "gallery", "night", "availability", "basket", "export"]
    session = _session(backend)
    assert session.apply_permalink({"view": "availability"}) == []
    assert session.view == "availability" and session.to_permalink()["view"] == "availability"
    session.apply_permalink({"view": "nonsense"})
    assert session.view == "availability"
    assert all(cls.title for cls in VIEWS)
