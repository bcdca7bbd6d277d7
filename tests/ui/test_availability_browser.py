"""The Availability tab in Chromium: a cell click opens that night in the Night tab, a drag searches,
20 years by month, hover details, record text as text, both themes (test-artifacts/availability/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from aurorax_core import expected_imaging, open_backend
from aurorax_core.backends.catalog import CatalogBackend
from dashboard.app import DashboardApp
from ui.test_dashboard_browser import _open, _shot  # the dashboard's page helpers

pytestmark = pytest.mark.ui

# a run of the suite must not rewrite the tracked docs/screenshots/ (the looked-at ones are copied there)
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "availability"
HOSTILE = '<img src=x onerror="window.__pwned=1">Bad & <b>name</b>'
SITES = {55: (60.03, -111.93), 46: (56.38, -94.64), 51: (62.82, -92.11), 103: (56.38, -94.64)}
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
    {"identifier": 900, "program": "themis-asi", "platform": "nowhere", "instrument_type": "panchromatic ASI",
     "source_type": "ground", "display_name": HOSTILE},
]  # fmt: skip


def _products(sid: int, day: date, hours: list[int]) -> list[dict[str, Any]]:
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)

    def one(start: datetime, kind: str, length: timedelta) -> dict[str, Any]:
        return {
            "data_source": {"identifier": sid},
            "data_product_type": kind,
            "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "end": (start + length - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "url": f"https://example.org/{sid}/{start:%Y%m%d%H}_{kind}.jpg",
            "metadata": {},
        }

    hourly = [one(base + timedelta(hours=h), "keogram", timedelta(hours=1)) for h in hours]
    return [*hourly, one(base, "montage", timedelta(days=1))]


def _records() -> list[dict[str, Any]]:
    """March-June 2020 nightly where dark (a missing night every 9th day at GILL, a thin one every
    13th at FSMI), a few nights a year 2005-2024 at FSMI, Swarm every third day."""
    out: list[dict[str, Any]] = []
    day = date(2020, 3, 1)
    while day <= date(2020, 6, 30):
        for sid, (lat, lon) in SITES.items():
            if expected_imaging(day, lat, lon).hours < 1 or (sid == 46 and day.day % 9 == 0):
                continue
            out += _products(sid, day, [5] if sid == 55 and day.day % 13 == 0 else [3, 4, 5, 6, 7])
        if day.toordinal() % 3 == 0:
            out += _products(3, day, [])
        day += timedelta(days=1)
    for year in range(2005, 2025):
        for month in (1, 2, 11):
            out += _products(55, date(year, month, 10), [4, 5, 6])
    out += _products(900, date(2020, 3, 2), [4])
    return out


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("availability-browser") / "catalog.sqlite"
    catalog = CatalogBackend(path)
    try:
        catalog.ingest_sources(SOURCES)
        catalog.ingest_products(_records())
    finally:
        catalog.close()
    return path


@pytest.fixture
def served(serve_app: Callable[[Callable[[], Any]], str], catalog_path: Path) -> tuple[str, list[Any]]:
    apps: list[Any] = []

    def app() -> Any:
        dashboard = DashboardApp(open_backend(str(catalog_path)))
        apps.append(dashboard)
        return dashboard

    return serve_app(app), apps


def _link(url: str, first: str, last: str, program: str = "themis-asi,trex,swarm", **more: str) -> str:
    query = {"view": "availability", "program": program, "start": first, "end": last, **more}
    return url + "?" + urlencode(query)


def _drawn(page: Page) -> Any:
    grid = page.locator(".av-wrap[data-drawn]")
    expect(grid).to_be_visible(timeout=30_000)
    return grid


def _open_grid(page: Page, url: str, first: str, last: str, **more: str) -> list[str]:
    """Open the Availability link for ``first``..``last`` at 1400×900 and wait for the grid; the console errors."""
    page.set_viewport_size({"width": 1400, "height": 900})
    errors = _open(page, _link(url, first, last, **more))
    _drawn(page)
    return errors


def _cell(page: Page, label: str, col: int) -> tuple[float, float]:
    """The page position of the middle of ``label``'s cell in column ``col``."""
    pitch = float(page.locator(".av-wrap").get_attribute("data-pitch") or 0)
    row = page.locator(".av-label", has_text=label).first.bounding_box()
    grid = page.locator("canvas.av-over").bounding_box()
    assert row and grid and pitch > 0
    return grid["x"] + col * pitch + pitch / 2, row["y"] + row["height"] / 2


