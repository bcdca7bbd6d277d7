"""The Night tab inside the whole dashboard, in Chromium: the issue's link, the cursor in the URL, tab switches."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from aurorax_core import site_location

from .test_stack import _daily_keogram_sites

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
LINK = "?view=night&night=2020-01-14&program=themis-asi&t=06:30:00"


@pytest.fixture(scope="module")
def serve_dashboard_on(night_catalog_path: Path, night_images: Any) -> Iterator[Callable[[], tuple[str, list[Any]]]]:
    """serve() -> (base url, sessions): the whole dashboard, its backend named by path as `panel serve` opens it."""
    from ui.conftest import _serve  # the dashboard's browser-test server helper (tests/ui/conftest.py)

    from dashboard.app import DashboardApp

    servers: list[Any] = []

    def serve() -> tuple[str, list[Any]]:
        sessions: list[Any] = []

        def app() -> Any:
            dashboard = DashboardApp(str(night_catalog_path), images=night_images)
            sessions.append(dashboard)
            return dashboard

        return _serve(app, servers), sessions

    yield serve
    for server in servers:
        server.stop()


def _open(page: Page, url: str) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1440, "height": 1000})
    with page.expect_console_message(lambda m: "Websocket connection 0 is now open" in m.text, timeout=30_000):
        page.goto(url)
    return errors


def _url_with(*parts: str) -> re.Pattern[str]:
    """A URL pattern that matches when every part is in the URL, in any order."""
    return re.compile("".join(f"(?=.*{re.escape(p)})" for p in parts))


def _full_images_loaded(page: Page, count: int) -> None:
    """Every keogram row shows its full 720-column image (thumbnails may come first)."""
    images = page.locator(".nv-row img.nv-keo")
    expect(images).to_have_count(count, timeout=30_000)
    expect(page.locator(".nv-loading")).to_have_count(0, timeout=30_000)
    for _ in range(300):
        if all(images.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth === 720)")):
            return
        page.wait_for_timeout(100)
    widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    raise AssertionError(f"the keograms' full images did not all load within 30 s (widths: {widths})")


def test_the_link_opens_the_night_tab_with_every_site_in_latitude_order(
    page: Page, serve_dashboard_on: Any, night_backend: Any
) -> None:
    """The issue's link in the dashboard: the Night tab, one row per THEMIS ASI site (those a search finds a
    daily keogram for show it, fully loaded), poleward first, the cursor at 06:30:00 UT."""
    url, sessions = serve_dashboard_on()
    errors = _open(page, url + LINK)
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Night", timeout=30_000)
    sources = [s for s in night_backend.list_sources(programs=["themis-asi"]) if s.source_type == "ground"]
    rows = page.locator(".nv-row")
    expect(rows).to_have_count(len(sources), timeout=30_000)
    with_daily = _daily_keogram_sites(night_backend, "themis-asi", date(2020, 1, 14))
    _full_images_loaded(page, len(with_daily))
    codes = rows.evaluate_all("rows => rows.map(r => r.dataset.code)")
    by_code = {site_location(s).code: site_location(s).latitude for s in sources if site_location(s) is not None}
    assert sorted(codes) == sorted(by_code)
    lats = [by_code[c] for c in codes]
    assert lats == sorted(lats, reverse=True), "rows are poleward first"
    shown = set(page.locator(".nv-row.nv-daily").evaluate_all("rows => rows.map(r => r.dataset.code)"))
    assert shown == with_daily
    alts = page.locator(".nv-row img.nv-keo").evaluate_all("imgs => imgs.map(i => i.alt)")
    assert all("night of 2020-01-14" in a and "panchromatic ASI" in a for a in alts)
    expect(page.locator(".nv-time")).to_have_text("06:30:00 UT")
    tab = sessions[-1].views["night"]
    assert tab.state.night == date(2020, 1, 14) and tab.state.t == 6 * 3600 + 30 * 60
    assert errors == []


def test_the_cursor_is_in_the_page_url_and_a_tab_switch_keeps_the_night(page: Page, serve_dashboard_on: Any) -> None:
    """→ moves the cursor a minute and the URL's t= follows; Table and back shows the same night and cursor."""
    url, sessions = serve_dashboard_on()
    _open(page, url + LINK)
    expect(page.locator(".nv-row img.nv-keo").first).to_be_visible(timeout=30_000)
    expect(page.locator(".nv-time")).to_have_text("06:30:00 UT")
    page.locator(".nv-track-area").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".nv-time")).to_have_text("06:31:00 UT")
    expect(page).to_have_url(_url_with("night=2020-01-14", "t=06%3A31%3A00"), timeout=10_000)
    box = page.locator(".nv-lane").first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    expect(page).to_have_url(re.compile(r"t=(12%3A00|11%3A59)"), timeout=10_000)
    clicked = page.locator(".nv-time").inner_text()
    page.locator(".bk-tab", has_text="Table").click()
    expect(page.locator(".nv-row").first).to_be_hidden()
    expect(page).not_to_have_url(re.compile("view=night"), timeout=10_000)
    page.locator(".bk-tab", has_text="Night").click()
    expect(page.locator(".nv-row").first).to_be_visible()
    expect(page.locator(".nv-time")).to_have_text(clicked)
    alt = page.locator(".nv-row img.nv-keo").first.get_attribute("alt") or ""
    assert "night of 2020-01-14" in alt
    expect(page).to_have_url(_url_with("view=night", "night=2020-01-14"), timeout=10_000)
    assert sessions[-1].views["night"].state.night == date(2020, 1, 14)


def test_the_night_tab_first_shown_by_a_click_has_no_console_error(page: Page, serve_dashboard_on: Any) -> None:
    """Opened on the Table, then a click on the Night tab: the night loads, and the browser logs no
    error (bokeh-widgets raised one when the view's widgets joined the live page at the first show)."""
    url, sessions = serve_dashboard_on()
    errors = _open(page, url + "?program=themis-asi&start=2020-01-14&end=2020-01-14")
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Table", timeout=20_000)
    page.locator(".bk-tab", has_text="Night").click()
    expect(page.locator(".nv-row img.nv-keo").first).to_be_visible(timeout=30_000)
    expect(page).to_have_url(_url_with("view=night"), timeout=10_000)
    page.wait_for_timeout(500)  # late patches of the first show
    assert errors == []
    assert sessions[-1].views["night"].state.night == date(2020, 1, 14)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_the_night_tab(page: Page, serve_dashboard_on: Any, theme: str) -> None:
    """The Night tab in both themes, written to test-artifacts/night/ (docs/screenshots/ keeps the looked-at ones)."""
    url, _sessions = serve_dashboard_on()
    _open(page, url + LINK + "&sites=GILL,FSMI,PINA" + ("&theme=dark" if theme == "dark" else ""))
    expect(page.locator(".nv-row")).to_have_count(24, timeout=30_000)
    expect(page.locator(".nv-loading")).to_have_count(0, timeout=30_000)
    expect(page.locator(".nv-movie")).to_have_count(3, timeout=30_000)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    dark = (
        background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
        and sum(int(x) for x in background[background.index("(") + 1 : background.index(")")].split(",")[:3]) < 200
    )
    assert dark == (theme == "dark"), background
    out = ROOT / "test-artifacts" / "night"
    out.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / f"night-tab-{theme}.png"), full_page=True)
