"""End-to-end search over HTTP (submit -> records as objects): our RemoteBackend vs pyaurorax, same server.

Both clients talk to one ``aurorax-core serve`` subprocess over loopback, on the demo archive of
January-June 2020, in the same run. pyaurorax runs with its DEFAULT
``poll_interval=1.0`` (what its users get); ours with its defaults (adaptive polling from 20 ms).
Cases: one site one night; one program one night; one program one month (the large result); and a
query the server needs about 300 ms for (all programs over a range calibrated at start-up from the
``query_duration`` the server reports: on this server, time grows with the records returned, so
this is also the largest result, ~80,000 records). Figures are medians in ms; the target column is
pyaurorax's median divided by the required speed-up (1x, or 3x for the 100-500 ms and >= 5,000
record cases).

Two servers: ours with its defaults (searches in one process per CPU, a large one split across
them; a submission waits up to 100 ms for a quick search, so that pyaurorax's first status check
already finds the data and it does not sleep), and one that
answers a submission at once like aurorax.space does (``--submit-wait 0``: pyaurorax then sleeps
its poll interval at least once, as it does against the real API). Each pyaurorax row says
whether it slept. When it does not (the month case on our default server), 3x rests on client
speed alone, with the server's search (~40 ms) paid by both: the "where the time goes" row shows
how our time divides.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from ._harness import Row
from .bench_server_load import DEMO_END, DEMO_START, demo_catalog, server_process

# The catalog spans six months so that the ~300 ms case can be found (a search split across the
# server's processes needs ~150,000 records for it); the other cases stay in January
# (DEMO_START..DEMO_END).
CATALOG_END = date(2020, 6, 30)


def _median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    samples = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), out


def _cases(remote: Any) -> list[tuple[str, dict[str, Any]]]:
    """Pick the cases from what the demo archive holds (busiest site, busiest program)."""
    from aurorax_core import DataProductQuery

    items = remote.availability(DEMO_START, DEMO_END)
    by_source = max(items, key=lambda a: sum(a.available_data_products.values()))
    night = max(by_source.available_data_products, key=lambda d: by_source.available_data_products[d])
    programs: dict[str, int] = {}
    for a in items:
        programs[a.data_source.program] = programs.get(a.data_source.program, 0) + sum(
            a.available_data_products.values()
        )
    program = max(programs, key=lambda p: programs[p])
    day = datetime.fromisoformat(night)
    end_day = day + timedelta(hours=23, minutes=59, seconds=59)
    src = by_source.data_source
    cases = [
        (
            f"one site one night ({src.program}/{src.platform}/{src.instrument_type}, {night})",
            {
                "start": day,
                "end": end_day,
                "programs": [src.program],
                "platforms": [src.platform],
                "instrument_types": [src.instrument_type],
            },
        ),
        (f"one program one night ({program}, {night})", {"start": day, "end": end_day, "programs": [program]}),
        (
            f"one program one month ({program}, {DEMO_START:%Y-%m})",
            {
                "start": datetime.combine(DEMO_START, datetime.min.time()),
                "end": datetime.combine(DEMO_END, datetime.min.time()) + timedelta(hours=23, minutes=59, seconds=59),
                "programs": [program],
            },
        ),
    ]
    # the ~300 ms case: all programs over a growing range until the server reports >= 300 ms. In
    # this catalog the server's time grows with the number of records returned (metadata filters
    # are indexed), so this case is also the largest result.
    best: tuple[float, dict[str, Any]] | None = None
    start = datetime.combine(DEMO_START, datetime.min.time())
    for days in (1, 3, 8, 16, 31, 45, 60, 75, 91, 105, 120, 135, 150, 165, 182):
        kwargs = {"start": start, "end": start + timedelta(days=days) - timedelta(seconds=1)}
        remote.search(DataProductQuery(**kwargs))  # warm (the first run of a range reads cold pages)
        duration = remote.search(DataProductQuery(**kwargs)).query_duration_ms
        if best is None or abs(duration - 300) < abs(best[0] - 300):
            best = (duration, kwargs)
        if duration >= 300:
            break
    assert best is not None
    cases.append(
        (f"~300 ms on the server (all programs, {(best[1]['end'] - best[1]['start']).days + 1} days)", best[1])
    )
    return cases


def _phases(ours: Any, kwargs: dict[str, Any], name: str, repeat: int = 5) -> Row:
    """Median ms from the start of a search to each of its progress stages: the submission's
    answer (the server's search and encoding, up to its submit wait), the data being available
    (status polls), and the records retrieved (transfer, JSON decoding, DataProducts)."""
    from aurorax_core import DataProductQuery
    from aurorax_core.events import STAGE_AVAILABLE, STAGE_RETRIEVED, STAGE_SUBMITTED

    marks: dict[str, list[float]] = {STAGE_SUBMITTED: [], STAGE_AVAILABLE: [], STAGE_RETRIEVED: []}
    for shift in range(51, 51 + repeat):  # ends unlike the runs above: nothing served from a cache
        query = DataProductQuery(**{**kwargs, "end": kwargs["end"] - timedelta(seconds=shift)})
        started = time.perf_counter()

        def progress(event: Any, started: float = started) -> None:
            if event.stage in marks:
                marks[event.stage].append((time.perf_counter() - started) * 1000)

        ours.search(query, progress=progress)
    submitted, available, retrieved = (statistics.median(marks[k]) for k in marks)
    return Row(
        name,
        retrieved,
        "ms",
        note=f"submission answered {submitted:.0f} ms, data available {available - submitted:.0f} ms later, "
        f"records retrieved and built {retrieved - available:.0f} ms later",
    )


def _compare(url: str, label: str, repeat: int, only_large: bool) -> list[Row]:
    import pyaurorax

    from aurorax_core import DataProductQuery
    from aurorax_core.backends.remote import RemoteBackend

    rows: list[Row] = []
    ours = RemoteBackend(url)
    theirs = pyaurorax.PyAuroraX(api_base_url=url)
    try:
        for name, kwargs in _cases(ours):
            if only_large and not name.startswith(("one program one month", "~300 ms")):
                continue
            query = DataProductQuery(**kwargs)
            # Each run asks a slightly different query (the end moves back one second per run, which
            # changes no result: products end on whole minutes), so nothing can be served from a
            # cache and every run pays the server's full query time.
            counter = iter(range(1, 10_000))

            def run_ours(kwargs: dict[str, Any] = kwargs, counter: Any = counter) -> int:
                shifted = {**kwargs, "end": kwargs["end"] - timedelta(seconds=next(counter) % 50)}
                return len(ours.search(DataProductQuery(**shifted)).data)

            def run_theirs(kwargs: dict[str, Any] = kwargs, counter: Any = counter) -> int:
                search = theirs.search.data_products.search(
                    kwargs["start"],
                    kwargs["end"] - timedelta(seconds=next(counter) % 50),
                    programs=kwargs.get("programs"),
                    platforms=kwargs.get("platforms"),
                    instrument_types=kwargs.get("instrument_types"),
                    metadata_filters=kwargs.get("metadata_filters"),
                )
                return len(search.data)

            run_ours()
            run_theirs()  # warm-up: connections, SQLite cache
            ours_ms, n_ours = _median_ms(run_ours, repeat)
            theirs_ms, n_theirs = _median_ms(run_theirs, repeat)
            if n_ours != n_theirs:
                raise RuntimeError(f"{name}: our client got {n_ours} records, pyaurorax {n_theirs}")
            server_ms = ours.search(query).query_duration_ms
            need = 3.0 if (100 <= server_ms <= 500 or n_ours >= 5000) else 1.0
            slept = "slept its 1 s poll interval" if theirs_ms >= 1000 else "did not sleep (data ready at first check)"
            rows.append(
                Row(
                    f"{label}{name}: ours",
                    ours_ms,
                    "ms",
                    target=theirs_ms / need,
                    note=f"{n_ours} records; server query {server_ms:.0f} ms; needs {need:g}x vs pyaurorax",
                )
            )
            rows.append(
                Row(
                    f"{label}{name}: pyaurorax (poll_interval=1.0)",
                    theirs_ms,
                    "ms",
                    note=f"{n_theirs} records; {slept}",
                )
            )
            if need > 1 and not label:
                rows.append(_phases(ours, kwargs, f"{name}: ours, where the time goes"))
    finally:
        ours.close()
    return rows


def run(quick: bool) -> list[Row]:
    repeat = 3 if quick else 7
    rows: list[Row] = []
    catalog = demo_catalog(CATALOG_END)
    with server_process(catalog, workers=2) as (url, _pid):
        rows += _compare(url, "", repeat, only_large=False)
    # As aurorax.space answers: 202 at once, whatever the search takes.
    with server_process(catalog, workers=2, extra=("--submit-wait", "0")) as (url, _pid):
        rows += _compare(url, "AuroraX-like server (--submit-wait 0), ", repeat, only_large=True)
    return rows
