"""The dashboard in Chromium: load, search, thumbnails, preview, movie, export, permalink, errors, remote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def _open(page: Page, url: str) -> list[str]:
    """Open the page, wait for the websocket and the form; return the console errors (live list)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    with page.expect_console_message(lambda m: "Websocket connection 0 is now open" in m.text, timeout=30_000):
        page.goto(url)
    expect(page.get_by_role("button", name="Search", exact=True)).to_be_visible(timeout=20_000)
    return errors


def _example_search(page: Page) -> None:
    """Search the docs example and wait for THAT search's answer: the first screen has already
    searched on arrival, so rows being visible is not enough (a late answer would replace what a
    test puts on the page next)."""
    status = page.locator(".ax-status")
    expect(status).to_contain_text("request", timeout=30_000)  # the first screen's own search is done
    before = status.inner_text()
    page.get_by_role("button", name="2020-01-01 (docs example)").click()
    expect(page.locator(".ax-search-form")).to_contain_text("Fort Smith")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(status).not_to_have_text(before, timeout=20_000)
    expect(status).to_contain_text("request", timeout=20_000)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_example_query_rows_thumbnails_preview_movie_and_export(
    page: Page, serve_dashboard: Any, tmp_path: Path, demo_catalog_path: Path
) -> None:
    """No console errors; the docs example gives rows with loaded thumbnails; a row opens its preview;
    a movie plays; the JSON export is accepted by `aurorax-core catalog ingest`."""
    url, sessions = serve_dashboard()
    errors = _open(page, url)
    _example_search(page)
    state = sessions[-1].session
    assert state.results.result is not None and len(state.results.result) > 0
    expect(page.locator(".ax-count")).to_contain_text(f"{len(state.results.result)} product")
    stages = page.locator(".ax-stages li")
    expect(stages.first).to_contain_text("Search object created")
    expect(page.locator(".ax-stages")).to_contain_text("records")
    # One quiet status line above the results; the stages open from it.
    summary = page.locator(".ax-progress summary")
    expect(summary).to_contain_text(f"{len(state.results.result)} products · ")
    expect(page.locator(".ax-stages")).to_be_hidden()
    assert page.locator(".ax-progress").bounding_box()["height"] < 40
    summary.click()
    expect(stages.last).to_be_visible()
    expect(stages.last).to_contain_text("records")

    thumb = page.locator(".tabulator-row img").first
    expect(thumb).to_be_visible(timeout=20_000)
    assert thumb.evaluate("img => img.complete && img.naturalWidth") > 0
    assert "Fort Smith" in (thumb.get_attribute("alt") or "") or "fort smith" in (thumb.get_attribute("alt") or "")

    # Clicking a row opens its preview.
    page.locator(".tabulator-row").first.click()
    expect(page.locator("#ax-preview-title")).to_be_visible(timeout=20_000)
    assert state.results.selected is not None
    expect(page.locator(".ax-preview img.ax-full")).to_be_visible(timeout=20_000)
    # Open a movie (as the gallery or a permalink would) and play it.
    movie_index = next(i for i, p in enumerate(state.results.result.data) if p.data_product_type == "movie")
    state.runner.dispatch(lambda: setattr(state.results, "selected_index", movie_index))
    expect(page.locator("#ax-preview-title")).to_contain_text("Movie", timeout=20_000)
    expect(page.locator(".ax-preview")).to_contain_text("Synthetic demo preview")
    player = page.locator(".ax-player")
    expect(player).to_be_visible(timeout=20_000)
    player.get_by_role("button", name="Play").click()
    expect(player).to_have_attribute("data-playing", "true")
    movie_player = sessions[-1].views["preview"].player
    for _ in range(100):  # the browser reports the playback position back to Python
        if movie_player.position > 0:
            break
        page.wait_for_timeout(100)
    assert movie_player.position > 0 and movie_player.playing
    player.get_by_role("button", name="Pause").click()
    expect(player).to_have_attribute("data-playing", "false")
    _shot(page, "preview-light")

    # Export JSON of the filtered rows, then ingest it into a fresh catalog with the CLI.
    page.get_by_text("Export", exact=True).click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Results as JSON").click()
    exported = tmp_path / "export.json"
    download_info.value.save_as(exported)
    records = json.loads(exported.read_text())
    assert len(records) == len(state.results.result)
    catalog = tmp_path / "reingest.sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "aurorax_core", "--catalog", str(catalog), "catalog", "ingest", str(exported)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert errors == []


