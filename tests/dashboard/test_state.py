"""DashboardSession without a browser: inputs, validation, searching, errors, selection, permalinks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aurorax_core import DataProductQuery, open_backend
from dashboard.state import DashboardSession


def test_sources_fill_cascading_selectors_with_display_names(session: DashboardSession) -> None:
    """Programs show display names (TREx), platforms their site codes; choosing narrows the next list."""
    trex = session.backend.search(DataProductQuery(session.form.start, session.form.end, programs=["trex"]))
    assert session.form.param.programs.names[f"TREx · {len(trex)}"] == "trex"
    assert "Fort Smith (FSMI)" in " ".join(session.form.param.platforms.names)
    session.form.param.update(programs=["trex"], platforms=[], instrument_types=[])
    trex_platforms = set(session.form.param.platforms.objects)
    session.form.programs = ["themis-asi"]
    assert set(session.form.param.platforms.objects) != trex_platforms
    assert "RGB ASI" not in session.form.param.instrument_types.objects


def test_changing_program_drops_platforms_that_no_longer_fit(session: DashboardSession) -> None:
    """A platform only TREx has is removed from the selection when the program becomes THEMIS."""
    session.form.param.update(programs=["trex"], platforms=["lucky lake"], instrument_types=[])
    session.form.programs = ["themis-asi"]
    assert "lucky lake" not in session.form.platforms


def test_example_query_finds_products_with_every_stage(session: DashboardSession) -> None:
    """The documentation's example (TREx RGB at Fort Smith, 2020-01-01) gives rows and the AuroraX stages."""
    session.param.trigger("search")
    assert session.job.error == ""
    assert session.results.result is not None and len(session.results.result) > 0
    assert len(session.results.frame) == len(session.results.result)
    assert set(session.results.frame["platform"]) == {"fort smith"}
    stages = [line["stage"] for line in session.job.stages]
    assert stages[0] == "created" and "retrieved" in stages
    result = session.results.result
    assert session.job.status.startswith(f"{len(result)} products · ") and not session.job.is_searching
    assert session.job.status.endswith(f" · request {result.request_id}")


def test_a_view_that_fails_to_show_the_rows_ends_the_search_with_an_error(session: DashboardSession) -> None:
    """A view that raises while the rows arrive: the page says the search failed, never 'Searching…' for good."""

    def broken_view(_event: object) -> None:
        raise ValueError("the table could not take these rows")

    watcher = session.results.param.watch(broken_view, "result")
    session.param.trigger("search")
    assert not session.job.is_searching
    assert "the table could not take these rows" in session.job.error
    session.results.param.unwatch(watcher)
    session.param.trigger("search")  # and the next search works
    assert session.job.error == "" and session.job.status.endswith(f"request {session.results.result.request_id}")


def test_search_pressed_while_the_backend_opens_runs_once_it_is_open(backend: object) -> None:
    """On a first run the page opens while the demo archive is being built: a Search pressed then
    (after the documentation's example) is not refused as an empty query; it runs when the
    backend is ready."""
    s = DashboardSession()
    s.backend_opening = True
    s.form.preset_example_day()
    assert s.run_search() is False
    assert s.job.error == "" and "still opening" in s.job.notice and s.results.result is None
    s.set_backend(backend)
    s.form.preset_example_day()  # what the page does once the sources are known (first visit)
    s.backend_opening = False
    assert s.job.error == ""
    assert s.results.result is not None and set(s.results.frame["platform"]) == {"fort smith"}


def test_a_search_waiting_for_a_backend_that_fails_to_open_is_dropped() -> None:
    s = DashboardSession()
    s.backend_opening = True
    s.form.preset_example_day()
    s.run_search()
    s.backend_opening = False  # opening failed: the page shows why; no second, misleading alert
    assert s.job.error == "" and s.results.result is None


def test_end_before_start_is_explained_and_not_searched(session: DashboardSession) -> None:
    """End before start: a message next to End, and no search is sent."""
    session.form.end = session.form.start - timedelta(days=1)
    assert "before start" in session.form.field_errors["end"]
    assert session.run_search() is False
    assert session.results.result is None and "before start" in session.job.error


