"""The night view in Chromium: the issue's link, the cursor, movies in step, play, keys, map, themes, remote."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from aurorax_core import open_backend
from dashboard.night.app import create_night_app
from dashboard.night.geometry import clock

from .test_stack import _daily_keogram_sites

pytestmark = pytest.mark.ui

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "night"
LINK = "?view=night&night=2020-01-14&program=themis-asi&t=06:30:00"
RGB = "?view=night&night=2020-01-14&program=trex&instrument=RGB+ASI&t=06:30:00&sites=GILL,FSMI,PINA,RABB"


@pytest.fixture(scope="module")
def serve_night(night_catalog_path: Path, night_images: Any) -> Iterator[Callable[..., tuple[str, list[Any]]]]:
    """serve(spec=None) -> (base url, sessions): the night page on a free port; each session's view recorded."""
    from ui.conftest import _serve  # the dashboard's browser-test server helper (tests/ui/conftest.py)

    servers: list[Any] = []

    def serve(spec: Any = None) -> tuple[str, list[Any]]:
        sessions: list[Any] = []

        def app() -> Any:
            template = create_night_app(open_backend(str(spec or night_catalog_path)), images=night_images)
            sessions.append(template.night_view)
            return template

        return _serve(app, servers), sessions

    yield serve
    for server in servers:
        server.stop()


def _open(page: Page, url: str, rows: int | None = None) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1440, "height": 1000})
    with page.expect_console_message(lambda m: "Websocket connection 0 is now open" in m.text, timeout=30_000):
        page.goto(url)
    expect(page.locator(".nv-row").first).to_be_visible(timeout=30_000)
    if rows is not None:
        expect(page.locator(".nv-row")).to_have_count(rows, timeout=30_000)
    return errors


def _lane_box(page: Page) -> dict[str, float]:
    box = page.locator(".nv-lane").first.bounding_box()
    assert box is not None
    return box


def _wait(predicate: Callable[[], bool], page: Page, what: str, timeout_ms: int = 15_000) -> None:
    for _ in range(timeout_ms // 100):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_link_renders_every_site_in_latitude_order_with_loaded_keograms(
    page: Page, serve_night: Any, night_backend: Any
) -> None:
    """One row per THEMIS ASI site, images loaded for the sites a search finds daily keograms for, poleward first."""
    url, sessions = serve_night()
    sources = night_backend.list_sources(programs=["themis-asi"])
    errors = _open(page, url + LINK, rows=len(sources))
    view = sessions[-1]
    codes = page.locator(".nv-row").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes == [r.code for r in view.stack.rows]
    lats = [view.stack.row(c).location.latitude for c in codes]
    assert lats == sorted(lats, reverse=True)
    with_images = set(page.locator(".nv-row.nv-daily").evaluate_all("rows => rows.map(r => r.dataset.code)"))
    assert with_images == _daily_keogram_sites(night_backend, "themis-asi", date(2020, 1, 14))
    images = page.locator(".nv-row img.nv-keo")
    expect(images).to_have_count(len(with_images))
    # Thumbnails may come first; the full 720-column images replace them.
    full = "imgs => imgs.map(i => i.complete && i.naturalWidth === 720)"
    _wait(lambda: all(images.evaluate_all(full)), page, "every keogram's full image", 30_000)
    assert len(images.evaluate_all(full)) == len(with_images)
    alts = images.evaluate_all("imgs => imgs.map(i => i.alt)")
    assert all("keogram" in a and "panchromatic ASI" in a and "2020-01-14" in a for a in alts)
    expect(page.locator(".nv-row.nv-none")).to_have_count(len(sources) - len(with_images))
    expect(page.locator(".nv-time")).to_have_text("06:30:00 UT")
    expect(page.locator(".nv-track-area")).to_have_attribute("aria-valuetext", "06:30:00 UT")
    expect(page.locator(".nv-axis-top .nv-tick")).to_have_count(25)
    expect(page.locator(".nv-axis-bottom .nv-tick")).to_have_count(25)
    # The map: one marker per site, with coastlines drawn.
    expect(page.locator(".nv-map [data-night-site]")).to_have_count(len(codes))
    assert len(page.locator(".nv-map path.nv-coast").get_attribute("d") or "") > 1000
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "night-light.png"), full_page=True)
    assert errors == []


