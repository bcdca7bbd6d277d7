"""Fixtures for the PostgreSQL backend's tests: a real server, a fresh database per test.

These tests never skip: ``pg_cluster`` (tests/conftest.py) is ``AURORAX_TEST_POSTGRES_URL``'s server
or a throwaway cluster it starts, and when neither is possible every test here fails saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from pgcluster import Cluster

from aurorax_core.backends.postgres import PostgresBackend


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """The URL of a new, empty database (dropped afterwards)."""
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture
def pg_catalog(pg_url: str) -> Iterator[PostgresBackend]:
    """A new, empty PostgreSQL catalog."""
    backend = PostgresBackend(pg_url)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def catalog(pg_catalog: PostgresBackend) -> PostgresBackend:
    """The name the reused SQLite catalog tests ask for: here a new PostgreSQL catalog."""
    return pg_catalog


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "cross-keys"])
def random_catalog(
    request: pytest.FixtureRequest, pg_cluster: Cluster
) -> Iterator[tuple[PostgresBackend, list[dict[str, Any]]]]:
    """(catalog, records): the SQLite tests' 3000-record random archive, in PostgreSQL."""
    from catalog_data import SOURCES, make_records

    url = pg_cluster.create_database()
    backend = PostgresBackend(url)
    try:
        backend.ingest_sources(SOURCES)
        records = make_records(3000, seed=11 if request.param else 5, cross=request.param)
        backend.ingest_products(records, batch_size=700)
        yield backend, records
    finally:
        backend.close()
        pg_cluster.drop_database(url)