def test_fifty_year_range_is_refused(session: DashboardSession) -> None:
    """A range of 50 years is explained (limit 25 years) before searching."""
    session.form.start = datetime(1970, 1, 1, tzinfo=UTC)
    session.form.end = datetime(2020, 1, 1, tzinfo=UTC)
    assert "50 years" in session.form.field_errors["end"]
    assert session.run_search() is False


def test_no_source_selected_is_explained(session: DashboardSession) -> None:
    """Searching everything is refused with a message on the program field."""
    session.form.param.update(programs=[], platforms=[], instrument_types=[])
    assert "Select at least one" in session.form.field_errors["programs"]
    assert session.run_search() is False


def test_bad_metadata_filter_is_explained(session: DashboardSession) -> None:
    """'between' with one value is reported next to the filter builder."""
    session.form.add_metadata_filter("keogram_type", "between", ["daily"])
    assert "between" in session.form.field_errors["metadata_filters"]
    session.form.remove_metadata_filter(0)
    assert "metadata_filters" not in session.form.field_errors


def test_metadata_filter_narrows_results(session: DashboardSession) -> None:
    """keogram_type = daily keeps only daily keograms."""
    assert "keogram_type" in session.form.metadata_keys()
    assert "daily" in session.form.metadata_vocabulary["keogram_type"]
    session.form.data_product_types = ["keogram"]
    session.form.add_metadata_filter("keogram_type", "=", ["daily"])
    session.param.trigger("search")
    assert session.results.result is not None and len(session.results.result) > 0
    assert {p.sub_type for p in session.results.result} == {"daily"}


def test_zero_results_say_so_and_suggest_changes(session: DashboardSession) -> None:
    """A range with no data (inside the years the sources cover) gives a notice with suggestions, not an error.

    (A range outside those years gets its own advice: see the test below.)"""
    session.form.param.update(
        start=datetime(2020, 1, 1, 0, 0, tzinfo=UTC), end=datetime(2020, 1, 1, 0, 0, 10, tzinfo=UTC)
    )
    session.param.trigger("search")
    assert session.results.result is not None and len(session.results.result) == 0
    assert session.job.error == ""
    assert "No data products match" in session.job.notice and "widen the time range" in session.job.notice


def test_presets_and_steppers(session: DashboardSession) -> None:
    """Newest night is a day with data; ±1 day moves the range; the example day is 2020-01-01."""
    assert session.preset_newest_night()
    assert session.form.start.date() == session.form.end.date()
    newest = session.form.start
    session.form.step_days(-1)
    assert session.form.start == newest - timedelta(days=1)
    session.preset_last_nights(7)
    assert (session.form.end - session.form.start) > timedelta(days=6)
    session.form.preset_example_day()
    assert session.form.start == datetime(2020, 1, 1, tzinfo=UTC)


def test_unreachable_api_becomes_a_readable_error(session: DashboardSession) -> None:
    """A dead AuroraX URL: the search fails with an explanation, not a traceback."""
    port = _free_port()
    dead = open_backend(f"http://127.0.0.1:{port}")
    try:
        session.backend = dead  # keep the vocabulary; only the backend is unreachable
        session.param.trigger("search")
    finally:
        dead.close()
    assert session.job.error_title == "Cannot reach the AuroraX server"
    assert "Traceback" not in session.job.error and "embedded catalog" in session.job.error
    assert not session.job.is_searching


def test_cancel_really_cancels_and_late_answers_are_ignored(session: DashboardSession) -> None:
    """Cancel during a search: the session stops searching at once and the late result is dropped."""
    started = threading.Event()
    release = threading.Event()
    real_search = session.backend.search

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
    session.backend = Slow()
    session.runner.executor = lambda fn: worker.append(threading.Thread(target=fn)) or worker[-1].start()
    session.param.trigger("search")
    assert started.wait(5) and session.job.is_searching
    session.param.trigger("cancel")
    assert not session.job.is_searching and "cancelled" in session.job.status.lower()
    release.set()
    worker[0].join(10)
    assert seen_cancel == [True]  # the backend got the cancelled token (the catalog then stops)
    assert session.results.result is None and "cancelled" in session.job.status.lower()


