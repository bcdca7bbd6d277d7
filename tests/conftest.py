"""Shared pytest fixtures: a small demo catalog built once per test session.

``demo_catalog_path``: a demo archive for 2019-12-31 .. 2020-01-02 (it holds 2020-01-01, the day
the AuroraX documentation's examples and pyaurorax's tests search), built once into a temporary
directory; treat it as read-only (copy it if a test writes). ``demo_catalog``: that file opened
as a :class:`CatalogBackend`, closed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

# Debian's Chromium (Playwright's own browser download is blocked here) with the flags that stop it
# reaching for hosts this network refuses (shared/testing/BROWSER.md).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DEMO_FIXTURE_START = date(2019, 12, 31)
DEMO_FIXTURE_END = date(2020, 1, 2)


@pytest.fixture(scope="session")
def demo_catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a demo catalog (2019-12-31 .. 2020-01-02), built once per session."""
    from aurorax_core.demo import build_demo_archive

    path = tmp_path_factory.mktemp("demo-catalog") / "demo.sqlite"
    build_demo_archive(path, DEMO_FIXTURE_START, DEMO_FIXTURE_END)
    return path


@pytest.fixture(scope="session")
def demo_catalog(demo_catalog_path: Path) -> Iterator[object]:
    """The session's demo catalog opened as a CatalogBackend (shared: do not write to it)."""
    from aurorax_core.backends.catalog import CatalogBackend

    backend = CatalogBackend(demo_catalog_path)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches the system Chromium for every browser test."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A real PostgreSQL server for the whole session (tests/postgres/pgcluster.py): the one
    ``AURORAX_TEST_POSTGRES_URL`` names (``bash scripts/test.sh`` starts one), else a throwaway
    cluster started here. Never skipped: without PostgreSQL the tests that need it fail, saying how
    to fix it."""
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent / "postgres"))
    from pgcluster import cluster_from_environment

    try:
        cluster = cluster_from_environment()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(
            f"the PostgreSQL tests need a server: {exc}. Install PostgreSQL (apt-get install -y postgresql) or set "
            "AURORAX_TEST_POSTGRES_URL=postgresql://user:password@host:port/database (bash scripts/test.sh does both)",
            pytrace=False,
        )
    try:
        yield cluster
    finally:
        cluster.stop()
