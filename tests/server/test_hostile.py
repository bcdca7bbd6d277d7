"""No request takes the server hostage: a real ``aurorax-core serve`` on 127.0.0.1 with its default
worker processes, over the whole demo archive (Dec 2019 - Feb 2020, ~114,000 records), under the
heaviest queries the limits allow, cancels, a result too large for its memory, and SIGTERM.

(The machine running these may be shared: time bounds are the issue's, with room for its noise.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from aurorax_core import query as limits
from aurorax_core.server import CANCEL_LOG

from .conftest import submit, wait

NIGHT = {"start": "2020-01-05T00:00:00", "end": "2020-01-05T23:59:59", "data_sources": {"programs": ["trex"]}}
SMALL = {"start": "2020-01-05T00:00:00", "end": "2020-01-05T00:59:59", "data_sources": {"platforms": ["gillam"]}}
WHOLE = {"start": "2019-12-01T00:00:00", "end": "2020-02-29T23:59:59", "data_sources": {}}


def heavy_query() -> dict[str, Any]:
    """The most expensive query the limits allow: every record of the archive, compared with every
    allowed value (none matches, OR), at the largest list and string sizes (the lists still match
    everything: they hold the archive's own programs and instrument types)."""
    per = limits.MAX_FILTER_VALUES // limits.MAX_METADATA_EXPRESSIONS
    expressions = [
        {"key": "imaging_start_time", "operator": "in", "values": [f"{i}.{k}" for k in range(per)]}
        for i in range(limits.MAX_METADATA_EXPRESSIONS)
    ]
    spare = limits.MAX_FILTER_VALUES - per * limits.MAX_METADATA_EXPRESSIONS
    expressions[-1]["values"] += ["9" * limits.MAX_VALUE_LENGTH] + [f"8.{k}" for k in range(spare - 1)]
    real_programs = ["themis-asi", "trex", "rego", "auroramax", "rainbow", "campaigns", "unis/kho", "events"]
    filler = [f"{i:03d}".ljust(limits.MAX_NAME_LENGTH, "z") for i in range(limits.MAX_LIST_ENTRIES)]
    return {
        **WHOLE,
        "data_sources": {
            "programs": (real_programs + filler)[: limits.MAX_LIST_ENTRIES],
            "data_product_metadata_filters": {"expressions": expressions, "logical_operator": "OR"},
        },
    }


@pytest.fixture(scope="session")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aurorax_core.demo import build_demo_archive

    path = tmp_path_factory.mktemp("archive") / "demo.sqlite"
    build_demo_archive(path)
    return path


@contextmanager
def serve(archive: Path, *options: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``aurorax-core --catalog ARCHIVE serve --port 0 OPTIONS`` (default worker processes)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aurorax_core", "--catalog", str(archive), "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its search processes with it, so that the end below reaches them all
    )
    try:
        assert proc.stdout is not None
        match = re.search(r"at (http://127\.0\.0\.1:\d+)$", proc.stdout.readline().strip())
        assert match, f"the server did not start: {proc.stderr.read() if proc.stderr else ''}"
        yield match.group(1), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        proc.communicate(timeout=30)


def _children_cpu_ticks(pid: int) -> int:
    """CPU time (clock ticks) of the processes whose parent is ``pid`` (the search processes)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total


def _search_seconds(http: requests.Session, url: str, query: dict[str, Any]) -> float:
    started = time.perf_counter()
    status = wait(http, submit(http, url, query))
    assert status["search_result"]["error_condition"] is False, status["logs"][-1]
    return time.perf_counter() - started


def test_the_largest_allowed_heavy_query_is_accepted_and_one_more_value_is_refused(
    archive_path: Path, http: requests.Session
) -> None:
    heavy = heavy_query()
    assert len(json.dumps(heavy)) > 8000  # large lists and strings, all within the limits
    with serve(archive_path) as (url, _proc):
        location = submit(http, url, heavy)
        http.delete(location)
        past = json.loads(json.dumps(heavy))
        past["data_sources"]["data_product_metadata_filters"]["expressions"][0]["values"].append("x")
        reply = http.post(f"{url}/api/v1/data_products/search", json=past)
        assert reply.status_code == 400
        assert "MAX_FILTER_VALUES" in reply.json()["error_message"]


def test_cancelled_heavy_queries_free_the_workers_for_the_next_search(
    archive_path: Path, http: requests.Session
) -> None:
    with serve(archive_path) as (url, proc):
        normal = statistics.median(_search_seconds(http, url, NIGHT) for _ in range(3))
        heavy = heavy_query()
        locations = [submit(http, url, heavy) for _ in range(4)]
        for location in locations:
            assert http.delete(location).status_code == 200
        after = _search_seconds(http, url, NIGHT)
        # without a cancel that reaches the workers this waited for 4 whole-archive scans (~10 s+)
        assert after < 3 * normal + 0.5, (after, normal)
        for location in locations:
            assert http.get(location).json()["logs"][-1]["summary"] == CANCEL_LOG
        # and the search processes are idle: the cancelled work stopped, it did not run on unseen
        before = _children_cpu_ticks(proc.pid)
        time.sleep(1.0)
        assert _children_cpu_ticks(proc.pid) - before < 20  # < 0.2 s of CPU in 1 s


def test_a_heavy_query_stops_within_100_ms_of_its_deadline(archive_path: Path, http: requests.Session) -> None:
    # the heaviest query the limits allow takes ~0.3 s over the demo archive on a loaded machine (less
    # on a quiet one): a 50 ms deadline is always shorter than its work
    with serve(archive_path, "--search-timeout", "0.05") as (url, _proc):
        late = []
        for _ in range(3):  # the best of three: the machine may be shared
            status = wait(http, submit(http, url, heavy_query()))
            assert status["search_result"]["error_condition"] is True
            assert "did not complete within 0.05 s" in status["logs"][-1]["summary"]
            late.append(status["search_result"]["query_duration"] - 50)
        assert min(late) < 100, late
        # the server answers normally afterwards
        assert wait(http, submit(http, url, NIGHT))["search_result"]["error_condition"] is False


def test_the_synchronous_route_obeys_the_result_memory_while_a_small_search_succeeds(
    archive_path: Path, http: requests.Session
) -> None:
    with serve(archive_path, "--result-memory", "8") as (url, proc):
        answers: dict[str, requests.Response] = {}

        def big() -> None:
            answers["big"] = requests.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": WHOLE})

        threads = [threading.Thread(target=big)]
        threads[0].start()
        small = http.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": SMALL})
        threads[0].join(60)
        assert small.status_code == 200 and len(small.json()) > 0
        refused = answers["big"]
        assert refused.status_code == 413
        message = refused.json()["error_message"]
        assert "more than this server keeps (8,388,608 bytes)" in message and "narrow the time range" in message
        # the same refusal as the asynchronous route
        status = wait(http, submit(http, url, WHOLE))
        assert message.removeprefix("search failed: ") in status["logs"][-1]["summary"]
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as fh:
            peak_kib = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        assert peak_kib < 400 * 1024, peak_kib


def test_concurrent_synchronous_results_together_stay_within_the_result_memory(
    archive_path: Path, http: requests.Session
) -> None:
    # four month-long searches of every source, each ~24 MB, by clients that do not read yet: each
    # answer holds its size of the 60 MB until it is sent (past the few MB the kernel's socket
    # buffers take), so no three are held at once
    week = {"start": "2020-01-01T00:00:00", "end": "2020-01-31T23:59:59", "data_sources": {}}
    with serve(archive_path, "--result-memory", "60") as (url, _proc):
        size = len(http.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": week}).content)
        assert 60 * 1024 * 1024 / 3 < size < 60 * 1024 * 1024 / 2, size
        replies: list[requests.Response] = []
        lock = threading.Lock()

        def hold() -> None:
            reply = requests.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": week}, stream=True)
            with lock:
                replies.append(reply)

        threads = [threading.Thread(target=hold) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        codes = sorted(r.status_code for r in replies)
        refused = [r for r in replies if r.status_code == 413]
        assert codes.count(200) <= 2 and refused, codes  # 3 x ~24 MB would exceed 60 MB
        assert "more than this server keeps (62,914,560 bytes)" in refused[0].json()["error_message"]
        for reply in replies:
            reply.close()
        # once sent (or abandoned), the memory is free again
        time.sleep(0.5)
        assert http.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": week}).status_code == 200


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line and headers, body) of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def test_sigterm_during_heavy_searches_lets_responses_finish_and_exits_within_grace(
    archive_path: Path, http: requests.Session
) -> None:
    # one search process and a queue of heavy searches before the synchronous one: each takes only
    # ~0.1-0.3 s under the limits, so the queue (not one search) is what outlasts the 2 s grace
    with serve(
        archive_path,
        "--shutdown-grace",
        "2",
        "--search-timeout",
        "120",
        "--search-processes",
        "1",
        "--submit-wait",
        "0",
    ) as (
        url,
        proc,
    ):
        done = wait(http, submit(http, url, {**NIGHT, "data_sources": {}}))
        data_path = done["search_result"]["data_uri"]
        fmt = json.dumps({"start": True, "url": True}).encode()
        expected = http.post(url + data_path, data=fmt).json()
        assert len(expected["result"]) > 100
        for _ in range(40):
            submit(http, url, heavy_query())
        # the heavy synchronous search is sent whole from this thread before the signal (a thread of
        # its own could still be connecting when the signal comes, on a loaded machine)
        sync_body = json.dumps({"query": heavy_query()}).encode()
        sync_sock = _connect(url)
        sync_sock.sendall(
            b"POST /api/v1/data_products/search_synchronous HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(sync_body)).encode()
            + b"\r\n\r\n"
            + sync_body
        )
        answers: dict[str, tuple[bytes, bytes]] = {}
        heavy_sync = threading.Thread(target=lambda: answers.update(sync=_read_response(sync_sock)))
        heavy_sync.start()
        # a request in flight at the signal: its body arrives half before, half after
        sock = _connect(url)
        sock.sendall(f"POST {data_path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(fmt)}\r\n\r\n".encode())
        sock.sendall(fmt[:10])
        time.sleep(0.3)
        exited: list[float] = []
        waiter = threading.Thread(target=lambda: (proc.wait(), exited.append(time.monotonic())))
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        waiter.start()
        time.sleep(0.3)
        sock.sendall(fmt[10:])
        head, body = _read_response(sock)
        sock.close()
        heavy_sync.join(30)
        waiter.join(30)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(body) == expected  # the whole answer, not cut
    # the heavy synchronous search was stopped at the end of the grace period, with a reason
    sync_sock.close()
    sync_head, sync_answer = answers["sync"]
    assert sync_head.startswith(b"HTTP/1.1 503"), sync_head
    assert "the search was cancelled" in json.loads(sync_answer)["error_message"]
    assert exited and exited[0] - signalled < 2 + 1, exited[0] - signalled
    assert proc.returncode == 0


def test_a_hostile_host_header_never_reaches_location(archive_path: Path, http: requests.Session) -> None:
    with serve(archive_path, "--public-url", "https://aurorax.example.org") as (url, _proc):
        reply = http.post(f"{url}/api/v1/data_products/search", json=NIGHT, headers={"Host": "evil.example"})
        assert reply.headers["Location"].startswith("https://aurorax.example.org/api/v1/data_products/requests/")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Content-Type"] == "application/json"
    with serve(archive_path) as (url, _proc):
        reply = http.post(f"{url}/api/v1/data_products/search", json=NIGHT, headers={"Host": "evil.example"})
        assert reply.headers["Location"].startswith(f"{url}/api/v1/data_products/requests/")


def test_in_process_the_heaviest_query_stops_within_100_ms_of_its_deadline(archive_path: Path) -> None:
    # the cost model of aurorax_core.query: with the limits, the catalog's own stop check (every
    # 4,096 rows) comes often enough, without the worker's watcher (Python API, dashboard, threads)
    from aurorax_core.backends.catalog import CatalogBackend
    from aurorax_core.errors import SearchTimeout
    from aurorax_core.query import DataProductQuery

    query = DataProductQuery.from_api_payload(heavy_query())
    with CatalogBackend(archive_path, readonly=True) as catalog:
        late = []
        for _ in range(3):  # the best of three: the machine may be shared
            started = time.perf_counter()
            with suppress(SearchTimeout):
                catalog.search_body(query, timeout=0.5)
            late.append(time.perf_counter() - started - 0.5)
    assert min(late) < 0.1, late