def test_a_cell_click_opens_that_night_in_the_night_tab_with_that_source(page: Page, served: Any) -> None:
    """?view=availability&program=...&start=...&end=... draws the grid; hovering a cell says what it
    holds; clicking it opens the Night tab on that night for that source only."""
    url, apps = served
    errors = _open_grid(page, url, "2020-03-01", "2020-03-31")
    assert page.locator(".av-wrap").get_attribute("data-columns") == "31"
    labels = page.locator(".av-label").all_inner_texts()
    # grouped by instrument type, poleward first; the name with markup is shown as text
    assert labels[:1] == ["Swarm A"]
    assert labels[1:5] == ["THEMIS-ASI RANK", "THEMIS-ASI FSMI", "THEMIS-ASI GILL", HOSTILE]
    assert labels[5:] == ["TREx RGB GILL"]
    assert page.evaluate("() => window.__pwned === undefined")
    expect(page.locator(".av-legend")).to_contain_text("missing: dark sky expected, no products")
    x, y = _cell(page, "THEMIS-ASI GILL", 8)  # 9 March: GILL's missing night
    page.mouse.move(x, y)
    tip = page.locator(".av-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("THEMIS-ASI GILL")
    expect(tip).to_contain_text("2020-03-09")
    expect(tip).to_contain_text("status: missing")
    expect(tip).to_contain_text("expected dark hours:")
    x, y = _cell(page, "TREx RGB GILL", 13)  # 14 March
    page.mouse.move(x, y)
    expect(tip).to_contain_text("keogram: 5, montage: 1")
    expect(tip).to_contain_text("status: present")
    assert errors == []
    page.mouse.click(x, y)
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Night", timeout=20_000)
    expect(page.locator(".nv-row").first).to_be_visible(timeout=20_000)  # the night view's rows
    expect(page.locator(".nv-label", has_text="GILL")).to_have_count(1)
    session = apps[-1].session
    page.wait_for_function("() => location.search.includes('night=2020-03-14')", timeout=20_000)
    assert session.view == "night"
    assert (session.form.programs, session.form.platforms, session.form.instrument_types) == (
        ["trex"],
        ["gillam"],
        ["RGB ASI"],
    )
    night = apps[-1].views["night"]
    assert night.night == "2020-03-14" and night.state.night == date(2020, 3, 14)
    assert errors == []  # the Night tab's first show raised a bokeh-widgets error once


def test_a_drag_searches_that_range_and_those_sources(page: Page, served: Any) -> None:
    url, apps = served
    errors = _open_grid(page, url, "2020-03-01", "2020-03-31")
    x0, y0 = _cell(page, "THEMIS-ASI RANK", 2)
    x1, y1 = _cell(page, "THEMIS-ASI FSMI", 5)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Table", timeout=20_000)
    session = apps[-1].session
    page.wait_for_function("() => location.search.includes('start=2020-03-03')", timeout=20_000)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    assert session.view == "table"
    assert session.form.start == datetime(2020, 3, 3, tzinfo=UTC)
    assert session.form.end == datetime(2020, 3, 6, 23, 59, 59, tzinfo=UTC)
    assert sorted(session.form.platforms) == ["fort smith", "rankin inlet"]
    found = {p.data_source.display_name for p in session.results.result.data}
    assert found == {"THEMIS-ASI RANK", "THEMIS-ASI FSMI"}
    expect(page.locator(".ax-count")).to_contain_text(f"{len(session.results.result)} product")
    assert errors == []


def test_the_keyboard_moves_selects_and_searches(page: Page, served: Any) -> None:
    """Arrow keys move a focus cell (read out in a live region); Shift+arrows select; Enter searches."""
    url, apps = served
    errors = _open_grid(page, url, "2020-03-01", "2020-03-31")
    grid = page.locator("canvas.av-over")
    grid.focus()
    grid.press("ArrowRight")  # the first key puts the focus on the first cell
    for key in ("ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight"):
        grid.press(key)
    expect(page.locator(".av-sr")).to_contain_text("THEMIS-ASI FSMI")
    expect(page.locator(".av-sr")).to_contain_text("2020-03-03")
    grid.press("Shift+ArrowRight")
    grid.press("Shift+ArrowRight")
    grid.press("Enter")
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Table", timeout=20_000)
    page.wait_for_function("() => location.search.includes('start=2020-03-03')", timeout=20_000)
    session = apps[-1].session
    assert session.form.platforms == ["fort smith"]
    assert session.form.end == datetime(2020, 3, 5, 23, 59, 59, tzinfo=UTC)
    assert errors == []


def test_over_the_aurorax_api_the_grid_is_drawn_from_its_availability(
    page: Page, serve_app: Callable[[Callable[[], Any]], str], catalog_path: Path
) -> None:
    """The dashboard on `aurorax-core serve` (127.0.0.1): the same rows and statuses as on the catalog."""
    from aurorax_core.server import serve_in_thread

    api, stop = serve_in_thread(catalog_path)
    try:
        url = serve_app(lambda: DashboardApp(open_backend(api)))
        errors = _open_grid(page, url, "2020-03-01", "2020-03-31", program="themis-asi")
        assert page.locator(".av-label").all_inner_texts() == [
            "THEMIS-ASI RANK",
            "THEMIS-ASI FSMI",
            "THEMIS-ASI GILL",
            HOSTILE,
        ]
        x, y = _cell(page, "THEMIS-ASI GILL", 8)
        page.mouse.move(x, y)
        expect(page.locator(".av-tip")).to_contain_text("status: missing")
        assert errors == []
    finally:
        stop()


def test_twenty_years_are_drawn_by_month(page: Page, served: Any) -> None:
    url, _apps = served
    errors = _open_grid(page, url, "2005-01-01", "2024-12-31", program="themis-asi")
    assert page.locator(".av-wrap").get_attribute("data-columns") == "240"
    expect(page.locator(".av-caption")).to_contain_text("aggregated by month")
    x, y = _cell(page, "THEMIS-ASI FSMI", 12)  # January 2006
    page.mouse.move(x, y)
    expect(page.locator(".av-tip")).to_contain_text("2006-01-01 – 2006-01-31")
    expect(page.locator(".av-tip")).to_contain_text("4 data products")
    expect(page.locator(".av-tip")).to_contain_text("days:")
    _shot(page, "availability-20-years")
    assert errors == []


def test_fifty_years_say_why_and_the_page_keeps_working(page: Page, served: Any) -> None:
    url, _apps = served
    errors = _open(page, _link(url, "1975-01-01", "2024-12-31", program="themis-asi"))
    expect(page.locator(".ax-alert", has_text="the limit is 25")).to_be_visible(timeout=20_000)
    page.locator(".bk-tab", has_text="Table").click()
    expect(page.get_by_role("button", name="Search", exact=True)).to_be_enabled()
    assert errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_in_both_themes(page: Page, served: Any, theme: str) -> None:
    url, _apps = served
    page.set_viewport_size({"width": 1600, "height": 900})
    extra = {"theme": "dark"} if theme == "dark" else {}
    errors = _open(page, _link(url, "2020-03-01", "2020-05-31", **extra))
    _drawn(page)
    x, y = _cell(page, "THEMIS-ASI FSMI", 12)
    page.mouse.move(x, y)
    expect(page.locator(".av-tip")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"availability-{theme}.png"))
    assert errors == []


