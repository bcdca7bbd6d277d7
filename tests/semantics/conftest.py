"""The engine-neutral semantic suite: every search engine must return what the plain-Python
reference (:func:`aurorax_core.backends.filters.reference_search`) returns.

Each engine is a factory in :data:`ENGINES`: ``factory(tmp_path, sources, records)`` loads the
sources (full AuroraX records, with metadata schemas) and the data-product records (AuroraX JSON)
into a new, empty store and returns a callable ``search(query) -> list[dict]`` giving the result's
AuroraX records (``DataProduct.to_api_dict()``, basic_info sources) in the engine's order (start,
then URL). The ``engine`` fixture runs every test once per factory.

A new engine joins the suite by adding one factory to ``ENGINES`` (as ``_postgres`` did: a new
database on the session's real PostgreSQL server). Nothing else changes: the random catalogs, the
random queries and the comparison are shared.
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


_PG_CLUSTER: list[Any] = []  # the session's PostgreSQL server, set by the engine fixture when needed
_PG_DATABASES: list[str] = []


def _postgres(tmp_path: Path, sources: list[dict[str, Any]], records: list[dict[str, Any]]) -> Search:
    """The PostgreSQL catalog (a new database on the session's server), through search()."""
    from aurorax_core.backends.postgres import PostgresBackend

    url = _PG_CLUSTER[0].create_database()
    _PG_DATABASES.append(url)
    backend = PostgresBackend(url)
    _OPENED.append(backend)
    backend.ingest_sources(sources)
    backend.ingest_products(records, batch_size=500)
    return lambda query: [p.to_api_dict() for p in backend.search(query).data]


def _postgres_body(tmp_path: Path, sources: list[dict[str, Any]], records: list[dict[str, Any]]) -> Search:
    """The PostgreSQL catalog through search_body() (what the server would send)."""
    from aurorax_core.backends.postgres import PostgresBackend

    url = _PG_CLUSTER[0].create_database()
    _PG_DATABASES.append(url)
    backend = PostgresBackend(url)
    _OPENED.append(backend)
    backend.ingest_sources(sources)
    backend.ingest_products(records, batch_size=500)
    return lambda query: json.loads(backend.search_body(query).body)["result"]


ENGINES: dict[str, EngineFactory] = {
    "catalog": _catalog,
    "catalog-body": _catalog_body,
    "postgres": _postgres,
    "postgres-body": _postgres_body,
}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[EngineFactory]:
    """One engine factory per run of each test (see the module docstring)."""
    if request.param.startswith("postgres") and not _PG_CLUSTER:
        _PG_CLUSTER.append(request.getfixturevalue("pg_cluster"))
    yield ENGINES[request.param]
    while _OPENED:
        _OPENED.pop().close()
    while _PG_DATABASES:
        _PG_CLUSTER[0].drop_database(_PG_DATABASES.pop())
