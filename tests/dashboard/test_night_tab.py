"""The night view as a dashboard tab: registered once, fed by the form and its own link parameters."""

from __future__ import annotations

from datetime import date
from typing import Any

from aurorax_core import DataProductQuery
from dashboard.permalink import apply_view_permalink, view_permalink
from dashboard.state import DashboardSession
from dashboard.views.night import NightTab
from dashboard.views.registry import VIEWS, view_names


def _session(backend: Any) -> DashboardSession:
    session = DashboardSession(backend, view_names=view_names())
    session.form.preset_example_day()  # TREx RGB at Fort Smith, 2020-01-01
    return session


def test_the_night_tab_is_one_registry_entry() -> None:
    assert NightTab in VIEWS
    assert "night" in view_names()


def test_showing_the_tab_loads_the_forms_night_with_the_forms_sources(backend: Any) -> None:
    session = _session(backend)
    tab = NightTab(session=session)
    # built with the page (its widgets are in the browser before it is first shown), but nothing
    # is loaded while another tab is shown
    assert tab.view is not None and tab.view.stack is None
    session.view = "night"
    assert tab.view is not None and tab.view.stack is not None
    stack = tab.view.stack
    assert stack.night == date(2020, 1, 1)
    daily = backend.search(
        DataProductQuery(
            start="2020-01-01T00:00:00",
            end="2020-01-01T23:59:59",
            programs=("trex",),
            platforms=("fort smith",),
            instrument_types=("RGB ASI",),
            data_product_types=("keogram",),
        )
    ).data
    assert daily, "the fixture catalog has TREx RGB keograms at Fort Smith that day"
    assert [row.code for row in stack.rows if row.keograms] == ["FSMI"]


def test_the_cursor_and_night_are_kept_in_the_link_and_come_back(backend: Any) -> None:
    session = _session(backend)
    tab = NightTab(session=session)
    session.view = "night"
    tab.state.t = 6 * 3600 + 30 * 60
    link = view_permalink([tab])
    assert link["t"] == "06:30:00" and link["night"] == "2020-01-01"
    again = NightTab(session=_session(backend))
    assert apply_view_permalink([again], {"night": "2020-01-02", "t": "01:02:03"}) == []
    again.session.view = "night"
    assert again.state.night == date(2020, 1, 2)
    assert again.state.t == 3723


def test_a_bad_link_time_is_explained_not_fatal(backend: Any) -> None:
    session = _session(backend)
    tab = NightTab(session=session)
    apply_view_permalink([tab], {"t": "25:00"})
    session.view = "night"
    assert tab.view is not None and tab.view.stack is not None  # the night still loads
    shown = tab.view.status.object
    assert "Part of the link could not be used" in shown and "25:00" in shown
