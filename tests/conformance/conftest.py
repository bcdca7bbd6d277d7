"""The official pyaurorax client and aurorax-cli against our server on 127.0.0.1.

The catalog is the session's demo catalog (2019-12-31 .. 2020-01-02) plus the demo records of
the other days pyaurorax's own tests search: TREx RGB on 2019-01-01/02 and 2022-01-01 (availability
tests). The test-program data source that pyaurorax's session set-up creates is added the same
way, through pyaurorax (``sources.get``, then ``sources.add`` on AuroraXNotFoundError).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.demo import generate_demo_records
from aurorax_core.server import serve_in_thread

API_KEY = "conformance-key"
POLL = 0.05  # pyaurorax sleeps poll_interval between status polls (default 1 s)
EXTRA_DAYS = ((date(2019, 1, 1), date(2019, 1, 2)), (date(2022, 1, 1), date(2022, 1, 1)))

with warnings.catch_warnings():
    # pyaurorax's import chain (cartopy, matplotlib ...) may warn about optional pieces.
    warnings.simplefilter("ignore")
    import pyaurorax


@pytest.fixture(scope="session")
def conformance_catalog_path(demo_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conformance") / "catalog.sqlite"
    shutil.copyfile(demo_catalog_path, path)
    catalog = CatalogBackend(path)
    try:
        for first, last in EXTRA_DAYS:
            catalog.ingest_products(generate_demo_records(first, last))
    finally:
        catalog.close()
    return path


@pytest.fixture(scope="session")
def server_url(conformance_catalog_path: Path) -> Iterator[str]:
    # searches in two worker processes, as `aurorax-core serve` runs them by default on two or
    # more CPUs (the server tests cover the threads of --search-processes 0)
    url, stop = serve_in_thread(conformance_catalog_path, api_keys=[API_KEY], search_processes=2)
    yield url
    stop()


@pytest.fixture(scope="session")
def catalog(conformance_catalog_path: Path, server_url: str) -> Iterator[CatalogBackend]:
    """The same file opened in-process: what every answer of the server is compared with."""
    backend = CatalogBackend(conformance_catalog_path)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def aurorax(server_url: str) -> pyaurorax.PyAuroraX:
    """pyaurorax pointed at our server, with a write key (like pyaurorax's own ``aurorax`` fixture)."""
    client = pyaurorax.PyAuroraX(api_base_url=server_url, api_key=API_KEY)
    # pyaurorax's session set-up (PROTOCOL §10.1 step 1): ensure the test data source exists.
    try:
        client.search.sources.get("test-program", "test-platform", "test-instrument-type")
    except pyaurorax.AuroraXNotFoundError:
        client.search.sources.add(
            pyaurorax.search.DataSource(
                program="test-program",
                platform="test-platform",
                instrument_type="test-instrument-type",
                source_type="ground",
                display_name="PyAuroraX testing",
            )
        )
    return client


@pytest.fixture
def private_server(
    conformance_catalog_path: Path, tmp_path: Path
) -> Iterator[Callable[..., tuple[str, CatalogBackend]]]:
    """A server over a private copy of the catalog (for writes and slow-path tests)."""
    started: list[tuple[Callable[[], None], CatalogBackend]] = []

    def start(**options: Any) -> tuple[str, CatalogBackend]:
        path = tmp_path / f"private-{len(started)}.sqlite"
        shutil.copyfile(conformance_catalog_path, path)
        options.setdefault("api_keys", [API_KEY])
        url, stop = serve_in_thread(path, **options)
        backend = CatalogBackend(path)
        started.append((stop, backend))
        return url, backend

    yield start
    for stop, backend in started:
        stop()
        backend.close()