def test_the_tab_sent_after_the_load_is_there_when_clicked_at_once(page: Page, served: Any) -> None:
    """Availability is not in the first document (it joins the page a moment after the load); a click
    on its tab before then shows it (filled on the click), without a console error."""
    url, apps = served
    page.set_viewport_size({"width": 1400, "height": 900})
    errors = _open(page, url + "?" + urlencode({"program": "themis-asi", "start": "2020-03-01", "end": "2020-03-31"}))
    page.locator(".bk-tab", has_text="Availability").click()
    expect(page.get_by_text("Data products per source and UTC day")).to_be_visible(timeout=20_000)
    _drawn(page)
    assert apps[-1].session.view == "availability"
    assert errors == []


def test_a_one_day_grid_shows_its_whole_month_label(page: Page, served: Any) -> None:
    """One UTC day is one column: the grid is still as wide as its 'Mar 2020' header (it showed
    'Mar 2', which reads as a date)."""
    url, _apps = served
    errors = _open_grid(page, url, "2020-03-14", "2020-03-14")
    assert page.locator(".av-wrap").get_attribute("data-columns") == "1"
    grid = page.locator("canvas.av-over").bounding_box()
    label = page.evaluate(
        "() => { const c = document.createElement('canvas').getContext('2d');"
        " c.font = '11px system-ui, sans-serif'; return c.measureText('Mar 2020').width; }"
    )
    assert grid is not None and grid["width"] >= label + 2
    assert errors == []