def test_a_click_sets_the_cursor_and_arrow_keys_move_it(page: Page, serve_night: Any) -> None:
    """A click at a quarter of the row is 06:00 UT (± one pixel); ← → move 1 min, shift 10 min; URL follows."""
    url, sessions = serve_night()
    _open(page, url + LINK)
    view = sessions[-1]
    box = _lane_box(page)
    per_pixel = 86400 / box["width"]
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    expect(page.locator(".nv-tip")).to_contain_text("UT")
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    _wait(lambda: abs(view.state.t - 6 * 3600) <= per_pixel, page, "the cursor at 06:00")
    assert abs(view.state.t - 6 * 3600) <= per_pixel
    expect(page.locator(".nv-time")).to_have_text(f"{clock(view.state.t)} UT")
    t0 = view.state.t
    page.keyboard.press("ArrowRight")
    _wait(lambda: view.state.t == t0 + 60, page, "+1 minute")
    page.keyboard.press("Shift+ArrowRight")
    _wait(lambda: view.state.t == t0 + 660, page, "+10 minutes")
    page.keyboard.press("ArrowLeft")
    _wait(lambda: view.state.t == t0 + 600, page, "-1 minute")
    expect(page.locator(".nv-time")).to_have_text(f"{clock(t0 + 600)} UT")
    _wait(lambda: f"t={clock(t0 + 600).replace(':', '%3A')}" in page.evaluate("location.search"), page, "the URL")
    # j / k move between nights, and the URL names the new night.
    page.keyboard.press("j")
    _wait(lambda: view.stack is not None and view.stack.night == date(2020, 1, 15), page, "the next night")
    _wait(lambda: "night=2020-01-15" in page.evaluate("location.search"), page, "the URL's night")
    page.keyboard.press("k")
    _wait(lambda: view.stack.night == date(2020, 1, 14), page, "the previous night")
    page.keyboard.press("?")
    expect(page.locator(".nv-keys")).to_be_visible()
    expect(page.locator(".nv-keys")).to_contain_text("next night")
    page.keyboard.press("Escape")
    expect(page.locator(".nv-keys")).to_be_hidden()


def _movie_state(page: Page) -> list[dict[str, Any]]:
    return page.locator(".nv-movie").evaluate_all(
        """cells => cells.map(c => { const v = c.querySelector('video');
           return {code: c.dataset.code, t: v ? v.currentTime : null, d: v ? v.duration : null,
                   ready: v ? v.readyState : 0, off: parseFloat(c.dataset.frameOffset)}; })"""
    )


def _expected_movie_time(spec: dict[str, Any], cursor: float, duration: float) -> float:
    span = max(1.0, spec["t1"] - spec["t0"])
    last = duration - duration / spec["frames"] / 2
    return min(max((cursor - spec["t0"]) / span * duration, 0.0), last)


def test_movies_follow_the_cursor_play_in_step_and_a_scrub_moves_the_cursor(page: Page, serve_night: Any) -> None:
    """Four TREx RGB movies seek to the cursor (within a frame); play advances it; scrubbing one moves all."""
    url, sessions = serve_night()
    _open(page, url + RGB)
    view = sessions[-1]
    expect(page.locator(".nv-movie video")).to_have_count(4, timeout=60_000)
    _wait(lambda: all(m["ready"] >= 1 for m in _movie_state(page)), page, "movie metadata", 60_000)
    specs = {m["code"]: m for m in view.canvas.movies}
    assert all(s["frames"] for s in specs.values())

    def check(cursor: float) -> None:
        for m in _movie_state(page):
            spec = specs[m["code"]]
            frame = m["d"] / spec["frames"]
            assert abs(m["t"] - _expected_movie_time(spec, cursor, m["d"])) <= frame, m
            if spec["t0"] <= cursor <= spec["t1"]:  # the frame's UT and the cursor agree within one frame
                assert abs(m["off"] - cursor) <= (spec["t1"] - spec["t0"]) / spec["frames"], m

    _wait(lambda: all(m["off"] == m["off"] for m in _movie_state(page)), page, "frame labels")
    check(view.canvas.cursor)
    box = _lane_box(page)
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    _wait(lambda: abs(view.canvas.cursor - 0.2 * 86400) < 200, page, "the clicked time")
    page.wait_for_timeout(300)
    check(float(page.locator(".nv").get_attribute("data-cursor") or 0))
    expect(page.locator(".nv-movie-time").first).to_contain_text("UT")

    # Play: the cursor moves along the stack, and the movies run.
    before = view.state.t
    page.get_by_role("button", name="Play").click()
    expect(page.locator(".nv")).to_have_attribute("data-playing", "true")
    _wait(lambda: view.state.t > before + 60, page, "the cursor to advance while playing")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".nv")).to_have_attribute("data-playing", "false")
    page.wait_for_timeout(300)
    check(float(page.locator(".nv").get_attribute("data-cursor") or 0))

    # Scrub the first movie: the cursor and the other movies follow.
    scrub = page.locator(".nv-movie input[type=range]").first
    scrub.evaluate("s => { s.value = '750'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    first = specs[_movie_state(page)[0]["code"]]
    target = first["t0"] + 0.75 * (first["t1"] - first["t0"])
    _wait(lambda: abs(view.canvas.cursor - target) <= (first["t1"] - first["t0"]) / first["frames"], page, "scrub")
    page.wait_for_timeout(300)
    check(float(page.locator(".nv").get_attribute("data-cursor") or 0))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "night-movies.png"), full_page=True)


