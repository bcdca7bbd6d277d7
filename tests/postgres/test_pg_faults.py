"""Bad URLs and faults: every one is a typed error with a message that says what to do."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from catalog_data import make_records
from pgcluster import Cluster

from aurorax_core import (
    BackendConfigurationError,
    CatalogAccessDenied,
    CatalogError,
    CatalogSchemaError,
    CatalogUnavailable,
    DataProductQuery,
    SearchTimeout,
    open_backend,
)
from aurorax_core.backends import AvailabilityCounts, Backend, MetadataValues, RequestTracking, TimeSpan
from aurorax_core.backends.postgres import PostgresBackend
from aurorax_core.backends.postgres.schema import MIGRATIONS, SCHEMA_VERSION

EVERYTHING = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")


def _with(url: str, *, password: str | None = None, port: int | None = None, query: str | None = None) -> str:
    parts = urlsplit(url)
    user = parts.username or ""
    netloc = f"{user}:{password if password is not None else parts.password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query if query is None else query, ""))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_open_backend_chooses_postgresql_by_url_and_its_abilities(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        backend = open_backend(url)
        try:
            assert isinstance(backend, PostgresBackend) and isinstance(backend, Backend)
            for ability in (RequestTracking, AvailabilityCounts, MetadataValues, TimeSpan):
                assert isinstance(backend, ability)
            assert "***" in backend.name and urlsplit(pg_url).password not in backend.name
        finally:
            backend.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://[bad", "is not a PostgreSQL URL"),
        ("postgresql://user@host:notaport/db", "is not a PostgreSQL URL"),
        ("postgresql://user@host/db?unknown_option=1", "options other than libpq's"),
        ("postgresql://user@host/db?pool_max=0", "pool_max must be a number of at least 1"),
        ("postgresql://user@host/db?pool_timeout=soon", "pool_timeout must be a number"),
    ],
)
def test_urls_that_do_not_parse(url: str, message: str) -> None:
    with pytest.raises(BackendConfigurationError, match=message):
        open_backend(url)


def test_password_never_shown(pg_url: str) -> None:
    secret = "s3cr3t-Pa55"
    with pytest.raises(BackendConfigurationError) as caught:
        open_backend(f"postgresql://me:{secret}@host/db?pool_max=none")
    assert secret not in str(caught.value) and "me:***@" in str(caught.value)


def test_a_server_that_is_down(pg_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable, match=r"is not reachable.*check that it runs"):
        PostgresBackend(_with(pg_url, port=_free_port()))
    assert time.monotonic() - started < 15


def test_wrong_password(pg_url: str) -> None:
    with pytest.raises(CatalogAccessDenied, match="refused the user or password") as caught:
        PostgresBackend(_with(pg_url, password="wrong-password"))
    assert "wrong-password" not in str(caught.value)


def test_a_database_that_does_not_exist(pg_url: str) -> None:
    with pytest.raises(CatalogError, match=r'database "no_such_db" does not exist.*createdb'):
        PostgresBackend(pg_url.rsplit("/", 1)[0] + "/no_such_db")


def test_a_database_without_the_schema(pg_url: str) -> None:
    with pytest.raises(CatalogSchemaError, match="has no aurorax-core catalog"):
        PostgresBackend(pg_url, readonly=True)
    with PostgresBackend(pg_url) as catalog:  # writable: the schema is created
        assert catalog.stats()["records"] == 0
    with PostgresBackend(pg_url, readonly=True) as catalog:
        assert catalog.search(EVERYTHING).data == []
        with pytest.raises(CatalogError, match="opened read-only"):
            catalog.ingest_products(make_records(1))


def _version(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT version FROM aurorax.schema_version").fetchone()[0])


def test_an_older_schema_is_upgraded(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a catalog made by version 1
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO aurorax.catalog_meta VALUES ('generation', 'old')")
        conn.execute("INSERT INTO aurorax.schema_version (version) VALUES (1)")
    with pytest.raises(CatalogSchemaError, match=r"schema version 1 and needs an upgrade.*opened read-only"):
        PostgresBackend(pg_url, readonly=True)
    with PostgresBackend(pg_url) as catalog:
        catalog.ingest_products(make_records(10, seed=1))
        assert catalog.stats()["schema_version"] == SCHEMA_VERSION
    assert _version(pg_url) == SCHEMA_VERSION
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM aurorax.server_requests").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (0, "older than this version can upgrade.*DROP SCHEMA aurorax CASCADE"),
        (SCHEMA_VERSION + 1, "newer aurorax-core.*upgrade aurorax-core"),
    ],
)
def test_schemas_that_cannot_be_used(pg_url: str, version: int, message: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA aurorax")
        conn.execute("CREATE TABLE aurorax.schema_version (version integer NOT NULL)")
        conn.execute("INSERT INTO aurorax.schema_version VALUES (%s)", (version,))
    with pytest.raises(CatalogSchemaError, match=message):
        PostgresBackend(pg_url)
    assert _version(pg_url) == version  # left alone


def test_a_foreign_schema_of_the_same_name(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA aurorax")
        conn.execute("CREATE TABLE aurorax.things (x int)")
    with pytest.raises(CatalogSchemaError, match="not an aurorax-core catalog"):
        PostgresBackend(pg_url)


@pytest.fixture
def filled(pg_url: str) -> Iterator[str]:
    with PostgresBackend(pg_url) as catalog:
        catalog.ingest_products(make_records(200, seed=5))
    yield pg_url


class Blocker:
    """Holds an exclusive lock on the products table, so that a search waits inside the server."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)
        self.conn.execute("LOCK TABLE aurorax.products IN ACCESS EXCLUSIVE MODE")

    def waiting_pids(self) -> list[int]:
        with psycopg.connect(self.conn.info.dsn, password=self.conn.info.password, autocommit=True) as other:
            rows = other.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchall()
        return [r[0] for r in rows]

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def _wait_for(condition: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_connection_dropped_mid_search(filled: str, pg_cluster: Cluster) -> None:
    catalog = PostgresBackend(filled)
    try:
        assert len(catalog.search(EVERYTHING)) == 200
        blocker = Blocker(filled)
        outcome: list[BaseException | int] = []

        def search() -> None:
            try:
                outcome.append(len(catalog.search(EVERYTHING)))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=search)
        thread.start()
        (pid,) = _wait_for(blocker.waiting_pids)  # the search is inside the server, waiting
        with psycopg.connect(pg_cluster.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        thread.join(timeout=30)
        blocker.release()
        (error,) = outcome
        assert isinstance(error, CatalogUnavailable), error
        assert "dropped the connection" in str(error)
        assert len(catalog.search(EVERYTHING)) == 200  # the next search works
    finally:
        catalog.close()


def test_idle_connections_ended_by_the_server_are_replaced(filled: str, pg_cluster: Cluster) -> None:
    catalog = PostgresBackend(filled)
    try:
        assert len(catalog.search(EVERYTHING)) == 200
        database = urlsplit(filled).path.lstrip("/")
        with psycopg.connect(pg_cluster.url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (database,)
            ).fetchone()[0]
        assert ended >= 1
        time.sleep(0.2)
        assert len(catalog.search(EVERYTHING)) == 200  # not an error: the pool replaced them
    finally:
        catalog.close()


@contextlib.contextmanager
def _only_connection_busy(filled: str, options: str) -> Iterator[PostgresBackend]:
    """A catalog opened with ``options`` (``pool_max=1``) whose only connection a search holds."""
    catalog = PostgresBackend(_with(filled, query=options))
    blocker = Blocker(filled)
    thread = threading.Thread(target=lambda: catalog.search(EVERYTHING))
    try:
        thread.start()  # takes the only connection and waits on the lock
        _wait_for(blocker.waiting_pids)
        yield catalog
    finally:
        blocker.release()
        thread.join(timeout=30)
        catalog.close()


def test_pool_exhausted_waits_bounded_then_says_so(filled: str) -> None:
    with _only_connection_busy(filled, "pool_max=1&pool_timeout=0.5") as catalog:
        started = time.monotonic()
        with pytest.raises(CatalogUnavailable, match=r"no connection .* became free within 0.5 s.*pool_max"):
            catalog.search(EVERYTHING)
        assert 0.4 < time.monotonic() - started < 10


def test_a_health_check_waits_seconds_not_the_search_pool_timeout(filled: str) -> None:
    """With every connection busy (or the database gone) the health check says so after its own short
    wait: it used to wait the searches' 30 s, which also held a stopping dashboard process for as long."""
    with _only_connection_busy(filled, "pool_max=1&pool_timeout=30") as catalog:
        started = time.monotonic()
        with pytest.raises(CatalogUnavailable, match=r"cannot check the catalog database: .* within 2 s"):
            catalog.check_connectivity()
        assert time.monotonic() - started < 15


def test_a_search_timeout_stops_the_statement_in_the_server(filled: str) -> None:
    catalog = PostgresBackend(filled)
    blocker = Blocker(filled)
    try:
        with pytest.raises(SearchTimeout, match=r"did not complete within 0\.5 s"):
            catalog.search(EVERYTHING, timeout=0.5)
    finally:
        blocker.release()
    assert len(catalog.search(EVERYTHING, timeout=30)) == 200
    catalog.close()
