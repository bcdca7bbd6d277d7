"""DashboardState without a browser: inputs, validation, searching, errors, selection, permalinks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aurorax_core import open_backend
from dashboard.state import DashboardState


def test_sources_fill_cascading_selectors_with_display_names(state: DashboardState) -> None:
    """Programs show display names (TREx), platforms their site codes; choosing narrows the next list."""
    assert state.param.programs.names["TREx"] == "trex"
    assert "Fort Smith (FSMI)" in " ".join(state.param.platforms.names)
    state.param.update(programs=["trex"], platforms=[], instrument_types=[])
    trex_platforms = set(state.param.platforms.objects)
    state.programs = ["themis-asi"]
    assert set(state.param.platforms.objects) != trex_platforms
    assert "RGB ASI" not in state.param.instrument_types.objects


def test_changing_program_drops_platforms_that_no_longer_fit(state: DashboardState) -> None:
    """A platform only TREx has is removed from the selection when the program becomes THEMIS."""
    state.param.update(programs=["trex"], platforms=["lucky lake"], instrument_types=[])
    state.programs = ["themis-asi"]
    assert "lucky lake" not in state.platforms


def test_example_query_finds_products_with_every_stage(state: DashboardState) -> None:
    """The documentation's example (TREx RGB at Fort Smith, 2020-01-01) gives rows and the AuroraX stages."""
    state.param.trigger("search")
    assert state.error == ""
    assert state.result is not None and len(state.result) > 0
    assert len(state.results) == len(state.result)
    assert set(state.results["platform"]) == {"fort smith"}
    stages = [line["stage"] for line in state.stages]
    assert stages[0] == "created" and "retrieved" in stages
    assert "records" in state.status and not state.is_searching


def test_search_pressed_while_the_backend_opens_runs_once_it_is_open(backend: object) -> None:
    """On a first run the page opens while the demo archive is being built: a Search pressed then
    (after the documentation's example) is not refused as an empty query; it runs when the
    backend is ready."""
    s = DashboardState()
    s.backend_opening = True
    s.preset_example_day()
    assert s.run_search() is False
    assert s.error == "" and "still opening" in s.notice and s.result is None
    s.set_backend(backend)
    s.preset_example_day()  # what the page does once the sources are known (first visit)
    s.backend_opening = False
    assert s.error == ""
    assert s.result is not None and set(s.results["platform"]) == {"fort smith"}


def test_a_search_waiting_for_a_backend_that_fails_to_open_is_dropped() -> None:
    s = DashboardState()
    s.backend_opening = True
    s.preset_example_day()
    s.run_search()
    s.backend_opening = False  # opening failed: the page shows why; no second, misleading alert
    assert s.error == "" and s.result is None


def test_end_before_start_is_explained_and_not_searched(state: DashboardState) -> None:
    """End before start: a message next to End, and no search is sent."""
    state.end = state.start - timedelta(days=1)
    assert "before start" in state.field_errors["end"]
    assert state.run_search() is False
    assert state.result is None and "before start" in state.error


def test_fifty_year_range_is_refused(state: DashboardState) -> None:
    """A range of 50 years is explained (limit 25 years) before searching."""
    state.start = datetime(1970, 1, 1, tzinfo=UTC)
    state.end = datetime(2020, 1, 1, tzinfo=UTC)
    assert "50 years" in state.field_errors["end"]
    assert state.run_search() is False


def test_no_source_selected_is_explained(state: DashboardState) -> None:
    """Searching everything is refused with a message on the program field."""
    state.param.update(programs=[], platforms=[], instrument_types=[])
    assert "Select at least one" in state.field_errors["programs"]
    assert state.run_search() is False


def test_bad_metadata_filter_is_explained(state: DashboardState) -> None:
    """'between' with one value is reported next to the filter builder."""
    state.add_metadata_filter("keogram_type", "between", ["daily"])
    assert "between" in state.field_errors["metadata_filters"]
    state.remove_metadata_filter(0)
    assert "metadata_filters" not in state.field_errors


def test_metadata_filter_narrows_results(state: DashboardState) -> None:
    """keogram_type = daily keeps only daily keograms."""
    assert "keogram_type" in state.metadata_keys()
    assert "daily" in state.metadata_vocabulary["keogram_type"]
    state.data_product_types = ["keogram"]
    state.add_metadata_filter("keogram_type", "=", ["daily"])
    state.param.trigger("search")
    assert state.result is not None and len(state.result) > 0
    assert {p.sub_type for p in state.result} == {"daily"}