def test_hostile_metadata_is_inert_text(page: Page, serve_dashboard: Any) -> None:
    """A record with <script> metadata and a javascript: URL renders as text; nothing runs."""
    url, sessions = serve_dashboard()
    _open(page, url)
    page.evaluate("window.__pwned = false")
    _example_search(page)
    state = sessions[-1].session
    import time
    from dataclasses import replace

    # The first visit's own search and the click's may both be running: let them land first, or
    # a late answer replaces the hostile result set below.
    deadline = time.monotonic() + 30
    while state.job.is_searching and time.monotonic() < deadline:
        time.sleep(0.05)

    product = state.results.result.data[0]
    hostile = replace(
        product,
        url="javascript:window.__pwned=true",
        metadata={
            **product.metadata,
            "keogram_type": "<script>window.__pwned=true</script>",
            "x": "<img src=x onerror=window.__pwned=true>",
        },
    )
    new_result = replace(state.results.result, data=[hostile, *state.results.result.data[1:]])
    state.runner.dispatch(lambda: state.set_result(new_result))
    expect(page.locator(".tabulator-row").first).to_contain_text("<script>", timeout=20_000)
    page.locator(".tabulator-row").first.click()
    expect(page.locator(".ax-preview")).to_contain_text("javascript:window.__pwned=true", timeout=20_000)
    expect(page.locator(".ax-preview")).to_contain_text("<img src=x onerror")
    assert page.locator(".ax-preview a[href^='javascript']").count() == 0
    assert page.evaluate("window.__pwned") is False


def test_permalink_restores_the_view_in_a_fresh_page(page: Page, serve_dashboard: Any, context: Any) -> None:
    """The URL after a search, a table filter and a selection reproduces all three in a new page."""
    url, sessions = serve_dashboard()
    _open(page, url)
    _example_search(page)
    product_filter = page.get_by_placeholder("Filter product type")
    product_filter.press_sequentially("keogram")
    product_filter.press("Enter")
    expect(page.locator(".ax-count")).to_contain_text("match the table filters", timeout=15_000)
    page.locator(".tabulator-row").nth(1).click()
    expect(page.locator("#ax-preview-title")).to_be_visible(timeout=20_000)
    selected = sessions[-1].session.results.selected
    page.wait_for_function("u => decodeURIComponent(location.search).includes(u)", arg="product=")
    link = page.url
    assert "program=trex" in link and "table=" in link

    fresh = context.new_page()
    _open(fresh, link)
    expect(fresh.locator("#ax-preview-title")).to_be_visible(timeout=30_000)
    restored = sessions[-1].session
    assert restored is not sessions[-2].session
    assert restored.results.selected is not None and restored.results.selected.url == selected.url
    assert restored.form.to_query() == sessions[-2].session.form.to_query()
    assert restored.results.table_filters == {"data_product_type": "keogram"}
    expect(fresh.locator(".ax-count")).to_contain_text("match the table filters", timeout=15_000)
    expect(fresh.get_by_role("button", name="Remove filter: Product type contains “keogram” ✕")).to_be_visible()
    _shot(fresh, "permalink")


def test_dead_backend_url_shows_an_alert_and_the_page_stays_usable(page: Page, serve_dashboard: Any) -> None:
    """Switching to an AuroraX URL where nothing listens explains the failure and keeps the catalog."""
    url, _sessions = serve_dashboard()
    errors = _open(page, url)
    page.get_by_role("button", name="Backend: embedded catalog ⚙").click()  # the backend dialog
    page.get_by_role("radio", name="AuroraX API").check()
    field = page.get_by_label("AuroraX API URL")
    field.fill("http://127.0.0.1:9")
    page.get_by_role("button", name="Connect").click()
    alert = page.get_by_role("alert").filter(has_text="Cannot reach")
    expect(alert).to_be_visible(timeout=30_000)
    expect(alert).to_contain_text("Still using catalog")
    page.get_by_role("button", name="Close", exact=True).click()  # the dialog
    _example_search(page)
    assert errors == []