def test_map_sites_light_up_with_their_row_and_toggle_movies(page: Page, serve_night: Any) -> None:
    """Hovering a row lights its map site; clicking a site adds its movie, clicking again removes it."""
    url, sessions = serve_night()
    _open(page, url + RGB.replace("&sites=GILL,FSMI,PINA,RABB", ""))
    view = sessions[-1]
    page.locator('.nv-row[data-code="GILL"] .nv-lane').hover()
    expect(page.locator('.nv-map [data-night-site="GILL"]')).to_have_class("nv-site nv-lit")
    page.locator('.nv-map [data-night-site="FSMI"] circle').click()
    _wait(lambda: view.state.sites == ["FSMI"], page, "FSMI chosen")
    expect(page.locator('.nv-movie[data-code="FSMI"] video')).to_have_count(1, timeout=60_000)
    expect(page.locator('.nv-row[data-code="FSMI"] .nv-label')).to_have_attribute("aria-pressed", "true")
    page.locator('.nv-row[data-code="FSMI"] .nv-label').click()
    _wait(lambda: view.state.sites == [], page, "FSMI removed")
    expect(page.locator(".nv-movie")).to_have_count(0)


def test_dark_theme_and_a_night_without_data(page: Page, serve_night: Any) -> None:
    """Dark theme renders the same stack; a night outside the archive says so and offers the nearest night."""
    url, sessions = serve_night()
    _open(page, url + RGB + "&theme=dark")
    expect(page.locator(".nv-movie video")).to_have_count(4, timeout=60_000)
    page.wait_for_timeout(1500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "night-dark.png"), full_page=True)
    view = sessions[-1]
    page.get_by_label("Night (YYYY-MM-DD)").fill("2020-01-30")
    page.get_by_label("Night (YYYY-MM-DD)").press("Enter")
    expect(page.get_by_text("No RGB ASI keograms for the night of 2020-01-30")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Open 2020-01-16").click()
    _wait(lambda: view.stack is not None and view.stack.night == date(2020, 1, 16), page, "the offered night")
    page.get_by_label("Night (YYYY-MM-DD)").fill("2020-02-30")
    page.get_by_label("Night (YYYY-MM-DD)").press("Enter")
    expect(page.get_by_text("'2020-02-30' is not a calendar date")).to_be_visible()


def test_bad_link_values_explain_themselves_on_the_page(page: Page, serve_night: Any) -> None:
    """t=25:00, an unknown site: the page names each problem and still shows the night."""
    url, _sessions = serve_night()
    _open(page, url + "?view=night&night=2020-01-14&program=themis-asi&t=25:00&sites=GILL,NOPE")
    problems = page.locator(".nv-problems")
    expect(problems).to_contain_text("'25:00' does not exist")
    expect(problems).to_contain_text("NOPE is not a panchromatic ASI site")
    expect(page.locator(".nv-row.nv-daily").first).to_be_visible()


def test_over_an_aurorax_api_the_stack_matches_the_catalog(
    page: Page, serve_night: Any, night_catalog_path: Path
) -> None:
    """Against `aurorax-core serve` the link gives the same rows and loads the same keograms."""
    from aurorax_core.server import serve_in_thread

    api_url, stop = serve_in_thread(night_catalog_path, port=0)
    try:
        url, sessions = serve_night(api_url)
        _open(page, url + LINK)
        view = sessions[-1]
        assert view.backend.name.startswith("http://127.0.0.1")
        with_images = page.locator(".nv-row.nv-daily")
        with open_backend(str(night_catalog_path)) as catalog:
            expected = _daily_keogram_sites(catalog, "themis-asi", date(2020, 1, 14))
        expect(with_images).to_have_count(len(expected), timeout=30_000)
        loaded = page.locator(".nv-row img.nv-keo").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
        assert len(loaded) == len(expected) and all(loaded)
    finally:
        stop()


def test_local_night_window_shows_two_days_per_row(page: Page, serve_night: Any) -> None:
    """18-18 local solar time: rows hold two keograms placed across the UT midnight; ticks say LST and UT."""
    url, sessions = serve_night()
    _open(page, url + RGB + "&window=local")
    view = sessions[-1]
    _wait(lambda: view.stack is not None and view.stack.window.kind == "local", page, "the local window")
    expect(page.locator(".nv-axis-top .nv-axis-title")).to_contain_text("LST")
    lefts = page.locator('.nv-row[data-code="GILL"] img').evaluate_all("imgs => imgs.map(i => i.style.left)")
    assert len(lefts) == 2 and lefts[0].startswith("-")
    assert view.stack.window.start.date() == date(2020, 1, 14)
    assert view.stack.window.end - view.stack.window.start == timedelta(days=1)
