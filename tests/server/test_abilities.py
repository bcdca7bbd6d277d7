"""``serve`` accepts any backend that has what the server needs, and names what a backend lacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from aurorax_core.backends.base import AvailabilityCounts, Backend, SearchBodies, SourceLookup, WritableCatalog
from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.backends.remote import RemoteBackend
from aurorax_core.errors import BackendConfigurationError
from aurorax_core.server import REQUIRED_ABILITIES, check_servable, make_app, serve_in_thread


def test_the_catalog_has_every_ability_the_server_needs(small_catalog_path: Path) -> None:
    with CatalogBackend(small_catalog_path, readonly=True) as catalog:
        for ability in (Backend, SearchBodies, SourceLookup, AvailabilityCounts, WritableCatalog):
            assert isinstance(catalog, ability)
        check_servable(catalog)
    assert [name for name, _ in REQUIRED_ABILITIES] == ["Backend", "SearchBodies", "SourceLookup", "AvailabilityCounts"]


def test_a_backend_without_search_bodies_is_refused_naming_the_missing_abilities() -> None:
    remote = RemoteBackend("http://127.0.0.1:9")
    assert not isinstance(remote, SearchBodies)
    missing = [name for name, ability in REQUIRED_ABILITIES if not isinstance(remote, ability)]
    assert "SearchBodies" in missing
    with pytest.raises(BackendConfigurationError) as info:
        make_app(remote)
    for name in missing:
        assert name in str(info.value)
    for name, _ in REQUIRED_ABILITIES:
        if name not in missing:
            assert f" {name}" not in str(info.value).split("lacks the")[1].split("abilit")[0]


class ReadOnlyCatalog:
    """A servable backend without the WritableCatalog ability (delegates the reads)."""

    def __init__(self, catalog: CatalogBackend) -> None:
        self._catalog = catalog
        self.name = catalog.name
        self.list_sources = catalog.list_sources
        self.search = catalog.search
        self.describe = catalog.describe
        self.close = catalog.close
        self.search_body = catalog.search_body
        self.start_ranges = catalog.start_ranges
        self.get_source = catalog.get_source
        self.availability = catalog.availability


def test_a_backend_without_writes_is_served_and_refuses_writes_with_a_reason(small_catalog_path: Path) -> None:
    backend = ReadOnlyCatalog(CatalogBackend(small_catalog_path, readonly=True))
    assert not isinstance(backend, WritableCatalog)
    url, stop = serve_in_thread(backend, api_keys=["k"])
    try:
        query = {"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59", "data_sources": {}}
        reply = requests.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": query})
        assert reply.status_code == 200 and len(reply.json()) == 45
        reply = requests.post(
            f"{url}/api/v1/data_sources/400/data_products", json=[], headers={"x-aurorax-api-key": "k"}
        )
        assert reply.status_code == 405
        assert "WritableCatalog" in reply.json()["error_message"]
    finally:
        stop()
        backend.close()


def test_serve_names_the_missing_ability_of_a_url_backend() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aurorax_core", "--catalog", "http://127.0.0.1:9", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot serve")
    assert "SearchBodies" in done.stderr and "Traceback" not in done.stderr
