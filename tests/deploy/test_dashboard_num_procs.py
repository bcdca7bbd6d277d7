"""``panel serve dashboard --num-procs 2`` over a PostgreSQL catalog: sessions and permalinks work
whichever of the forked processes a browser's page and WebSocket reach."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from aurorax_core.backends.postgres import PostgresBackend
from aurorax_core.backends.postgres.demo import build_demo_into
from aurorax_core.query import DataProductQuery

ROOT = Path(__file__).resolve().parents[2]
LINK = "dashboard?start=2020-01-01T00%3A00%3A00&end=2020-01-01T23%3A59%3A59&program=trex"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def catalog_url(pg_cluster: Any) -> Iterator[str]:
    url = pg_cluster.create_database()
    with PostgresBackend(url) as backend:
        build_demo_into(backend, date(2020, 1, 1), date(2020, 1, 1))
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(scope="module")
def dashboard(catalog_url: str) -> Iterator[str]:
    port = _free_port()
    panel = Path(sys.executable).parent / "panel"
    process = subprocess.Popen(
        [str(panel), "serve", str(ROOT / "dashboard"), "--address", "127.0.0.1", "--port", str(port),
         "--num-procs", "2", "--plugins", "aurorax_core.server.health"],
        env={**os.environ, "AURORAX_CATALOG": catalog_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        ends = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < ends, "panel serve --num-procs 2 did not start"
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the forked processes too
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _open(page: Page, url: str) -> None:
    with page.expect_console_message(lambda m: "Websocket connection 0 is now open" in m.text, timeout=60_000):
        page.goto(url)
    expect(page.get_by_role("button", name="Search", exact=True)).to_be_visible(timeout=30_000)


def test_permalinks_open_the_same_rows_in_every_session_of_two_forked_processes(
    dashboard: str, catalog_url: str, browser: Browser
) -> None:
    with PostgresBackend(catalog_url, readonly=True) as catalog:
        expected = catalog.search(
            DataProductQuery.from_api_payload(
                {
                    "start": "2020-01-01T00:00:00",
                    "end": "2020-01-01T23:59:59",
                    "data_sources": {"programs": ["trex"], "platforms": [], "instrument_types": []},
                }
            )
        )
    assert len(expected.data) > 0
    for _ in range(4):  # fresh connections: the kernel deals them to either process
        context = browser.new_context()
        page = context.new_page()
        _open(page, f"{dashboard}/{LINK}")
        status = page.locator(".ax-status")
        expect(status).to_contain_text(f"{len(expected.data):,} products", timeout=30_000)
        expect(page.locator(".tabulator-row").first).to_be_visible(timeout=30_000)
        # the session stays usable: a new search in the same page
        page.get_by_role("button", name="Search", exact=True).click()
        expect(status).to_contain_text(f"{len(expected.data):,} products", timeout=30_000)
        context.close()
