"""Two real ``aurorax-core serve`` processes over one PostgreSQL catalog share their requests.

What an operator relies on when running N instances behind a balancer: any instance answers any
request id (status, data, cancel), a cancel on one stops the search running on another, a killed
instance's finished results stay available, a restart loses none, and results expire and stay
within ``--result-memory`` across all instances.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from aurorax_core.backends.postgres import PostgresBackend
from aurorax_core.backends.postgres.demo import build_demo_into
from aurorax_core.query import DataProductQuery

from .pgserve import RoundRobinProxy, ServeProcess, submit, wait_done

DAY = date(2020, 1, 1)
API_KEY = "shared-test-key"


def _query(**data_sources: list[str]) -> dict[str, Any]:
    return DataProductQuery.from_api_payload(
        {
            "start": "2020-01-01T00:00:00",
            "end": "2020-01-01T23:59:59",
            "data_sources": {"programs": [], "platforms": [], "instrument_types": [], **data_sources},
        }
    ).to_api_payload()


EVERYTHING = _query()
TREX = _query(programs=["trex"])


@pytest.fixture(scope="module")
def demo_url(pg_cluster: Any) -> Iterator[str]:
    """A PostgreSQL catalog holding the demo archive of 2020-01-01 (dropped at the end)."""
    url = pg_cluster.create_database()
    with PostgresBackend(url) as backend:
        build_demo_into(backend, DAY, DAY)
    yield url
    pg_cluster.drop_database(url)


def _serve(url: str, *options: str) -> ServeProcess:
    return ServeProcess(url, "--search-processes", "1", "--api-key", API_KEY, *options).start()


@pytest.fixture
def pair(demo_url: str) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    a, b = _serve(demo_url), _serve(demo_url)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def _data(base: str, request_id: str) -> bytes:
    answer = requests.get(f"{base}/api/v1/data_products/requests/{request_id}/data", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.content


def test_a_search_submitted_on_one_instance_is_answered_by_the_other(
    pair: tuple[ServeProcess, ServeProcess], demo_url: str
) -> None:
    a, b = pair
    assert a.process is not None
    password = urlsplit(demo_url).password
    assert password and password not in Path(f"/proc/{a.process.pid}/cmdline").read_text()
    assert password not in "".join(a.output)  # the console shows the URL with ***
    request_id = submit(a.url, TREX)
    status = wait_done(b.url, request_id)
    assert status["search_request"]["request_id"] == request_id
    assert status["search_result"]["error_condition"] is False
    assert [line["summary"] for line in status["logs"]][-1].startswith("Finished search in")
    on_b = _data(b.url, request_id)
    assert on_b == _data(a.url, request_id)
    with PostgresBackend(demo_url, readonly=True) as catalog:
        expected = catalog.search(DataProductQuery.from_api_payload(TREX))
    assert status["search_result"]["result_count"] == len(expected.data) > 0
    # the other data-source formats are served from the stored layout too
    identifiers = requests.get(
        f"{b.url}/api/v1/data_products/requests/{request_id}/data?data_source_record_format=identifier_only",
        timeout=30,
    ).json()["result"]
    assert {tuple(r["data_source"]) for r in identifiers} == {("identifier",)}
    assert len(identifiers) == len(expected.data)
    # the admin listing of either instance holds it
    listing = requests.get(
        f"{b.url}/api/v1/utils/admin/search_requests", headers={"x-aurorax-api-key": API_KEY}, timeout=30
    ).json()
    assert request_id in {row["request_id"] for row in listing}
    # an admin delete on A removes it everywhere
    deleted = requests.delete(
        f"{a.url}/api/v1/utils/admin/search_requests/{request_id}", headers={"x-aurorax-api-key": API_KEY}, timeout=30
    )
    assert deleted.status_code == 200
    gone = requests.get(f"{b.url}/api/v1/data_products/requests/{request_id}", timeout=30)
    assert gone.status_code == 404 and "not found" in gone.json()["error_message"]


def test_pyaurorax_submits_on_one_instance_and_polls_and_fetches_on_the_other(
    demo_url: str,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyaurorax

    proxy = RoundRobinProxy([])
    # the instances' Locations must point at the balancer, as behind nginx (--public-url)
    a, b = _serve(demo_url, "--public-url", proxy.url), _serve(demo_url, "--public-url", proxy.url)
    proxy.backends = [proxy._address(a.url), proxy._address(b.url)]
    try:
        client = pyaurorax.PyAuroraX(api_base_url=proxy.url)
        for _ in range(3):
            result = client.search.data_products.search(
                datetime(2020, 1, 1), datetime(2020, 1, 1, 23, 59, 59), programs=["trex"], poll_interval=0.05
            )
            with PostgresBackend(demo_url, readonly=True) as catalog:
                expected = catalog.search(DataProductQuery.from_api_payload(TREX))
            assert sorted(p.url for p in result.data) == sorted(p.url for p in expected.data)
        # each search is 3+ connections (submit, status polls, data) dealt in turn to A and B, so
        # both instances answered requests the other one created
        assert proxy.connections[0] >= 4 and proxy.connections[1] >= 4
    finally:
        proxy.close()
        a.stop()
        b.stop()


def test_a_cancel_on_one_instance_stops_the_search_running_on_the_other(
    pair: tuple[ServeProcess, ServeProcess], demo_url: str
) -> None:
    a, b = pair
    # hold the products table: A's search waits inside PostgreSQL until it is cancelled
    with psycopg.connect(demo_url, autocommit=True) as holder, psycopg.connect(demo_url, autocommit=True) as watch:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE aurorax.products IN ACCESS EXCLUSIVE MODE")
        request_id = submit(a.url, EVERYTHING)
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%products%'"
        ends = time.monotonic() + 20
        while watch.execute(waiting).fetchone()[0] == 0:
            assert time.monotonic() < ends, "A's search never reached PostgreSQL"
            time.sleep(0.05)
        assert (
            requests.get(f"{b.url}/api/v1/data_products/requests/{request_id}", timeout=30).json()["search_result"][
                "completed_timestamp"
            ]
            is None
        )
        cancelled = requests.delete(f"{b.url}/api/v1/data_products/requests/{request_id}", timeout=30)
        assert cancelled.status_code == 200
        assert cancelled.json()["logs"][-1]["summary"] == "Search cancelled by the user"
        # the cancel reaches A, which stops its query in PostgreSQL while the lock is still held
        ends = time.monotonic() + 10
        while watch.execute(waiting).fetchone()[0] != 0:
            assert time.monotonic() < ends, "the search kept running in PostgreSQL after the cancel"
            time.sleep(0.05)
        holder.execute("ROLLBACK")
    status = requests.get(f"{a.url}/api/v1/data_products/requests/{request_id}", timeout=30).json()
    assert status["search_result"]["error_condition"] is True
    assert status["logs"][-1]["summary"] == "Search cancelled by the user"
    data = requests.get(f"{a.url}/api/v1/data_products/requests/{request_id}/data", timeout=30)
    assert data.status_code == 409 and "cancelled" in data.json()["error_message"]
    # A's search process is free again
    assert wait_done(a.url, submit(a.url, TREX))["search_result"]["error_condition"] is False


def test_kill_9_of_one_instance_under_load_loses_no_finished_result(demo_url: str) -> None:
    a, b = _serve(demo_url), _serve(demo_url)
    proxy = RoundRobinProxy([a.url, b.url])
    finished: dict[str, bytes] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            began = time.monotonic()
            try:
                answer = session.post(f"{proxy.url}/api/v1/data_products/search", json=TREX, timeout=30)
                request_id = answer.headers["Location"].rsplit("/", 1)[1]
                ends = time.monotonic() + 30
                while time.monotonic() < ends:
                    status = session.get(f"{proxy.url}/api/v1/data_products/requests/{request_id}", timeout=30)
                    if status.json()["search_result"]["completed_timestamp"] is not None:
                        break
                    time.sleep(0.02)
                data = session.get(f"{proxy.url}/api/v1/data_products/requests/{request_id}/data", timeout=30)
                assert data.status_code == 200, data.text
                with lock:
                    finished[request_id] = data.content
            except (requests.RequestException, AssertionError, KeyError) as exc:
                # a search begun while A died may break (a connection A held, a search A ran)
                with lock:
                    errors.append(f"{began:.3f} {type(exc).__name__}: {exc}")
                session = requests.Session()

    try:
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        killed_at = time.monotonic()
        with lock:
            before = dict(finished)
        a.kill()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
        assert len(before) > 10, "too few searches finished before the kill to test anything"
        # every result a client received before the kill is still there, byte for byte, on B
        for request_id, body in before.items():
            assert _data(b.url, request_id) == body
        # every search begun after the kill was answered: errors only for those begun around it
        late = [e for e in errors if float(e.split()[0]) > killed_at + 1.0]
        assert late == [], late
        assert len(finished) > len(before)
    finally:
        stop.set()
        proxy.close()
        a.kill()
        b.stop()


def test_a_search_running_on_a_killed_instance_is_reported_failed_not_pending_forever(
    demo_url: str,
) -> None:
    a, b = _serve(demo_url), _serve(demo_url)
    try:
        with psycopg.connect(demo_url, autocommit=True) as holder:
            holder.execute("BEGIN")
            holder.execute("LOCK TABLE aurorax.products IN ACCESS EXCLUSIVE MODE")
            request_id = submit(a.url, EVERYTHING)
            a.kill()
            holder.execute("ROLLBACK")
        status = wait_done(b.url, request_id, timeout=40)
        assert status["search_result"]["error_condition"] is True
        assert "stopped before it finished" in status["logs"][-1]["summary"]
    finally:
        a.kill()
        b.stop()


def test_a_restarted_instance_still_answers_the_results_finished_before(demo_url: str) -> None:
    a = _serve(demo_url)
    request_id = submit(a.url, TREX)
    wait_done(a.url, request_id)
    body = _data(a.url, request_id)
    a.stop()
    again = _serve(demo_url)
    try:
        assert _data(again.url, request_id) == body
    finally:
        again.stop()


def test_results_expire_and_stay_within_the_result_memory_across_instances(demo_url: str) -> None:
    a, b = (_serve(demo_url, "--result-ttl", "2", "--result-memory", "1") for _ in range(2))
    try:
        first = submit(a.url, EVERYTHING)
        wait_done(b.url, first)
        time.sleep(2.5)
        for base in (a.url, b.url):
            expired = requests.get(f"{base}/api/v1/data_products/requests/{first}", timeout=30)
            assert expired.status_code == 404 and "expired" in expired.json()["error_message"]
        # the upkeep deletes expired rows and keeps the stored results within B's 1 MB
        ids = [submit(b.url, EVERYTHING) for _ in range(4)]
        for request_id in ids:
            wait_done(b.url, request_id)
        size = len(_data(b.url, ids[-1]))
        assert 2 * size > 1024 * 1024 >= size, "the test needs results of 0.5-1 MB"
        with psycopg.connect(demo_url, autocommit=True) as conn:
            ends = time.monotonic() + 15
            while True:
                rows = conn.execute("SELECT id FROM aurorax.server_requests").fetchall()
                total = conn.execute(
                    "SELECT coalesce(sum(octet_length(result) + coalesce(octet_length(layout), 0)), 0) "
                    "FROM aurorax.server_requests"
                ).fetchone()[0]
                if first not in {r[0] for r in rows} and total <= 1024 * 1024:
                    break
                assert time.monotonic() < ends, f"{len(rows)} rows, {total} bytes kept"
                time.sleep(0.5)
    finally:
        a.stop()
        b.stop()
