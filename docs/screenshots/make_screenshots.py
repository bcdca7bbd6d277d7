"""Take the dashboard screenshots in this folder: every view, light and dark, at 1280x800.

    python docs/screenshots/make_screenshots.py [--out docs/screenshots] [--width 1280 --height 800]

Serves the dashboard in-process on 127.0.0.1 over the benchmark's demo archive
(``.bench-data/dashboard/demo.sqlite``, built by ``python -m bench dashboard`` or here on first use)
and drives Debian's Chromium with Playwright. PNGs are palette-quantised to keep them small.
Also prints the width of the results table's key columns with a preview open (layout check).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _save(page: Any, out: Path, name: str, settle_ms: int = 600) -> None:
    from PIL import Image

    size = page.viewport_size or {"width": 1280, "height": 800}
    suffix = "" if size["width"] == 1280 else f"-{size['width']}"
    path = out / f"dashboard-{name}{suffix}.png"
    page.mouse.move(1, 1)  # no hover tooltips in the pictures
    page.wait_for_timeout(settle_ms)
    page.screenshot(path=str(path))
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


_COLUMNS_JS = """() => {
  const out = {};
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) walk(e.shadowRoot);
      if (e.classList && e.classList.contains('tabulator')) {
        const box = e.getBoundingClientRect();
        out.table = [Math.round(box.left), Math.round(box.right)];
        out.columns = [...e.querySelectorAll('.tabulator-col')].map(c => {
          const r = c.getBoundingClientRect();
          return [c.getAttribute('tabulator-field'), Math.round(r.left), Math.round(r.right)];
        });
      }
    }
  };
  walk(document);
  return out;
}"""


def visible_columns(page: Any) -> list[str]:
    """Table columns fully visible without scrolling the table horizontally."""
    info = page.evaluate(_COLUMNS_JS)
    left, right = info.get("table", [0, 0])
    return [name for name, a, b in info.get("columns", []) if name and a >= left - 1 and b <= right + 1]


def shoot(url: str, sessions: list[Any], out: Path, theme: str, size: tuple[int, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.goto(url if theme == "light" else f"{url}?theme={theme}")
        expect(page.get_by_role("button", name="Search", exact=True)).to_be_visible(timeout=60_000)
        session = sessions[-1].session
        results = session.results
        # A first visit shows the documentation's example, already searched.
        expect(page.locator(".tabulator-row img").first).to_be_visible(timeout=60_000)
        _save(page, out, f"results-{theme}")
        page.get_by_role("button", name="Backend: embedded catalog ⚙").click()
        page.get_by_role("radio", name="Embedded catalog").wait_for(timeout=30_000)
        _save(page, out, f"backend-dialog-{theme}")
        page.get_by_role("button", name="Close", exact=True).click()

        keogram = next(i for i, p in enumerate(results.result.data) if p.data_product_type == "keogram")
        page.locator(".tabulator-row").nth(results.view_indices.index(keogram)).click()
        expect(page.locator(".ax-preview img.ax-full")).to_be_visible(timeout=60_000)
        print(f"{theme}: columns visible with a preview open:", visible_columns(page))
        _save(page, out, f"keogram-preview-{theme}")

        movie = next(i for i, p in enumerate(results.result.data) if p.data_product_type == "movie")
        session.runner.dispatch(lambda: setattr(results, "selected_index", movie))
        expect(page.locator(".ax-player")).to_be_visible(timeout=60_000)
        _save(page, out, f"movie-preview-{theme}")
        page.locator("body").click(position={"x": 5, "y": size[1] - 5})
        page.keyboard.press("?")
        _save(page, out, f"preview-keys-{theme}")
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Close (Esc)").click()

        movies = sum(1 for p in results.result.data if p.data_product_type == "movie")
        page.get_by_role("button", name=f"movies · {movies}").click()
        expect(page.get_by_role("button", name="Clear filters")).to_be_visible(timeout=30_000)
        _save(page, out, f"facets-{theme}")
        page.get_by_role("button", name="Clear filters").click()

        page.get_by_text("Gallery", exact=True).click()
        expect(page.locator(".ax-card img").first).to_be_visible(timeout=60_000)
        _save(page, out, f"gallery-{theme}")
        # A month, night by night: jump to the last night.
        start = page.get_by_label("Start (UTC)")
        start.fill("2020-01")
        start.press("Enter")
        expect(page.locator(".ax-night-header").nth(20)).to_be_attached(timeout=60_000)
        jump = page.locator(".ax-jump")
        jump.select_option(index=jump.locator("option").count() - 1)
        page.wait_for_timeout(1500)
        _save(page, out, f"gallery-month-{theme}")
        page.get_by_text("Export", exact=True).click()
        page.wait_for_timeout(500)
        _save(page, out, f"export-{theme}")
        page.get_by_text("Availability", exact=True).click()
        start.fill("2020-01")
        start.press("Enter")
        expect(page.locator(".av-wrap[data-drawn]")).to_be_visible(timeout=60_000)
        _save(page, out, f"availability-{theme}")
        page.get_by_text("Table", exact=True).click()
        start.fill("2020-01-01")
        end = page.get_by_label("End (UTC)")
        end.fill("2020-01-01")
        end.press("Enter")
        expect(page.locator(".tabulator-row").first).to_be_visible(timeout=60_000)

        # A typed date that is not a date: said at the field; the last rows stay, marked.
        start.fill("2020-02-30")
        start.press("Enter")
        expect(page.locator(".ax-stale")).to_be_visible(timeout=30_000)
        _save(page, out, f"error-{theme}")
        browser.close()


def shoot_first_run(out: Path, size: tuple[int, int]) -> None:
    """The first-run message while the demo archive is built (AURORAX_CATALOG points at a new file)."""
    import panel as pn
    from playwright.sync_api import sync_playwright

    from dashboard.app import DashboardApp

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AURORAX_CATALOG"] = str(Path(tmp) / "new-demo.sqlite")
        os.environ.pop("AURORAX_API_URL", None)
        port = _free_port()
        server = pn.serve(lambda: DashboardApp(), port=port, address="127.0.0.1", threaded=True, show=False)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                for theme in ("light", "dark"):
                    # A new file per theme: the first build finishes while the screenshot is taken.
                    os.environ["AURORAX_CATALOG"] = str(Path(tmp) / f"new-demo-{theme}.sqlite")
                    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                    page.goto(f"http://127.0.0.1:{port}/" + ("" if theme == "light" else f"?theme={theme}"))
                    page.get_by_text("Building the demo archive", exact=False).first.wait_for(timeout=60_000)
                    _save(page, out, f"first-run-{theme}", settle_ms=0)  # the build takes a few seconds
                    page.close()
                browser.close()
        finally:
            server.stop()
            # Give the builder thread a moment before its folder goes away.
            time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--themes", default="light,dark")
    parser.add_argument("--first-run", action="store_true", help="only the first-run build progress")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.first_run:
        shoot_first_run(args.out, (args.width, args.height))
        return 0
    import panel as pn

    from aurorax_core import open_backend
    from bench.bench_dashboard import _catalog
    from dashboard.app import DashboardApp

    catalog = _catalog()
    sessions: list[Any] = []

    def app() -> Any:
        dashboard = DashboardApp(open_backend(catalog))
        sessions.append(dashboard)
        return dashboard

    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = pn.serve(app, port=port, address="127.0.0.1", threaded=True, show=False)
    try:
        for theme in args.themes.split(","):
            shoot(f"http://127.0.0.1:{port}/", sessions, args.out, theme, (args.width, args.height))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
