"""``deploy/local.sh up`` brings the deployment up on this machine, and ``down`` removes it.

Everything real: Debian's PostgreSQL and nginx, 2 ``aurorax-core serve`` and 2 ``panel serve
dashboard`` processes; pyaurorax and Chromium go through nginx, as a group's users would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from aurorax_core.backends.postgres import PostgresBackend
from aurorax_core.query import DataProductQuery

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local.sh"


def _run(action: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AURORAX_LOCAL_DEMO": "2020-01-01 2020-01-01"}
    return subprocess.run(
        ["bash", str(SCRIPT), action, str(folder)], capture_output=True, text=True, timeout=300, env=env, check=False
    )


def _settings(folder: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (folder / "deploy.env").read_text().splitlines() if "=" in line)
    return {key: value.strip('"') for key, value in pairs}


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[Path, dict[str, str]]]:
    # not under pytest's private tmp folder: PostgreSQL and nginx run as other users when root
    parent = Path(tempfile.mkdtemp(prefix="aurorax-deploy-test-"))
    parent.chmod(0o755)
    folder = parent / "local"
    started = _run("up", folder)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "up:" in started.stdout
        yield folder, _settings(folder)
    finally:
        _run("down", folder)
        shutil.rmtree(parent, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_every_process_is_healthy_directly_and_through_nginx(deployment: tuple[Path, dict[str, str]]) -> None:
    _, settings = deployment
    ports = settings["AURORAX_LOCAL_API_PORTS"].split() + settings["AURORAX_LOCAL_DASHBOARD_PORTS"].split()
    assert len(ports) == 4
    for url in [f"http://127.0.0.1:{p}/health" for p in ports] + [
        f"{settings['AURORAX_LOCAL_URL']}/health",
        f"{settings['AURORAX_LOCAL_URL']}/api/health",
    ]:
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200, (url, answer.text)
        assert answer.json()["status"] == "ok"
        assert "postgresql://aurorax_app:***@" in answer.json()["catalog"]  # the password never shows


def test_pyaurorax_searches_through_nginx(deployment: tuple[Path, dict[str, str]]) -> None:
    _, settings = deployment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyaurorax

    client = pyaurorax.PyAuroraX(api_base_url=settings["AURORAX_LOCAL_URL"])
    with PostgresBackend(settings["AURORAX_LOCAL_CATALOG"], readonly=True) as catalog:
        expected = catalog.search(
            DataProductQuery.from_api_payload(
                {
                    "start": "2020-01-01T00:00:00",
                    "end": "2020-01-01T23:59:59",
                    "data_sources": {"programs": ["trex"], "platforms": [], "instrument_types": []},
                }
            )
        )
    for _ in range(4):  # submit, polls and data spread over both API processes
        result = client.search.data_products.search(
            datetime(2020, 1, 1), datetime(2020, 1, 1, 23, 59, 59), programs=["trex"], poll_interval=0.05
        )
        assert sorted(p.url for p in result.data) == sorted(p.url for p in expected.data)
        assert len(result.data) > 0
    # the Location a search answers with is nginx's address, not an instance's
    answer = requests.post(
        f"{settings['AURORAX_LOCAL_URL']}/api/v1/data_products/search",
        json={"start": "2020-01-01T00:00:00", "end": "2020-01-01T01:00:00", "data_sources": {}},
        timeout=30,
    )
    assert answer.headers["Location"].startswith(settings["AURORAX_LOCAL_URL"] + "/api/v1/data_products/requests/")


def _open(page: Page, url: str) -> None:
    with page.expect_console_message(lambda m: "Websocket connection 0 is now open" in m.text, timeout=60_000):
        page.goto(url)
    expect(page.get_by_role("button", name="Search", exact=True)).to_be_visible(timeout=30_000)


def test_the_dashboard_works_through_nginx_with_sessions_and_permalinks_across_processes(
    deployment: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    _, settings = deployment
    dashboard = settings["AURORAX_LOCAL_DASHBOARD"]
    routes = set()
    # fresh browsers get a route cookie each: their sessions land on either process, and each
    # session's WebSocket reaches the process that made its page (else the page never connects)
    for _ in range(4):
        context = browser.new_context()
        page = context.new_page()
        _open(page, dashboard)
        routes.add(next(c["value"] for c in context.cookies() if c["name"] == "aurorax_route"))
        context.close()
    assert len(routes) == 4
    context = browser.new_context()
    page = context.new_page()
    _open(page, dashboard)
    page.get_by_role("button", name="2020-01-01 (docs example)").click()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=30_000)
    page.wait_for_function("() => location.search.includes('program=trex')")
    link = page.url
    rows = page.locator(".tabulator-row").count()
    context.close()
    # the permalink in other browsers (other route cookies, so possibly the other process) restores the view
    for _ in range(2):
        fresh = browser.new_context()
        again = fresh.new_page()
        _open(again, link)
        expect(again.locator(".tabulator-row").first).to_be_visible(timeout=30_000)
        assert again.locator(".tabulator-row").count() == rows
        fresh.close()


def test_health_says_503_when_the_database_is_gone_and_down_removes_everything(
    deployment: tuple[Path, dict[str, str]],
) -> None:
    folder, settings = deployment
    pids = [int(p.read_text()) for p in (folder / "pids").glob("*.pid")]
    nginx_pid = int((folder / "nginx" / "nginx.pid").read_text())
    assert len(pids) == 4 and all(_alive(pid) for pid in [*pids, nginx_pid])
    subprocess.run(["bash", str(ROOT / "scripts" / "pg_throwaway.sh"), "stop", str(folder / "pg")], check=True)
    for url in (f"{settings['AURORAX_LOCAL_URL']}/api/health", f"{settings['AURORAX_LOCAL_URL']}/health"):
        answer = requests.get(url, timeout=30)
        assert answer.status_code == 503, (url, answer.text)
    stopped = _run("down", folder)
    assert stopped.returncode == 0, stopped.stderr
    assert not folder.exists()
    assert not any(_alive(pid) for pid in [*pids, nginx_pid])