def test_remote_mode_shows_the_same_rows_as_the_catalog(
    page: Page, serve_dashboard: Any, demo_catalog_path: Path
) -> None:
    """Against `aurorax-core serve` on 127.0.0.1 the example search gives the catalog's rows."""
    from aurorax_core.server import serve_in_thread

    api_url, stop = serve_in_thread(demo_catalog_path, port=0)
    try:
        url, sessions = serve_dashboard(api_url)
        _open(page, url)
        _example_search(page)
        remote = sessions[-1].session
        page.wait_for_function("() => true")
        assert remote.backend_name.startswith("http://127.0.0.1")
        from aurorax_core import open_backend

        with open_backend(demo_catalog_path) as catalog:
            expected = catalog.search(remote.form.to_query())
        assert [p.url for p in remote.results.result] == [p.url for p in expected]
        expect(page.locator(".ax-count")).to_contain_text(f"{len(expected)} product")
    finally:
        stop()


def test_enter_searches_and_gallery_loads_lazily_and_opens_previews(page: Page, serve_dashboard: Any) -> None:
    """Enter in a form field runs the search; the gallery shows loaded thumbnails with alt text,
    the night's cards, and a card click (or Enter on it) opens the preview."""
    url, sessions = serve_dashboard()
    errors = _open(page, url)
    page.get_by_role("button", name="Last 7 nights").click()
    state = sessions[-1].session
    page.get_by_label("End (UTC)").click()
    page.keyboard.press("Enter")
    expect(page.locator(".ax-count")).to_contain_text("products", timeout=20_000)
    assert state.results.result is not None and len(state.results.result) > 24
    page.get_by_text("Gallery", exact=True).click()
    cards = page.locator(".ax-card")
    expect(cards.first).to_be_visible(timeout=20_000)
    first_img = cards.first.locator("img")
    assert first_img.evaluate("img => img.complete && img.naturalWidth") > 0
    assert "TREx" in (first_img.get_attribute("alt") or "")
    # The gallery fills a night at a time (tests/ui/test_browse_browser.py scrolls a longer result).
    last = state.results.view_indices[-1]
    for _ in range(40):  # scroll down night by night until the last night's cards arrive
        if page.locator(f".ax-card[data-index='{last}']").count():
            break
        page.mouse.wheel(0, 1200)
        page.wait_for_timeout(250)
    expect(page.locator(f".ax-card[data-index='{last}']")).to_be_attached(timeout=20_000)
    # Back to the first night (far nights' cards leave the page; they come back when near).
    page.locator(".ax-jump").select_option(index=0)
    fourth = page.locator(f".ax-card[data-index='{state.results.view_indices[3]}']")
    expect(fourth).to_be_attached(timeout=20_000)
    fourth.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ax-preview-title")).to_be_visible(timeout=20_000)
    assert state.results.selected_index == state.results.view_indices[3]
    _shot(page, "gallery")
    assert errors == []


