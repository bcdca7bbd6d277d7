"""Ingest into PostgreSQL: the SQLite catalog's ingest expectations, atomicity, idempotence,
streaming, a kill -9 mid-load and a connection dropped mid-load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from catalog_data import make_records
from test_ingest import (  # the SQLite catalog's own ingest tests, reused as they are
    _bad,
    test_availability_stats_and_metadata_values,
    test_bad_files,
    test_duplicate_urls_in_one_ingest,
    test_ingest_dataproduct_objects_keeps_each_source,
    test_ingest_file_layouts,
    test_ingest_sources_files,
    test_metadata_values_that_compare_equal_keep_their_own_json,
    test_reingest_is_idempotent_and_updates,
    test_source_identifier_clash_is_rejected,
    test_streaming_reader_handles_records_larger_than_its_buffer,
    test_unknown_source_is_brought_in_from_the_record,
)
from test_ingest_urls import (  # issue 12: http/https only, on every engine (PostgreSQL takes no uploads)
    test_a_non_web_url_is_refused_and_nothing_is_written,
    test_ingest_file_refuses_a_data_url,
    test_web_and_relative_urls_are_accepted,
)

from aurorax_core import CatalogUnavailable, DataProductQuery, RecordValidationError, ingest_records
from aurorax_core.backends.postgres import PostgresBackend

REUSED = (
    test_availability_stats_and_metadata_values,
    test_bad_files,
    test_duplicate_urls_in_one_ingest,
    test_ingest_dataproduct_objects_keeps_each_source,
    test_ingest_file_layouts,
    test_ingest_sources_files,
    test_metadata_values_that_compare_equal_keep_their_own_json,
    test_reingest_is_idempotent_and_updates,
    test_source_identifier_clash_is_rejected,
    test_streaming_reader_handles_records_larger_than_its_buffer,
    test_unknown_source_is_brought_in_from_the_record,
    test_a_non_web_url_is_refused_and_nothing_is_written,
    test_ingest_file_refuses_a_data_url,
    test_web_and_relative_urls_are_accepted,
)
EVERYTHING = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")
TABLES = ("sources", "products", "day_counts", "metadata_keys", "metadata_values", "catalog_meta", "search_requests")


def snapshot(url: str) -> dict[str, list[Any]]:
    """Every row of every catalog table (ids included), to compare before and after a failed write."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM aurorax.{table} ORDER BY 1, 2").fetchall()  # fixed names
            for table in TABLES
        }


@pytest.mark.parametrize("change", ["no url", "bad start", "unknown type", "source without triple"])
@pytest.mark.parametrize("prefilled", [True, False], ids=["merge", "copy-into-empty"])
def test_invalid_record_half_way_leaves_no_trace(pg_url: str, change: str, prefilled: bool) -> None:
    catalog = PostgresBackend(pg_url)
    try:
        if prefilled:
            catalog.ingest_products(make_records(20, seed=1))
        before = snapshot(pg_url)
        records = make_records(200, seed=2)
        _bad(records[130], change)
        seen: list[int] = []
        # batch_size 50: batches 0-1 are already copied when record 130 is validated
        with pytest.raises(RecordValidationError, match="record 130"):
            catalog.ingest_products(records, batch_size=50, progress=seen.append)
        assert seen == [50, 100]
        assert snapshot(pg_url) == before
        assert catalog.ingest_products(make_records(200, seed=2)).inserted == 200  # and it works afterwards
    finally:
        catalog.close()


def test_reingest_writes_nothing(pg_catalog: PostgresBackend, pg_url: str) -> None:
    records = make_records(300, seed=21)
    pg_catalog.ingest_products(records)
    pg_catalog.ingest_products(records[:10])  # the merge path, once
    with psycopg.connect(pg_url) as conn:
        xmins = conn.execute("SELECT url, xmin::text FROM aurorax.products ORDER BY url").fetchall()
    before = snapshot(pg_url)
    summary = pg_catalog.ingest_products(records, batch_size=64)
    assert (summary.inserted, summary.updated) == (0, 300)
    assert snapshot(pg_url) == before
    with psycopg.connect(pg_url) as conn:
        # no row was rewritten (a rewritten row gets the writing transaction's xmin)
        assert conn.execute("SELECT url, xmin::text FROM aurorax.products ORDER BY url").fetchall() == xmins


