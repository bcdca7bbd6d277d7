"""The deployment under load: 50 API clients through nginx, 20 dashboard sessions in Chromium.

``deploy/local.sh up`` runs the whole deployment on this machine (PostgreSQL, nginx, 2 API and 2
dashboard processes, all on loopback; the demo archive of January 2020 in the catalog). Then:

* **API**: 50 concurrent clients (5 load-generator processes, as ``bench server_load``) for 60 s,
  each looping over the whole AuroraX search lifecycle (submit, poll, data) of a one-night,
  one-source query, through nginx (round-robin over the 2 API processes; requests shared through
  PostgreSQL). Beside it: the same load on one ``aurorax-core serve`` over the SQLite demo catalog
  of the same days (no nginx: SQLite cannot share requests between instances).
* **Dashboard**: 20 real Bokeh sessions (Chromium pages, each its own browser context and so its
  own route cookie: nginx spreads them over the 2 Panel processes), each opened at a permalink of
  one program for the whole month (its first search runs on load), then 3 rounds in which all 20
  click Search at once; a sample is the time from a page's click to its new rows in the table.
  Memory per session: the Panel processes' RSS growth over the 20 sessions, divided by 20. Beside
  it: the same on one ``panel serve dashboard`` over the SQLite catalog (no nginx).

The load generators, Chromium, nginx, PostgreSQL and every server process share this machine's
cores (2 here, and other people's jobs): the figures are lower bounds for a dedicated host.
``quick=True``: 10 s of API load, 5 sessions, 1 round.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from ._harness import CHROMIUM_ARGS, Row, free_port
from .bench_server_load import _load, _queries, demo_catalog, rss_kib, server_process

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "local.sh"
CLIENTS = 50
SESSIONS = 20
PROGRAM = "trex"
MONTH = ("2020-01-01T00:00:00", "2020-01-31T23:59:59")

# the status line names the finished search ("N products · ..."); a new one differs from the old text
_NEW_ROWS = """old => {
  const walk = (root, cls) => {
    const hit = root.querySelector('.' + cls);
    if (hit) return hit;
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) { const r = walk(e.shadowRoot, cls); if (r) return r; }
    }
    return null;
  };
  const status = walk(document, 'ax-status');
  const row = walk(document, 'tabulator-row');
  return !!status && !!row && status.textContent.includes('products ·') && status.textContent !== old;
}"""
_STATUS = """() => {
  const walk = (root) => {
    const hit = root.querySelector('.ax-status');
    if (hit) return hit;
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) { const r = walk(e.shadowRoot); if (r) return r; }
    }
    return null;
  };
  const status = walk(document);
  return status ? status.textContent : '';
}"""


@contextmanager
def deployment() -> Iterator[tuple[dict[str, str], Path]]:
    parent = Path(tempfile.mkdtemp(prefix="aurorax-bench-deploy-"))
    parent.chmod(0o755)
    folder = parent / "local"
    env = {**os.environ, "AURORAX_LOCAL_DEMO": "2020-01-01 2020-01-31", "PYTHON": sys.executable}
    try:
        up = subprocess.run(["bash", str(SCRIPT), "up", str(folder)], capture_output=True, text=True, env=env)
        if up.returncode != 0:
            raise RuntimeError(f"deploy/local.sh up failed:\n{up.stdout}\n{up.stderr}")
        pairs = (line.split("=", 1) for line in (folder / "deploy.env").read_text().splitlines() if "=" in line)
        yield {k: v.strip('"') for k, v in pairs}, folder
    finally:
        subprocess.run(["bash", str(SCRIPT), "down", str(folder)], capture_output=True, env=env)
        shutil.rmtree(parent, ignore_errors=True)


def _api_rows(label: str, stats: dict[str, float], seconds: float, note: str) -> list[Row]:
    first_error = str(stats["first_error"])
    note = f"{CLIENTS} clients, {seconds:g} s, {int(stats['searches'])} searches; {note}"
    return [
        Row(f"[API, {label}] completed searches/s", stats["rate"], "searches/s", 500, higher_is_better=True, note=note),
        Row(f"[API, {label}] latency p50 (submit -> records)", stats["p50_ms"], "ms"),
        Row(f"[API, {label}] latency p95 (submit -> records)", stats["p95_ms"], "ms", 200),
        Row(f"[API, {label}] errors", stats["errors"], "errors", note=first_error[:80] if first_error else "none"),
    ]


def _pids(folder: Path, prefix: str) -> list[int]:
    return [int(p.read_text()) for p in sorted((folder / "pids").glob(f"{prefix}*.pid"))]


def _rss_mib(pids: list[int]) -> float:
    return sum(rss_kib(pid)[0] for pid in pids) / 1024


async def _sessions(dashboard: str, count: int, rounds: int) -> tuple[list[float], list[float]]:
    """(first searches incl. page load, concurrent search -> rows samples) in seconds."""
    from playwright.async_api import async_playwright

    link = f"{dashboard}?" + urlencode({"start": MONTH[0], "end": MONTH[1], "program": PROGRAM})
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        pages = []
        first: list[float] = []
        for _ in range(count):  # opened one after another: the page loads are not what is measured
            context = await browser.new_context(viewport={"width": 1200, "height": 800})
            page = await context.new_page()
            t0 = time.perf_counter()
            await page.goto(link)
            await page.wait_for_function(_NEW_ROWS, arg="", timeout=180_000, polling=50)
            first.append(time.perf_counter() - t0)
            pages.append(page)

        async def one(page: object) -> float:
            old = await page.evaluate(_STATUS)  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            await page.get_by_role("button", name="Search", exact=True).click()  # type: ignore[attr-defined]
            await page.wait_for_function(_NEW_ROWS, arg=old, timeout=180_000, polling=20)  # type: ignore[attr-defined]
            return time.perf_counter() - t0

        samples: list[float] = []
        for _ in range(rounds):
            samples += await asyncio.gather(*(one(page) for page in pages))
        await browser.close()
    return first, samples


def _dashboard_rows(label: str, dashboard: str, pids: list[int], count: int, rounds: int) -> list[Row]:
    before = _rss_mib(pids)
    first, samples = asyncio.run(_sessions(dashboard, count, rounds))
    after = _rss_mib(pids)
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    note = f"{count} sessions x {rounds} rounds, {PROGRAM} for January 2020, {len(pids)} Panel process(es)"
    return [
        Row(f"[dashboard, {label}] search -> rows, median", 1000 * statistics.median(samples), "ms", note=note),
        Row(f"[dashboard, {label}] search -> rows, p95", 1000 * p95, "ms", 2000),
        Row(f"[dashboard, {label}] page open -> first rows, median", 1000 * statistics.median(first), "ms"),
        Row(
            f"[dashboard, {label}] server memory per session",
            (after - before) / count,
            "MiB",
            note=f"Panel RSS {before:.0f} -> {after:.0f} MiB over {count} sessions",
        ),
    ]


@contextmanager
def sqlite_dashboard(catalog: Path) -> Iterator[tuple[str, int]]:
    """One ``panel serve dashboard`` over the SQLite catalog: (dashboard URL, pid)."""
    port = free_port()
    panel = Path(sys.executable).parent / "panel"
    proc = subprocess.Popen(
        [str(panel), "serve", str(ROOT / "dashboard"), "--address", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "AURORAX_CATALOG": str(catalog)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ends = time.monotonic() + 90
        while time.monotonic() < ends:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/dashboard", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(quick: bool) -> list[Row]:
    seconds = 10.0 if quick else 60.0
    count = 5 if quick else SESSIONS
    rounds = 1 if quick else 3
    rows: list[Row] = []
    with deployment() as (settings, folder):
        url = settings["AURORAX_LOCAL_URL"]
        queries = _queries(url)
        _load(url, queries, 2.0, 10)  # warm-up
        api_pids = _pids(folder, "api")
        before = _rss_mib(api_pids)
        stats = _load(url, queries, seconds, CLIENTS)
        rows += _api_rows(
            "PostgreSQL, nginx, 2 API processes",
            stats,
            seconds,
            f"1 search process each; API RSS {before:.0f} -> {_rss_mib(api_pids):.0f} MiB (both)",
        )
        rows += _dashboard_rows(
            "PostgreSQL, nginx, 2 Panel processes", settings["AURORAX_LOCAL_DASHBOARD"], _pids(folder, "dashboard"),
            count, rounds,
        )  # fmt: skip
    catalog = demo_catalog()
    with server_process(catalog) as (url, _pid):
        queries = _queries(url)
        _load(url, queries, 2.0, 10)
        stats = _load(url, queries, seconds, CLIENTS)
    rows += _api_rows("SQLite, 1 API process", stats, seconds, "default search processes (one per CPU)")
    with sqlite_dashboard(catalog) as (dashboard, pid):
        rows += _dashboard_rows("SQLite, 1 Panel process", dashboard, [pid], count, rounds)
    return rows
