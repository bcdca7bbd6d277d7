"""The basket in Chromium: add from the table (multi-select) and the gallery, reload, the basket is
still there (localStorage), a link carries a small basket, the bundle downloads and its manifest
lists exactly the basket, hostile record text stays text; screenshots of the Basket tab."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Page, expect

from .test_dashboard_browser import SHOTS, _open

pytestmark = pytest.mark.ui


def _tab(page: Page, title: str) -> None:
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{title}$")).click()


def _wait(predicate: Any, page: Page, what: str) -> None:
    for _ in range(600):
        if predicate():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def _manifest_urls(path: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return [r["url"] for r in json.loads(archive.read("manifest.json"))]


def test_add_from_table_and_gallery_reload_keeps_it_and_the_bundle_is_the_basket(
    page: Page, serve_dashboard: Any, browser: Any, tmp_path: Path
) -> None:
    url, sessions = serve_dashboard()
    errors = _open(page, url)
    rows = page.locator(".tabulator-row")
    expect(rows.first).to_be_visible(timeout=45_000)  # a first visit searches the docs example
    session = sessions[-1].session
    data = session.results.result.data

    # Table: click one row, Ctrl-click another, add both.
    rows.nth(0).click()
    rows.nth(2).click(modifiers=["Control"])
    add_selected = page.get_by_role("button", name="Add 2 selected rows to basket")
    expect(add_selected).to_be_enabled(timeout=30_000)
    add_selected.click()
    _wait(lambda: len(session.basket) == 2, page, "two products in the basket")
    assert session.basket.basket.urls == [data[0].url, data[2].url]

    # Gallery: the second card's basket control.
    _tab(page, "Gallery")
    add = page.locator('.ax-add[data-index="1"]')
    expect(add).to_have_text("+ Basket", timeout=45_000)
    add.click()
    expect(add).to_have_attribute("aria-pressed", "true", timeout=30_000)
    expect(add).to_have_text("In basket ✓")
    expected = [data[0].url, data[2].url, data[1].url]
    assert session.basket.basket.urls == expected
    # A small basket rides in the page's link.
    page.wait_for_function("() => location.search.includes('basket=')", timeout=30_000)
    link = page.url
    page.wait_for_function(
        "() => (JSON.parse(localStorage.getItem('aurorax-core.basket.v1') || '{}').p || []).length === 3",
        timeout=30_000,
    )

    # Reload the bare address (no link parameters): the basket comes back from localStorage.
    _open(page, url)
    _tab(page, "Basket")
    summary = page.locator(".ax-basket-summary")
    expect(summary).to_contain_text("3 products in", timeout=45_000)
    restored = sessions[-1].session
    assert restored is not session and restored.basket.basket.urls == expected
    for product in (data[0], data[1], data[2]):
        expect(page.locator(".ax-basket-table")).to_contain_text(product.url)

    # The bundle downloads; its manifest lists exactly the basket.
    download_button = page.get_by_role("button", name="Download bundle (3 products")
    expect(download_button).to_be_enabled(timeout=45_000)
    with page.expect_download() as info:
        download_button.click()
    bundle = tmp_path / "bundle.zip"
    info.value.save_as(bundle)
    assert info.value.suggested_filename == "aurorax_basket_bundle.zip"
    assert _manifest_urls(bundle) == expected

    # Remove one, then undo: the list, the stored copy and the bundle follow.
    page.get_by_role("button", name="Clear basket").click()
    expect(summary).to_contain_text("The basket is empty.", timeout=30_000)
    page.wait_for_function("() => localStorage.getItem('aurorax-core.basket.v1') === null", timeout=30_000)
    page.get_by_role("button", name="Undo").click()
    expect(summary).to_contain_text("3 products in", timeout=30_000)
    page.wait_for_function("() => localStorage.getItem('aurorax-core.basket.v1') !== null", timeout=30_000)
    stored = page.evaluate("() => localStorage.getItem('aurorax-core.basket.v1')")
    assert stored and [row[4] for row in json.loads(stored)["p"]] == expected

    # Someone else's browser (no localStorage) opening the link gets the basket from the link.
    token = dict(parse_qsl(urlsplit(link).query))["basket"]
    other = browser.new_context()
    try:
        other_page = other.new_page()
        _open(other_page, f"{url}?view=basket&basket={token}")
        expect(other_page.locator(".ax-basket-summary")).to_contain_text("3 products in", timeout=45_000)
        assert sessions[-1].session.basket.basket.urls == expected
    finally:
        other.close()
    assert errors == []


def test_hostile_record_text_in_the_basket_is_inert(page: Page, serve_dashboard: Any) -> None:
    url, sessions = serve_dashboard()
    _open(page, url)
    page.evaluate("window.__pwned = false")
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=45_000)
    session = sessions[-1].session
    product = session.results.result.data[0]
    source = replace(product.data_source, display_name="<img src=x onerror=window.__pwned=true>")
    hostile = replace(
        product, url="https://data.phys.ucalgary.ca/<script>window.__pwned=true</script>.jpg", data_source=source
    )
    session.runner.dispatch(lambda: session.basket.add([hostile]))
    _tab(page, "Basket")
    table = page.locator(".ax-basket-table")
    expect(table).to_contain_text("<script>window.__pwned=true</script>", timeout=45_000)
    expect(table).to_contain_text("<img src=x onerror")
    assert page.locator(".ax-basket img").count() == 0
    assert page.evaluate("window.__pwned") is False


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_basket_view_screenshot(page: Page, serve_dashboard: Any, theme: str) -> None:
    """The Basket tab with products of several datasets, for the docs (looked at by a person)."""
    url, sessions = serve_dashboard()
    page.set_viewport_size({"width": 1280, "height": 1700})  # the whole tab, keep-offline included
    _open(page, url + ("?theme=dark" if theme == "dark" else ""))
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=45_000)
    session = sessions[-1].session
    result = session.results.result
    session.runner.dispatch(lambda: session.basket.add(result.data, query=result.query))
    _tab(page, "Basket")
    expect(page.get_by_role("button", name=f"Download bundle ({len(result.data)} products")).to_be_enabled(
        timeout=45_000
    )
    expect(page.locator(".ax-basket-groups")).to_be_visible()
    expect(page.locator(".ax-basket-table .tabulator-row").first).to_contain_text(
        "TREX_RGB_DAILY_KEOGRAM", timeout=45_000
    )
    expect(page.locator(".ax-basket-table .tabulator-row")).to_have_count(20)
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"basket-{theme}.png"), full_page=True)