def test_selection_and_permalink_round_trip(session: DashboardSession, demo_catalog_path: Path) -> None:
    """The permalink carries query, table filters and the selected product; a fresh session restores them."""
    session.form.data_product_types = ["keogram", "movie"]
    session.param.trigger("search")
    product = session.results.result.data[-1]
    assert session.results.select_url(product.url)
    session.results.table_filters = {"data_product_type": "movie"}
    link = session.to_permalink()
    assert link["product"] == product.url and link["type"] == "keogram,movie"

    with open_backend(demo_catalog_path) as other:
        fresh = DashboardSession(other)
        assert fresh.apply_permalink(link) == []
        assert fresh.form.to_query() == session.form.to_query()
        assert fresh.results.table_filters == {"data_product_type": "movie"}
        fresh.param.trigger("search")
        assert fresh.results.selected is not None and fresh.results.selected.url == product.url


def test_permalink_with_junk_is_reported_not_crashing(session: DashboardSession) -> None:
    """Unknown programs, bad dates and broken JSON in a link become readable problems."""
    problems = session.apply_permalink(
        {"start": "yesterday", "program": "nope,trex", "filters": "{not json", "type": "keogram,bogus"}
    )
    text = " ".join(problems)
    assert "start" in text and "nope" in text and "filters" in text and "bogus" in text
    assert session.form.programs == ["trex"]


def test_progress_events_are_dispatched_in_order(session: DashboardSession) -> None:
    """Stages reach the session through ``dispatch`` (the app routes them to the event loop)."""
    seen: list[str] = []
    original = session.runner.dispatch

    def dispatch(fn):  # type: ignore[no-untyped-def]
        seen.append("dispatch")
        original(fn)

    session.runner.dispatch = dispatch
    session.param.trigger("search")
    assert len(seen) >= 3
    assert [line["stage"] for line in session.job.stages][-1] == "retrieved"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_link_without_a_query_keeps_the_inputs(session: DashboardSession) -> None:
    """?theme=dark alone (or an empty link) does not clear the form."""
    before = session.form.to_query()
    assert session.apply_permalink({"theme": "dark"}) == []
    assert session.form.to_query() == before


def test_every_declared_field_round_trips_through_the_permalink_and_the_exported_code(
    session: DashboardSession, demo_catalog_path: Path
) -> None:
    """Each field of the one field table reaches the link and the Python snippet, and comes back."""
    from dashboard import exports
    from dashboard.state import QUERY_FIELDS

    session.form.param.update(data_product_types=["keogram"], metadata_filters_logical_operator="OR")
    session.form.add_metadata_filter("keogram_type", "in", ["daily"])
    link = session.to_permalink()
    assert {f.link for f in QUERY_FIELDS} <= set(link)
    code = exports.python_core(session.form.to_query())
    for field in QUERY_FIELDS:
        assert f"    {field.name}=" in code
    with open_backend(demo_catalog_path) as other:
        fresh = DashboardSession(other)
        assert fresh.apply_permalink(link) == []
        assert fresh.form.to_query() == session.form.to_query()
        assert fresh.form.metadata_filters_logical_operator == "OR"


def test_only_sources_with_data_products_are_offered_in_auroras_naming_with_counts(
    session: DashboardSession,
) -> None:
    """The THEMIS spacecraft (no data products) is not offered; THEMIS ASI is, named as AuroraX
    names it, with its products in the chosen days; counts follow the range and narrow by program."""
    names = session.form.param.programs.names
    assert "themis" not in names.values() and "themis-asi" in names.values()
    assert not {"dmsp", "swarm", "goes", "cluster", "arase", "amisr", "events"} & set(names.values())
    label = next(k for k, v in names.items() if v == "themis-asi")
    day = session.backend.search(DataProductQuery(session.form.start, session.form.end, programs=["themis-asi"]))
    assert label == f"THEMIS ASI · {len(day)}" and len(day) > 0
    session.form.type_time("start", "2019-12-31..2020-01-02")
    three = session.backend.search(DataProductQuery(session.form.start, session.form.end, programs=["themis-asi"]))
    assert f"THEMIS ASI · {len(three):,}" in session.form.param.programs.names
    session.form.param.update(programs=["themis-asi"], platforms=[], instrument_types=[])
    athabasca = next(k for k, v in session.form.param.platforms.names.items() if v == "athabasca")
    atha = session.backend.search(
        DataProductQuery(session.form.start, session.form.end, programs=["themis-asi"], platforms=["athabasca"])
    )
    assert athabasca == f"Athabasca (ATHA) · {len(atha)}"
    session.form.type_time("start", "2019-01..2020-02")  # over a year: no counts, still offered
    assert "THEMIS ASI" in session.form.param.programs.names


