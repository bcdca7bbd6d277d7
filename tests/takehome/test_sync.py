"""catalog sync against the project's own AuroraX-compatible server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aurorax_core.backends.base import SyncLedger
from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.backends.catalog_sync import CatalogSyncLedger
from aurorax_core.backends.remote import RemoteBackend
from aurorax_core.query import DataProductQuery
from aurorax_core.sync import SyncError, ledger_for, sync_catalog

from .conftest import API_KEY, SOURCES
from .servers import Proxy

START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2020, 3, 31, 23, 59, 59, tzinfo=UTC)
N_CHUNKS = 9  # 3 sources x 3 months


def everything(backend: object, start: datetime = START, end: datetime = END) -> set[tuple[object, ...]]:
    """Every record of the range as comparable tuples (source, type, times, url, metadata)."""
    result = backend.search(DataProductQuery(start=start, end=end))  # type: ignore[attr-defined]
    return {
        (p.data_source.identifier, p.data_product_type, p.start, p.end, p.url, tuple(sorted(p.metadata.items())))
        for p in result.data
    }


@pytest.fixture
def local(tmp_path: Path) -> CatalogBackend:
    catalog = CatalogBackend(tmp_path / "local.sqlite")
    yield catalog
    catalog.close()


def test_empty_catalog_syncs_to_the_servers_answers_and_a_second_sync_asks_almost_nothing(
    upstream: tuple[str, Path], local: CatalogBackend
) -> None:
    remote = RemoteBackend(upstream[0])
    first = sync_catalog(local, remote, START, END)
    assert first.chunks_total == N_CHUNKS and first.chunks_written == N_CHUNKS
    assert everything(local) == everything(remote)
    assert first.records_written == len(everything(remote))
    assert isinstance(CatalogSyncLedger(local), SyncLedger)
    ledger_before = ledger_for(local).ledger_entries()
    assert len(ledger_before) == N_CHUNKS and all(e.origin == upstream[0] for e in ledger_before)
    second = sync_catalog(local, remote, START, END)
    assert (second.chunks_fetched, second.chunks_written, second.records_written) == (0, 0, 0)
    assert second.chunks_unchanged == N_CHUNKS
    assert second.requests == 2  # the source list and one availability request
    assert ledger_for(local).ledger_entries() == ledger_before  # nothing written
    full = sync_catalog(local, remote, START, END, full=True)
    assert full.chunks_fetched == N_CHUNKS and full.chunks_written == 0


def test_filters_limit_the_sync_to_matching_sources(upstream: tuple[str, Path], local: CatalogBackend) -> None:
    remote = RemoteBackend(upstream[0])
    report = sync_catalog(local, remote, START, END, programs=["trex"], platforms=["gillam"])
    assert report.chunks_total == 3
    assert {row[0] for row in everything(local)} == {103}


def test_upstream_deletions_and_edits_propagate(upstream: tuple[str, Path], local: CatalogBackend) -> None:
    url, _path = upstream
    remote = RemoteBackend(url, api_key=API_KEY)
    sync_catalog(local, remote, START, END)
    doomed = sorted(u for (sid, _t, _s, _e, u, _m) in everything(remote) if sid == 104 and "/20200210/" in u)
    remote.delete_products(104, doomed)
    for _ in range(100):  # the server applies deletes asynchronously, as AuroraX does
        if not {u for *_, u, _m in everything(remote)} & set(doomed):
            break
        time.sleep(0.05)
    report = sync_catalog(local, remote, START, END)
    assert report.chunks_written == 1 and report.records_deleted == len(doomed)
    assert everything(local) == everything(remote)
    assert not {u for *_, u, _m in everything(local)} & set(doomed)


def test_an_edit_that_keeps_the_counts_is_found_by_full(upstream: tuple[str, Path], local: CatalogBackend) -> None:
    url, path = upstream
    remote = RemoteBackend(url)
    sync_catalog(local, remote, START, END)
    writer = CatalogBackend(path)
    record = next(
        p for p in writer.search(DataProductQuery(start=START, end=END)).data if p.data_source.identifier == 46
    )
    edited = record.to_api_dict()
    edited["metadata"] = {**edited["metadata"], "keogram_type": "hourly_hires"}
    writer.ingest_products([edited])
    writer.close()
    assert sync_catalog(local, remote, START, END).chunks_written == 0  # same counts: not seen incrementally
    full = sync_catalog(local, remote, START, END, full=True)
    assert full.chunks_written == 1
    assert everything(local) == everything(remote)


def test_records_outside_the_asked_range_are_rejected(proxy: Proxy, local: CatalogBackend) -> None:
    def shift(records: list[dict[str, object]]) -> list[dict[str, object]]:
        if records:
            records[0] = {**records[0], "start": "2019-06-01T00:00:00", "end": "2019-06-01T00:59:00"}
        return records

    proxy.rewrite_data = shift
    with pytest.raises(SyncError, match="outside the asked range"):
        sync_catalog(local, RemoteBackend(proxy.url), START, END)
    assert everything(local) == set()
    assert ledger_for(local).ledger_entries() == []


def test_api_down_mid_run_keeps_what_finished_and_the_next_run_continues(
    proxy: Proxy, upstream: tuple[str, Path], local: CatalogBackend
) -> None:
    proxy.fail_when = lambda body: b'"start": "2020-03' in body or b'"start":"2020-03' in body  # March is down
    with pytest.raises(SyncError, match="run the same command again"):
        sync_catalog(local, RemoteBackend(proxy.url), START, END)
    kept = len(ledger_for(local).ledger_entries())
    assert kept == 6  # January and February
    proxy.fail_when = None
    report = sync_catalog(local, RemoteBackend(proxy.url), START, END)
    assert report.chunks_written == N_CHUNKS - kept
    assert everything(local) == everything(RemoteBackend(upstream[0]))


def cli(*args: str, catalog: Path) -> list[str]:
    return [sys.executable, "-m", "aurorax_core", "--catalog", str(catalog), "catalog", *args]


def test_kill_9_mid_sync_then_rerun_completes_with_the_same_result(
    proxy: Proxy, upstream: tuple[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "killed.sqlite"
    proxy.delay_data = 0.4
    run = cli("sync", "--api-url", proxy.url, "2020-01-01", "2020-03-31", "--quiet", catalog=path)
    child = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rows = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
                rows = conn.execute("SELECT count(*) FROM sync_ledger").fetchone()[0]
        except sqlite3.Error:
            rows = 0
        if rows:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the sync finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    catalog = CatalogBackend(path)
    kept = len(ledger_for(catalog).ledger_entries())
    assert 0 < kept < N_CHUNKS
    catalog.close()
    proxy.delay_data = 0.0
    done = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    catalog = CatalogBackend(path)
    try:
        assert everything(catalog) == everything(RemoteBackend(upstream[0]))
        assert len(ledger_for(catalog).ledger_entries()) == N_CHUNKS
    finally:
        catalog.close()
    stats = subprocess.run(cli("stats", catalog=path), capture_output=True, text=True, timeout=60)
    assert stats.returncode == 0 and f"Synced from:\n  {proxy.url}:" in stats.stdout
    assert "3 data sources, months 2020-01 .. 2020-03 (9 chunks)" in stats.stdout


def test_cli_sync_bad_input_is_a_clear_error(upstream: tuple[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    for args, message in (
        (("sync", "2020-01-01", "2020-01-31"), "needs --api-url"),
        (("sync", "--api-url", upstream[0], "2020-02-01", "2020-01-01"), "before START"),
        (("sync", "--api-url", upstream[0], "yesterday", "2020-01-01"), "START"),
        (("sync", "--api-url", "ftp://x", "2020-01-01", "2020-01-02"), "http"),
    ):
        done = subprocess.run(cli(*args, catalog=path), capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
    ok = subprocess.run(
        cli("sync", "--api-url", upstream[0], "2020-01-01", "2020-01-31", catalog=path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "3 of 3 chunks written" in ok.stdout


def test_sources_are_synced_before_their_records(upstream: tuple[str, Path], local: CatalogBackend) -> None:
    sync_catalog(local, RemoteBackend(upstream[0]), START, END)
    assert {s.identifier for s in local.list_sources()} == {s["identifier"] for s in SOURCES}


def test_a_catalog_locked_by_a_writer_is_waited_for(upstream: tuple[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    CatalogBackend(path).close()
    blocker = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, lambda: blocker.execute("COMMIT"))
    release.start()
    local = CatalogBackend(path)
    try:
        report = sync_catalog(local, RemoteBackend(upstream[0]), START, END)
        assert report.chunks_written == N_CHUNKS
        assert everything(local) == everything(RemoteBackend(upstream[0]))
    finally:
        release.join()
        blocker.close()
        local.close()


def test_ctrl_c_mid_sync_says_what_to_do_and_the_rerun_completes(
    proxy: Proxy, upstream: tuple[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "interrupted.sqlite"
    proxy.delay_data = 0.4
    run = cli("sync", "--api-url", proxy.url, "2020-01-01", "2020-03-31", "--quiet", catalog=path)
    child = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.endswith("/data") for _, p in proxy.requests):
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert "run the same command again" in err and "Traceback" not in err
    proxy.delay_data = 0.0
    done = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    catalog = CatalogBackend(path)
    try:
        assert everything(catalog) == everything(RemoteBackend(upstream[0]))
    finally:
        catalog.close()


def test_full_repairs_local_records_removed_by_hand(upstream: tuple[str, Path], local: CatalogBackend) -> None:
    remote = RemoteBackend(upstream[0])
    sync_catalog(local, remote, START, END)
    lost = sorted(u for (sid, _t, _s, _e, u, _m) in everything(local) if sid == 46 and "/202002" in u)[:5]
    local.delete_products(46, lost)
    assert sync_catalog(local, remote, START, END).chunks_written == 0  # upstream unchanged: not looked at
    repaired = sync_catalog(local, remote, START, END, full=True)
    assert repaired.chunks_written == 1
    assert everything(local) == everything(remote)


def test_keep_a_searchs_results_offline(upstream: tuple[str, Path], local: CatalogBackend) -> None:
    from aurorax_core.sync import sync_query

    remote = RemoteBackend(upstream[0])
    query = DataProductQuery(
        start="2020-02-03T00:00:00",
        end="2020-02-09T23:59:59",
        programs=["trex"],
        data_product_types=["keogram"],
        metadata_filters=[{"key": "keogram_type", "operator": "=", "values": ["daily"]}],
    )
    report = sync_query(local, remote, query)
    assert report.chunks_written == 2  # trex gillam and rabbit lake, February
    offline, online = local.search(query).data, remote.search(query).data
    assert [p.url for p in offline] == [p.url for p in online] and offline