def test_ingest_streams_its_input(pg_catalog: PostgresBackend) -> None:
    """Records are written batch by batch while the input is still being read: memory holds one
    batch, whatever the number of records."""
    pulled = 0
    at_progress: list[tuple[int, int]] = []

    def records() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for record in make_records(1000, seed=3):
            pulled += 1
            yield record

    pg_catalog.ingest_products(records(), batch_size=100, progress=lambda done: at_progress.append((done, pulled)))
    assert at_progress[0] == (100, 100) and at_progress[-1] == (1000, 1000) and len(at_progress) == 10
    pulled = 0
    at_progress.clear()
    pg_catalog.ingest_products(records(), batch_size=100, progress=lambda done: at_progress.append((done, pulled)))
    assert at_progress[0] == (100, 100)  # the merge path streams too


KILLED_INGEST = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {core!r})
    from catalog_data import make_records
    from aurorax_core.backends.postgres import PostgresBackend

    def records():
        for seed in range(10_000):
            for record in make_records(1000, seed=seed):
                record["url"] += f"-{{seed}}"
                yield record

    backend = PostgresBackend({url!r})
    backend.ingest_products(records(), batch_size=2000, progress=lambda done: print(done, flush=True))
    """
)


def test_kill_9_during_a_load_leaves_the_catalog_as_before(pg_catalog: PostgresBackend, pg_url: str) -> None:
    pg_catalog.ingest_products(make_records(50, seed=1))
    before = snapshot(pg_url)
    core = str(Path(__file__).resolve().parents[1] / "core")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_INGEST.format(core=core, url=pg_url)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline() for _ in range(3)]  # three COPY batches sent, not committed
        assert [int(line) for line in lines] == [2000, 4000, 6000]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert snapshot(pg_url) == before
    # the server ended the dead client's transaction: its write lock is free for the next ingest
    assert pg_catalog.ingest_products(make_records(30, seed=9)).records == 30


def _terminate_loader(admin_url: str, database: str) -> int:
    """End the server process of the connection that is loading (inside its COPY)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s "
            "AND pid <> pg_backend_pid()",
            (database, "COPY %"),
        ).fetchone()[0]


@pytest.mark.parametrize("prefilled", [True, False], ids=["merge", "copy-into-empty"])
def test_connection_dropped_mid_load_rolls_back(pg_cluster: Any, pg_url: str, prefilled: bool) -> None:
    catalog = PostgresBackend(pg_url)
    try:
        if prefilled:
            catalog.ingest_products(make_records(20, seed=1))
        before = snapshot(pg_url)
        database = pg_url.rsplit("/", 1)[1]
        killed: list[int] = []

        def progress(done: int) -> None:
            if done == 100:  # one batch sent, the COPY still open, nothing committed
                killed.append(_terminate_loader(pg_cluster.url, database))

        with pytest.raises(CatalogUnavailable, match="not reachable or dropped the connection"):
            catalog.ingest_products(make_records(300, seed=2), batch_size=100, progress=progress)
        assert killed == [1]
        assert snapshot(pg_url) == before
        assert catalog.ingest_products(make_records(300, seed=2)).inserted == 300  # the next one works
    finally:
        catalog.close()


def test_ingest_records_and_files_take_a_catalog_url(pg_url: str, tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"result": make_records(40, seed=4)}))
    from aurorax_core import ingest_file

    assert ingest_file(path, pg_url).inserted == 40
    assert ingest_records(make_records(40, seed=4), pg_url).updated == 40
    with PostgresBackend(pg_url) as catalog:
        assert catalog.stats()["records"] == 40


def test_demo_archive_builds_into_postgresql(pg_catalog: PostgresBackend) -> None:
    from datetime import date

    from aurorax_core.backends.postgres.demo import build_demo_into
    from aurorax_core.demo import demo_sources, generate_demo_records

    events: list[Any] = []
    summary = build_demo_into(pg_catalog, date(2020, 1, 1), date(2020, 1, 2), progress=events.append)
    expected = list(generate_demo_records(date(2020, 1, 1), date(2020, 1, 2)))
    assert summary["records"] == len(expected) == pg_catalog.stats()["records"]
    assert len(pg_catalog.list_sources()) == len(demo_sources())
    assert events[-1].stage == "done" and events[-1].records == len(expected)
    got = pg_catalog.search(EVERYTHING.replace(start="2020-01-01T00:00:00", end="2020-01-03T00:00:00"))
    assert sorted(p.url for p in got) == sorted(r["url"] for r in expected)
    with pytest.raises(Exception, match="already holds"):
        build_demo_into(pg_catalog, date(2020, 1, 1), date(2020, 1, 1))
    again = build_demo_into(pg_catalog, date(2020, 1, 3), date(2020, 1, 3), replace=True)
    assert pg_catalog.stats()["records"] == again["records"] and pg_catalog.time_span() is not None
    first, _ = pg_catalog.time_span()  # type: ignore[misc]
    assert first.date() == date(2020, 1, 3)
