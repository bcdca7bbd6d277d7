"""Availability tab in Chromium: click on the tab → grid drawn, a year and 20 years of all ground sources.

Over the 5.9-million-record, 20-year benchmark catalog (``.bench-data/catalog-20y.sqlite``, built by
``python -m bench catalog``; opened read-only here, never written; ``AURORAX_BENCH_CATALOG`` points
elsewhere). The app is served in-process (``pn.serve``, 127.0.0.1); each run sets the form to every
ground program and a range while the Table tab is shown, then clicks the Availability tab and waits
until the page has drawn that grid (the grid's ``data-drawn`` token). A different year (or 20-year
window) each run, so no run reuses the previous grid. "in-process" rows time the view's own work
without the browser: ``availability_grid`` (the core's ``availability`` plus the layout) and the
JSON sent to the page.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench._harness import CHROMIUM_ARGS, Row, free_port

ROOT = Path(__file__).resolve().parents[1]
CATALOG = Path(os.environ.get("AURORAX_BENCH_CATALOG") or ROOT / ".bench-data" / "catalog-20y.sqlite")

# The grid's drawn token, found in the page's shadow roots (the component lives in one).
_DRAWN = """old => {
  const cache = window.__avBench || (window.__avBench = {});
  const find = (root) => {
    const hit = root.querySelector('.av-wrap');
    if (hit) return hit;
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) { const r = find(e.shadowRoot); if (r) return r; }
    }
    return null;
  };
  if (!cache.wrap || !cache.wrap.isConnected) cache.wrap = find(document);
  return !!cache.wrap && Number(cache.wrap.dataset.drawn || 0) > old;
}"""


DRAW_MS: list[float] = []  # the page's own drawing time of each grid (JSON parse to canvas done)


def _on_loop(app: Any, fn: Any) -> None:
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        finally:
            done.set()

    app.session.runner.dispatch(run)
    done.wait(30)


def _click_to_drawn(page: Any, app: Any, programs: list[str], first: date, last: date) -> float:
    """Seconds from the click on the Availability tab to that grid drawn in the page."""
    session = app.session

    def prepare() -> None:
        session.view = "table"
        session.form.param.update(programs=programs, platforms=[], instrument_types=[])
        session.form.set_days(first, last)

    _on_loop(app, prepare)
    # A form change also counts every source's products for the option labels (off the loop):
    # let that finish, as it has by the time a person moves to the tab, before the clock starts.
    page.wait_for_timeout(2000)
    old = app.views["availability"]._token
    t0 = time.perf_counter()
    page.locator(".bk-tab", has_text="Availability").click()
    page.wait_for_function(_DRAWN, arg=old, timeout=120_000, polling=10)
    elapsed = time.perf_counter() - t0
    DRAW_MS.append(float(page.evaluate("() => Number(window.__avBench.wrap.dataset.drawMs)")))
    return elapsed


def run(quick: bool) -> list[Row]:
    import panel as pn
    from playwright.sync_api import sync_playwright

    from aurorax_core import AuroraXCoreError
    from aurorax_core.backends.catalog import CatalogBackend
    from dashboard.app import DashboardApp
    from dashboard.state import DashboardSession
    from dashboard.views.availability import availability_grid
    from dashboard.views.availability.grid import payload

    try:
        CatalogBackend(CATALOG, readonly=True).close()
    except AuroraXCoreError as exc:
        print(f"  cannot open the bench catalog read-only: {exc}", file=sys.stderr)
        return []
    apps: list[Any] = []

    def app() -> Any:
        dashboard = DashboardApp(CatalogBackend(CATALOG, readonly=True))
        apps.append(dashboard)
        return dashboard

    port = free_port()
    server = pn.serve(app, port=port, address="127.0.0.1", threaded=True, show=False)
    repeat = 3 if quick else 7
    rows: list[Row] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("button", name="Search", exact=True).wait_for(timeout=120_000)
            dashboard = apps[-1]
            programs = sorted({s.program for s in dashboard.session.form.sources if s.source_type == "ground"})
            DRAW_MS.clear()
            years = [
                _click_to_drawn(page, dashboard, programs, date(y, 1, 1), date(y, 12, 31))
                for y in range(2010, 2011 + repeat)
            ][1:]
            grid = dashboard.views["availability"].grid
            rows.append(
                Row(
                    "a year × all ground sources: tab click → grid drawn",
                    statistics.median(years) * 1000,
                    "ms",
                    1000,
                    note=f"{len(grid.rows)} sources × {len(grid.columns)} days; max {max(years) * 1000:.0f} ms; "
                    f"drawing in the page {statistics.median(DRAW_MS[1:]):.0f} ms",
                )
            )
            DRAW_MS.clear()
            twenty = [
                _click_to_drawn(page, dashboard, programs, date(2005, 1, 1 + i), date(2024, 12, 31 - i))
                for i in range(repeat + 1)
            ][1:]
            grid = dashboard.views["availability"].grid
            rows.append(
                Row(
                    "20 years × all ground sources by month: tab click → grid drawn",
                    statistics.median(twenty) * 1000,
                    "ms",
                    1500,
                    note=f"{len(grid.rows)} sources × {len(grid.columns)} months; max {max(twenty) * 1000:.0f} ms; "
                    f"drawing in the page {statistics.median(DRAW_MS[1:]):.0f} ms",
                )
            )
            page.close()
            browser.close()
        # The view's own work, without the browser (a session of its own: the page's is closed).
        session = DashboardSession(CatalogBackend(CATALOG, readonly=True))
        session.form.param.update(programs=programs)
        for label, first, last in (
            ("a year", date(2015, 1, 1), date(2015, 12, 31)),
            ("20 years by month", date(2005, 1, 1), date(2024, 12, 31)),
        ):
            session.form.set_days(first, last)
            grids, texts, cpu = [], [], []
            for _ in range(repeat):
                c0, t0 = time.process_time(), time.perf_counter()
                grid = availability_grid(session)
                t1 = time.perf_counter()
                text = payload(grid, 1)
                grids.append(t1 - t0)
                texts.append(time.perf_counter() - t1)
                cpu.append(time.process_time() - c0)
            grid_ms, json_ms = statistics.median(grids) * 1000, statistics.median(texts) * 1000
            rows.append(
                Row(
                    f"in-process, {label}: availability_grid + JSON",
                    grid_ms + json_ms,
                    "ms",
                    None,
                    note=f"grid {grid_ms:.0f} ms + JSON {json_ms:.0f} ms ({len(text) / 1e6:.2f} MB); "
                    f"CPU {statistics.median(cpu) * 1000:.0f} ms",
                )
            )
        session.close()
    finally:
        server.stop()
    return rows
