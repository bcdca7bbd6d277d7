"""The engine-neutral semantic suite: every search engine must return what the plain-Python
reference (:func:`aurorax_core.backends.filters.reference_search`) returns.

Each engine is a factory in :data:`ENGINES`: ``factory(tmp_path, sources, records)`` loads the
sources (full AuroraX records, with metadata schemas) and the data-product records (AuroraX JSON)
into a new, empty store and returns a callable ``search(query) -> list[dict]`` giving the result's
AuroraX records (``DataProduct.to_api_dict()``, basic_info sources) in the engine's order (start,
then URL). The ``engine`` fixture runs every test once per factory.

A new engine joins the suite by adding one factory here, e.g. for PostgreSQL::

    def _postgres(tmp_path, sources, records):
        backend = PostgresBackend(url_of_a_new_test_database())
        backend.ingest_sources(sources)
        backend.ingest_products(records)
        return lambda query: [p.to_api_dict() for p in backend.search(query).data]

    ENGINES["postgres"] = _postgres

Nothing else changes: the random catalogs, the random queries and the comparison are shared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aurorax_core import CatalogBackend, DataProductQuery

Search = Callable[[DataProductQuery], list[dict[str, Any]]]
EngineFactory = Callable[[Path, list[dict[str, Any]], list[dict[str, Any]]], Search]

_OPENED: list[CatalogBackend] = []


def _catalog(tmp_path: Path, sources: list[dict[str, Any]], records: list[dict[str, Any]]) -> Search:
    """The embedded catalog, through search() (records as DataProduct objects)."""
    backend = CatalogBackend(tmp_path / "catalog.sqlite")
    _OPENED.append(backend)
    backend.ingest_sources(sources)
    backend.ingest_products(records, batch_size=500)
    return lambda query: [p.to_api_dict() for p in backend.search(query).data]


def _catalog_body(tmp_path: Path, sources: list[dict[str, Any]], records: list[dict[str, Any]]) -> Search:
    """The embedded catalog, through search_body() (the bytes the AuroraX-compatible server sends)."""
    backend = CatalogBackend(tmp_path / "catalog.sqlite")
    _OPENED.append(backend)
    backend.ingest_sources(sources)
    backend.ingest_products(records, batch_size=500)
    return lambda query: json.loads(backend.search_body(query).body)["result"]


ENGINES: dict[str, EngineFactory] = {"catalog": _catalog, "catalog-body": _catalog_body}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[EngineFactory]:
    """One engine factory per run of each test (see the module docstring)."""
    yield ENGINES[request.param]
    while _OPENED:
        _OPENED.pop().close()