_LAYOUT_JS = """() => {
  const out = {};
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) walk(e.shadowRoot);
      if (e.classList && e.classList.contains('tabulator')) {
        const box = e.getBoundingClientRect();
        out.table = [box.left, box.right];
        out.columns = [...e.querySelectorAll('.tabulator-col')].map(c => {
          const r = c.getBoundingClientRect();
          return [c.getAttribute('tabulator-field'), r.left, r.right];
        });
      }
      if (e.tagName === 'IMG' && e.classList.contains('ax-full')) {
        const r = e.getBoundingClientRect();
        out.image = [r.width, r.height, e.naturalWidth, e.naturalHeight, getComputedStyle(e).borderTopWidth];
      }
    }
  };
  walk(document);
  return out;
}"""


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_preview_keeps_the_key_columns_in_view_and_shows_a_framed_keogram(
    page: Page, serve_dashboard: Any, size: tuple[int, int]
) -> None:
    """With a keogram preview open, the table still shows name, type, sub-type and start
    without scrolling; the keogram fills the preview's width, keeps its aspect and has a frame."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    url, sessions = serve_dashboard()
    _open(page, url)
    _example_search(page)
    state = sessions[-1].session
    keogram = next(i for i in state.results.view_indices if state.results.result.data[i].data_product_type == "keogram")
    page.locator(".tabulator-row").nth(state.results.view_indices.index(keogram)).click()
    expect(page.locator(".ax-preview img.ax-full")).to_be_visible(timeout=20_000)
    page.wait_for_function("() => true")
    info = page.evaluate(_LAYOUT_JS)
    left, right = info["table"]
    visible = [name for name, a, b in info["columns"] if name and a >= left - 1 and b <= right + 1]
    # The preview's image stands for the row's thumbnail, whose column makes way while it is open.
    assert {"display_name", "data_product_type", "sub_type", "start"} <= set(visible), (visible, info)
    width, height, natural_w, natural_h, border = info["image"]
    assert width >= (280 if size[0] < 1600 else 600) and border == "1px"
    assert abs(width / height - natural_w / natural_h) < 0.1


def test_first_run_builds_the_demo_archive_and_a_search_pressed_meanwhile_runs(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve_app: Any
) -> None:
    """A new user's first page: no catalog yet, so the page opens while the demo archive is built;
    the documentation's example and Search pressed at once give its rows, not a stale alert."""
    from dashboard.app import DashboardApp

    catalog = tmp_path / "first-run" / "catalog.sqlite"
    monkeypatch.setenv("AURORAX_CATALOG", str(catalog))
    monkeypatch.delenv("AURORAX_API_URL", raising=False)
    errors = _open(page, serve_app(lambda: DashboardApp()))
    page.get_by_role("button", name="2020-01-01 (docs example)").click()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=60_000)
    expect(page.locator(".tabulator-row").first).to_contain_text("TREx RGB FSMI")
    expect(page.locator("[role=alert]")).to_have_count(0)
    # the page reported the build (the message is hidden once the backend is open)
    expect(page.get_by_text("Building the demo archive (first run only)")).to_be_attached()
    assert catalog.exists()
    assert errors == []


def test_typing_a_date_and_enter_searches_exactly_that_date(page: Page, serve_dashboard: Any) -> None:
    """Select-all and type 2020-01-02 in Start and End, press Enter: that day is searched at once.
    A bad date says why at the field and keeps the last rows, marked as not matching the form."""
    from datetime import UTC, datetime

    url, sessions = serve_dashboard()
    errors = _open(page, url)
    _example_search(page)
    session = sessions[-1].session
    first = session.results.result
    start = page.get_by_label("Start (UTC)")
    start.fill("2020-01-02")
    start.press("Enter")  # applied even before the field loses focus
    end = page.get_by_label("End (UTC)")
    end.fill("2020-01-02")
    end.press("Enter")
    expect(page.locator(".ax-status")).not_to_contain_text(first.request_id, timeout=20_000)
    expect(page.locator(".tabulator-row").first).to_contain_text("2020-01-02", timeout=20_000)
    assert session.form.start == datetime(2020, 1, 2, tzinfo=UTC)
    assert session.form.end == datetime(2020, 1, 2, 23, 59, 59, tzinfo=UTC)
    assert session.results.result.query.start == session.form.start
    expect(end).to_have_value("2020-01-02 23:59:59")
    shown = session.results.result

    start.fill("2020-02-30")
    start.press("Enter")
    expect(page.locator(".ax-field-error").first).to_contain_text("February 2020 has 29 days", timeout=20_000)
    expect(page.locator(".ax-stale")).to_be_visible()
    expect(page.locator(".tabulator-row").first).to_be_visible()
    assert session.results.result is shown
    _shot(page, "typed-date-error-light")
    assert errors == []


def test_program_list_offers_themis_asi_with_counts_and_not_the_spacecraft(page: Page, serve_dashboard: Any) -> None:
    """Typing THEMIS in Program offers THEMIS ASI (with its products in the range), not `themis`."""
    url, sessions = serve_dashboard()
    errors = _open(page, url)
    program = page.get_by_placeholder("Any program")
    program.click()
    program.press_sequentially("themis")
    choices = page.locator(".choices").filter(has=page.get_by_placeholder("Any program"))
    options = choices.locator(".choices__list--dropdown .choices__item--choice")
    expect(options.first).to_be_visible(timeout=10_000)
    texts = [t.strip() for t in options.all_inner_texts() if t.strip()]  # the others are filtered out
    session = sessions[-1].session
    count = sum(n for key, n in session.form.source_counts.items() if key[0] == "themis-asi")
    assert texts == [f"THEMIS ASI · {count}"], texts
    assert count > 0
    _shot(page, "program-choices-light")
    options.first.click()
    page.keyboard.press("Escape")
    expect(page.locator(".ax-search-form")).to_contain_text("THEMIS ASI")
    for _ in range(100):  # the choice reaches Python over the websocket
        if "themis-asi" in session.form.programs:
            break
        page.wait_for_timeout(50)
    assert "themis-asi" in session.form.programs
    assert errors == []