def test_zero_results_outside_the_sources_years_say_which_years_they_cover(session: DashboardSession) -> None:
    """A range after the chosen sources' last products: the advice names the years they cover."""
    session.form.type_time("start", "2021-03-01..2021-03-02")
    session.run_search()
    assert session.results.result is not None and len(session.results.result) == 0
    notice = session.job.notice
    assert "no data products after 2020-01-02" in notice and "2019-12-31 to 2020-01-02" in notice
    session.form.type_time("start", "2019-06-01..2019-06-02")
    session.run_search()
    assert "no data products before 2019-12-31" in session.job.notice


def test_zero_results_of_a_type_the_sources_lack_name_the_types_they_have(session: DashboardSession) -> None:
    """THEMIS ASI makes no movies: asking for them says so and lists what the day does hold."""
    session.form.param.update(programs=["themis-asi"], platforms=[], instrument_types=[], data_product_types=["movie"])
    session.run_search()
    assert session.results.result is not None and len(session.results.result) == 0
    day = session.backend.search(session.form.to_query().replace(data_product_types=[]))
    counts: dict[str, int] = {}
    for product in day:
        counts[product.data_product_type] = counts.get(product.data_product_type, 0) + 1
    notice = session.job.notice
    assert "the selected sources have no movie products in these days" in notice, notice
    for kind, n in counts.items():
        assert f"{kind} · {n:,}" in notice
    assert "clear or change the product-type filter" in notice
    # A type they do have in those days, filtered away by the hour: the general tips, nothing invented.
    session.form.param.update(
        data_product_types=["keogram"],
        start=datetime(2020, 1, 1, 0, 30, 10, tzinfo=UTC),
        end=datetime(2020, 1, 1, 0, 30, 11, tzinfo=UTC),
    )
    session.run_search()
    assert len(session.results.result) == 0 and "no keogram products" not in session.job.notice


def test_zero_results_outside_the_backend_say_what_it_holds(backend: object) -> None:
    """Sources listed without stats (as the AuroraX API lists them) cannot tell their years: the
    backend's own span is named instead."""
    from dataclasses import replace

    from dashboard.state.advice import no_results_advice

    sources = [replace(s, stats=None) for s in backend.list_sources(programs=["trex"])]
    query = DataProductQuery(datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 5, 2, tzinfo=UTC), programs=["trex"])
    first, last = backend.time_span()
    advice = no_results_advice(query, sources, backend, lambda: None)
    assert advice == (
        f"No data products match this query: this backend holds data products from {first:%Y-%m-%d} to "
        f"{last:%Y-%m-%d} only; choose a range inside it (or another backend)."
    )
    inside = DataProductQuery(first, last, programs=["trex"])
    assert "this backend holds" not in no_results_advice(inside, sources, backend, lambda: None)


def test_the_table_order_notifies_views_only_when_it_changes(session: DashboardSession) -> None:
    """The gallery and exports follow the table's order: a new order reaches them, the same order
    set again (every page turn re-reads it) does not redo their work."""
    from dashboard.state import RowOrder

    session.run_search()
    results = session.results
    n = len(results.result)
    assert n > 2 and list(results.view_indices) == list(range(n))
    seen: list[list[int]] = []
    results.param.watch(lambda e: seen.append(list(e.new)), "view_indices")
    results.view_indices = RowOrder(range(n))
    assert seen == []
    results.view_indices = RowOrder(reversed(range(n)))
    assert seen == [list(reversed(range(n)))]
    results.view_indices = RowOrder([0, 1])
    assert seen[-1] == [0, 1] and len(seen) == 2
