"""Fixtures for the dashboard's headless tests: a fresh session on the shared demo catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aurorax_core import open_backend
from dashboard.state import DashboardSession


@pytest.fixture
def backend(demo_catalog_path: Path) -> Iterator[object]:
    """The demo catalog opened for one test (the session closes backends it replaces)."""
    opened = open_backend(demo_catalog_path)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def session(backend: object) -> DashboardSession:
    """A session on the demo catalog, set to the documentation's example (TREx RGB, Fort Smith, 2020-01-01)."""
    s = DashboardSession(backend)
    s.form.preset_example_day()
    return s