def test_sort_by_display_name_keeps_time_order_and_survives_the_link(
    page: Page, serve_dashboard: Any, context: Any
) -> None:
    """Clicking 'Display name' sorts by site with each site's rows in time order; the sort is in
    the URL, and the link opens with the same order."""
    url, sessions = serve_dashboard()
    _open(page, url)
    start = page.get_by_label("Start (UTC)")
    start.fill("2019-12-31..2020-01-02")
    start.press("Enter")
    expect(page.locator(".ax-count")).to_contain_text("108 products", timeout=20_000)
    page.locator(".tabulator-col[tabulator-field=display_name] .tabulator-col-title").click()
    page.wait_for_function("() => location.search.includes('sort=display_name')", timeout=10_000)
    session = sessions[-1].session
    data = session.results.result.data
    starts = [data[i].start for i in session.results.view_indices]
    assert starts == sorted(starts)
    cells = page.locator(".tabulator-row .tabulator-cell[tabulator-field=start]")
    expect(cells.first).to_have_text("2019-12-31 00:00:00")
    shown = cells.all_inner_texts()
    assert shown == sorted(shown) and len(shown) == 20

    fresh = context.new_page()
    _open(fresh, page.url)
    expect(fresh.locator(".ax-count")).to_contain_text("108 products", timeout=30_000)
    restored = sessions[-1]
    assert restored.views["table"].table.sorters == [{"field": "display_name", "dir": "asc"}]
    expect(fresh.locator(".tabulator-col[tabulator-field=display_name]")).to_have_attribute(
        "aria-sort", "ascending", timeout=10_000
    )
    assert restored.session.results.view_indices == session.results.view_indices


_FOLD_JS = """() => {
  const found = {};
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) walk(e.shadowRoot);
      if (e.tagName === 'BUTTON' && e.textContent.trim() === 'Search' && !found.search) {
        found.search = e.getBoundingClientRect().bottom;
      }
      if (e.classList && e.classList.contains('tabulator-row') && !found.row) {
        found.row = e.getBoundingClientRect().bottom;
      }
    }
  };
  walk(document);
  return found;
}"""


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_first_screen_at_1280x800_shows_rows_and_the_search_button(
    page: Page, serve_dashboard: Any, theme: str
) -> None:
    """A first visit (no link) shows the documentation's example already searched: rows and the
    Search button without scrolling at 1280x800; the backend choice is in a header dialog with
    radio buttons that are round."""
    page.set_viewport_size({"width": 1280, "height": 800})
    url, sessions = serve_dashboard()
    errors = _open(page, url + ("?theme=dark" if theme == "dark" else ""))
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    session = sessions[-1].session
    assert session.results.result is not None and len(session.results.result) > 0
    assert session.form.programs == ["trex"] and session.form.platforms == ["fort smith"]
    expect(page.locator(".ax-count")).to_contain_text(f"{len(session.results.result)} products")
    page.wait_for_timeout(300)  # thumbnails and layout settle
    fold = page.evaluate(_FOLD_JS)
    assert 0 < fold["search"] <= 800 and 0 < fold["row"] <= 800, fold
    assert page.evaluate("() => window.scrollY") == 0
    page.screenshot(path=str(SHOTS / f"first-screen-{theme}.png"))
    page.get_by_role("button", name="Backend: embedded catalog ⚙").click()
    radio = page.get_by_role("radio", name="Embedded catalog")
    expect(radio).to_be_visible(timeout=10_000)
    expect(radio).to_be_checked()
    assert radio.evaluate("r => getComputedStyle(r).borderRadius") == "50%"
    page.screenshot(path=str(SHOTS / f"backend-dialog-{theme}.png"))
    assert errors == []