def test_zero_results_say_so_and_suggest_changes(state: DashboardState) -> None:
    """A night with no data gives a notice with suggestions, not an error."""
    state.param.update(start=datetime(2019, 6, 1, tzinfo=UTC), end=datetime(2019, 6, 1, 23, 59, 59, tzinfo=UTC))
    state.param.trigger("search")
    assert state.result is not None and len(state.result) == 0
    assert state.error == ""
    assert "No data products match" in state.notice and "widen the time range" in state.notice


def test_presets_and_steppers(state: DashboardState) -> None:
    """Newest night is a day with data; ±1 day moves the range; the example day is 2020-01-01."""
    assert state.preset_newest_night()
    assert state.start.date() == state.end.date()
    newest = state.start
    state.step_days(-1)
    assert state.start == newest - timedelta(days=1)
    state.preset_last_nights(7)
    assert (state.end - state.start) > timedelta(days=6)
    state.preset_example_day()
    assert state.start == datetime(2020, 1, 1, tzinfo=UTC)


def test_unreachable_api_becomes_a_readable_error(state: DashboardState) -> None:
    """A dead AuroraX URL: the search fails with an explanation, not a traceback."""
    port = _free_port()
    dead = open_backend(f"http://127.0.0.1:{port}")
    try:
        state.backend = dead  # keep the vocabulary; only the backend is unreachable
        state.param.trigger("search")
    finally:
        dead.close()
    assert state.error_title == "Cannot reach the AuroraX server"
    assert "Traceback" not in state.error and "embedded catalog" in state.error
    assert not state.is_searching


def test_cancel_really_cancels_and_late_answers_are_ignored(state: DashboardState) -> None:
    """Cancel during a search: the state stops searching at once and the late result is dropped."""
    started = threading.Event()
    release = threading.Event()
    real_search = state.backend.search

    class Slow:
        # A thin delegating wrapper (not a mock): the real catalog answers, just after we cancel.
        name = "slow catalog"

        def search(self, query, *, progress=None, cancel=None, timeout=None):  # type: ignore[no-untyped-def]
            started.set()
            release.wait(5)
            seen_cancel.append(cancel is not None and cancel.cancelled)
            return real_search(query, progress=progress, cancel=cancel, timeout=timeout)

    worker: list[threading.Thread] = []
    seen_cancel: list[bool] = []
    state.backend = Slow()
    state.runner.executor = lambda fn: worker.append(threading.Thread(target=fn)) or worker[-1].start()
    state.param.trigger("search")
    assert started.wait(5) and state.is_searching
    state.param.trigger("cancel")
    assert not state.is_searching and "cancelled" in state.status.lower()
    release.set()
    worker[0].join(10)
    assert seen_cancel == [True]  # the backend got the cancelled token (the catalog then stops)
    assert state.result is None and "cancelled" in state.status.lower()


def test_selection_and_permalink_round_trip(state: DashboardState, demo_catalog_path: Path) -> None:
    """The permalink carries query, table filters and the selected product; a fresh state restores them."""
    state.data_product_types = ["keogram", "movie"]
    state.param.trigger("search")
    product = state.result.data[-1]
    assert state.select_url(product.url)
    state.table_filters = {"data_product_type": "movie"}
    link = state.to_permalink()
    assert link["product"] == product.url and link["type"] == "keogram,movie"

    with open_backend(demo_catalog_path) as other:
        fresh = DashboardState(other)
        assert fresh.apply_permalink(link) == []
        assert fresh.to_query() == state.to_query()
        assert fresh.table_filters == {"data_product_type": "movie"}
        fresh.param.trigger("search")
        assert fresh.selected is not None and fresh.selected.url == product.url


def test_permalink_with_junk_is_reported_not_crashing(state: DashboardState) -> None:
    """Unknown programs, bad dates and broken JSON in a link become readable problems."""
    problems = state.apply_permalink(
        {"start": "yesterday", "program": "nope,trex", "filters": "{not json", "type": "keogram,bogus"}
    )
    text = " ".join(problems)
    assert "start" in text and "nope" in text and "filters" in text and "bogus" in text
    assert state.programs == ["trex"]


def test_progress_events_are_dispatched_in_order(state: DashboardState) -> None:
    """Stages reach the state through ``dispatch`` (the app routes them to the event loop)."""
    seen: list[str] = []
    original = state.runner.dispatch

    def dispatch(fn):  # type: ignore[no-untyped-def]
        seen.append("dispatch")
        original(fn)

    state.runner.dispatch = dispatch
    state.param.trigger("search")
    assert len(seen) >= 3
    assert [line["stage"] for line in state.stages][-1] == "retrieved"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_link_without_a_query_keeps_the_inputs(state: DashboardState) -> None:
    """?theme=dark alone (or an empty link) does not clear the form."""
    before = state.to_query()
    assert state.apply_permalink({"theme": "dark"}) == []
    assert state.to_query() == before
