"""Browsing in Chromium: the preview beside the results with j/k, the gallery by night, facet
chips, visible filters, hostile record text in the new places."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .test_dashboard_browser import _open

pytestmark = pytest.mark.ui

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

_BOX_JS = """(cls) => {
  let found = null;
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) walk(e.shadowRoot);
      if (!found && e.classList && e.classList.contains(cls) && e.getClientRects().length) {
        const r = e.getBoundingClientRect();
        found = [r.left, r.top, r.right, r.bottom];
      }
    }
  };
  walk(document);
  return found;
}"""


def _box(page: Page, cls: str) -> list[float]:
    box = page.evaluate(_BOX_JS, cls)
    assert box is not None, f"no visible .{cls}"
    return box


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_preview_opens_beside_the_results_and_j_k_move_through_them(
    page: Page, serve_dashboard: Any, size: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    url, sessions = serve_dashboard()
    errors = _open(page, url)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    results = sessions[-1].session.results
    keogram = next(i for i in results.view_indices if results.result.data[i].data_product_type == "keogram")
    page.locator(".tabulator-row").nth(results.view_indices.index(keogram)).click()
    expect(page.locator("#ax-preview-title")).to_be_visible(timeout=20_000)
    expect(page.locator(".ax-axis .ax-tick-label").first).to_have_text("00", timeout=20_000)
    table, preview = _box(page, "tabulator"), _box(page, "ax-preview")
    assert preview[0] >= table[2] - 1, (table, preview)  # beside, not below
    assert preview[1] < size[1] / 2
    axis, image = _box(page, "ax-axis"), _box(page, "ax-full")
    assert abs(axis[1] - image[3]) < 4 and axis[2] - axis[0] > 0.9 * (image[2] - image[0])
    _shot(page, f"preview-keogram-{size[0]}")
    start = results.selected_index
    order = results.view_indices
    page.locator("body").click(position={"x": 5, "y": size[1] - 5})
    page.keyboard.press("j")
    # The position, not the title's HH:MM: neighbouring products can start in the same minute.
    expect(page.locator(".ax-preview")).to_contain_text(f"{order.index(start) + 2} of {len(order)}", timeout=10_000)
    expect(page.locator("#ax-preview-title")).to_contain_text(
        results.result.data[order[order.index(start) + 1]].start.strftime("%H:%M"), timeout=10_000
    )
    assert results.selected_index == order[order.index(start) + 1]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("k")
    page.wait_for_function("() => true")
    expect(page.locator(".ax-preview")).to_contain_text(f"{order.index(start) + 2} of {len(order)}", timeout=10_000)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#ax-preview-title")).to_be_hidden(timeout=10_000)
    assert results.selected_index is None
    assert not [e for e in errors if "allowHTML" not in e]


def test_a_movie_is_640_px_wide_at_1920_and_plays_with_space(page: Page, serve_dashboard: Any) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})
    url, sessions = serve_dashboard()
    _open(page, url)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    results = sessions[-1].session.results
    movie = next(i for i in results.view_indices if results.result.data[i].data_product_type == "movie")
    page.locator(".tabulator-row").nth(results.view_indices.index(movie)).click()
    stage = page.locator(".ax-player-stage img, .ax-player-stage video").first
    expect(stage).to_be_visible(timeout=20_000)
    assert stage.evaluate("e => e.getBoundingClientRect().width") >= 640
    page.locator("body").click(position={"x": 5, "y": 1075})
    page.keyboard.press(" ")
    expect(page.locator(".ax-player")).to_have_attribute("data-playing", "true", timeout=10_000)
    page.keyboard.press(" ")
    expect(page.locator(".ax-player")).to_have_attribute("data-playing", "false", timeout=10_000)
    before = page.locator(".ax-pos").text_content()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".ax-pos")).not_to_have_text(before or "", timeout=10_000)


def test_open_this_night_shows_the_night_tab(page: Page, serve_dashboard: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    url, sessions = serve_dashboard()
    _open(page, url)
    page.locator(".tabulator-row").first.click()
    page.get_by_role("button", name="Open this night").click()
    session = sessions[-1].session
    page.wait_for_function("() => location.search.includes('view=night')", timeout=20_000)
    assert session.view == "night"
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Night")
    assert "night=2020-01-01" in page.url


def test_gallery_groups_by_night_and_jumps_to_the_last_night(page: Page, serve_dashboard: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    url, sessions = serve_dashboard()
    _open(page, url + "?start=2019-12-31&end=2020-01-02T23:59:59&program=trex&view=gallery")
    session = sessions[-1].session
    expect(page.locator(".ax-night-header")).to_have_count(3, timeout=20_000)
    expect(page.locator(".ax-night-header").first).to_contain_text("2019-12-31 · ")
    expect(page.locator(".ax-card").first).to_be_visible(timeout=20_000)
    last = session.results.result.data[session.results.view_indices[-1]]
    page.locator(".ax-jump").select_option(index=2)
    header = page.locator(".ax-night-header").nth(2)
    expect(header).to_contain_text("2020-01-02")
    expect(page.locator(f".ax-card[data-index='{session.results.view_indices[-1]}']")).to_be_attached(timeout=20_000)
    page.mouse.wheel(0, 300)
    page.wait_for_timeout(300)
    top = header.evaluate("h => h.getBoundingClientRect().top")
    assert -1 <= top < 200  # stuck at the top while its night scrolls by
    assert last.start.date().isoformat() == "2020-01-02"
    _shot(page, "gallery-by-night")
    page.get_by_label("group by site").check()
    expect(page.locator(".ax-night-header").first).to_contain_text(" · TREx", timeout=10_000)


def test_a_facet_chip_filters_and_the_filter_survives_the_theme_change(page: Page, serve_dashboard: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    url, sessions = serve_dashboard()
    _open(page, url)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    results = sessions[-1].session.results
    movies = sum(1 for p in results.result.data if p.data_product_type == "movie")
    chip = page.get_by_role("button", name=f"movies · {movies}")
    chip.click()
    expect(page.locator(".ax-count")).to_contain_text(f"{movies} of {len(results.result)}", timeout=10_000)
    expect(chip).to_have_attribute("aria-pressed", "true")
    remove = page.get_by_role("button", name="Remove filter: Product type is “movie” ✕")
    expect(remove).to_be_visible()
    page.get_by_text("Gallery", exact=True).click()
    expect(remove).to_be_visible()  # visible where it applies: the gallery too
    page.wait_for_function("() => location.search.includes('table=')")
    dark = page.url + "&theme=dark"
    _open(page, dark)
    expect(page.get_by_role("button", name="Remove filter: Product type is “movie” ✕")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_role("button", name="Clear filters")).to_be_hidden(timeout=10_000)
    assert sessions[-1].session.results.table_filters == {}


def test_typed_header_filter_is_listed_and_cleared_in_one_click(page: Page, serve_dashboard: Any) -> None:
    url, sessions = serve_dashboard()
    _open(page, url)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    box = page.get_by_placeholder("Filter product type")
    box.press_sequentially("keogram")
    box.press("Enter")
    clear = page.get_by_role("button", name="Clear filters")
    expect(clear).to_be_visible(timeout=10_000)
    clear.click()
    expect(box).to_have_value("", timeout=10_000)
    expect(clear).to_be_hidden(timeout=10_000)
    results = sessions[-1].session.results
    assert results.table_filters == {} and len(results.view_indices) == len(results.result)


def test_hostile_record_text_is_inert_in_chips_headers_and_the_preview(page: Page, serve_dashboard: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    url, sessions = serve_dashboard()
    _open(page, url + "?start=2020-01-01&end=2020-01-01T23:59:59&program=trex&view=gallery")
    page.evaluate("window.__pwned = false")
    session = sessions[-1].session
    expect(page.locator(".ax-card").first).to_be_visible(timeout=20_000)
    payload = '<script>window.__pwned=true</script>"><img src=x onerror=window.__pwned=true>'
    result = session.results.result
    hostile = []
    for i, product in enumerate(result.data):
        source = replace(product.data_source, display_name=f"{payload} {i % 2}")
        meta = {**product.metadata, "note": payload}
        if i % 2:  # half of each type: the sub-type chips show (one sub-type per type would not)
            meta[f"{product.data_product_type}_type"] = payload
        hostile.append(replace(product, data_source=source, metadata=meta, url=f"javascript:{payload}"))
    session.runner.dispatch(lambda: session.set_result(replace(result, data=hostile)))
    page.get_by_label("group by site").check()
    expect(page.locator(".ax-night-header").first).to_contain_text("<script>", timeout=20_000)
    expect(page.locator(".ax-chip").filter(has_text="<script>").first).to_be_visible(timeout=10_000)
    page.locator(".ax-card").first.click()
    expect(page.locator(".ax-preview")).to_contain_text("onerror=window.__pwned", timeout=20_000)
    page.keyboard.press("j")
    expect(page.locator(".ax-preview")).to_contain_text("2 of", timeout=10_000)
    assert page.locator(".ax-preview a[href^='javascript']").count() == 0
    assert page.evaluate("window.__pwned") is False


def test_copy_link_copies_the_permalink_and_unknown_link_parameters_are_reported(
    page: Page, serve_dashboard: Any, context: Any
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    url, _sessions = serve_dashboard()
    _open(page, url + "?start=2020-01-01&end=2020-01-01T23:59:59&program=trex&colour=red")
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=20_000)
    expect(page.get_by_role("status").filter(has_text="colour was not understood")).to_be_visible(timeout=10_000)
    page.locator(".tabulator-row").first.click()
    page.wait_for_function("() => location.search.includes('product=')")
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_text("Link copied")).to_be_visible(timeout=5_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.url and "product=" in copied
