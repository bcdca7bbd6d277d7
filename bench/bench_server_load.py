"""Server load: 50 concurrent clients each running the whole search lifecycle for one-night queries.

Each client keeps one HTTP/1.1 connection (``http.client`` in a thread; the 50 clients are spread
over 5 load-generator processes; no tornado/aiohttp in the load generator) and loops: POST the
search, GET the status until ``data_uri`` is set (10 ms between polls), GET the data and decode it.
The server runs in a separate process (``aurorax-core serve``) so the load generator does not share
its GIL; both share this machine's cores (and other people's jobs), so the figures are a lower
bound for a dedicated server. Queries: one data source (random ground imager with data), one
random night of the demo archive (January 2020). Both server modes are measured in turn: searches
in worker processes (the default: one per CPU, up to 4) and in threads (``--search-processes 0``).
Reported per mode: completed searches/s, errors, p50/p95 latency of a whole search, and the
server's RSS (main process, where the results are kept; each search process adds ~35 MiB) after
warm-up and sampled over the second half of the run.

A third run repeats the default mode beside the heavy-query attack of issue 12: an attacker without a
key sends, every 0.5 s, four asynchronous searches of the most expensive query the limits allow (the
whole catalog, every record compared with all MAX_FILTER_VALUES values, largest lists and strings)
and cancels each at once; the 50 clients' p95 must stay <= 500 ms."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from ._harness import Row

CLIENTS = 50

# --- shared with bench_protocol: a demo catalog on disk and an `aurorax-core serve` subprocess ---

BENCH_DATA = Path(__file__).resolve().parents[1] / ".bench-data"
# The demo archive's default nights (the auroramax/TREx days pyaurorax's tests use are included).
DEMO_START = date(2020, 1, 1)
DEMO_END = date(2020, 1, 31)


def demo_catalog(end: date = DEMO_END) -> Path:
    """A demo catalog from DEMO_START to ``end`` (default: January 2020) under .bench-data/ (built
    once, reused; rebuilt when stale)."""
    from aurorax_core.backends.catalog import CatalogBackend
    from aurorax_core.demo import build_demo_archive
    from aurorax_core.errors import CatalogError

    path = BENCH_DATA / f"server-bench-{DEMO_START:%Y%m%d}-{end:%Y%m%d}.sqlite"
    if path.exists():
        try:
            CatalogBackend(path, readonly=True).close()
        except CatalogError:  # written by an older schema version: build it again
            path.unlink()
    if not path.exists():
        BENCH_DATA.mkdir(parents=True, exist_ok=True)
        build_demo_archive(path, DEMO_START, end)  # builds aside and moves into place atomically
    return path


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/<pid>/status."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


@contextmanager
def server_process(catalog: Path, *, workers: int = 4, extra: tuple[str, ...] = ()) -> Iterator[tuple[str, int]]:
    """Run ``aurorax-core --catalog CATALOG serve --port 0`` and yield (base URL, pid)."""
    cmd = [
        sys.executable,
        "-m",
        "aurorax_core",
        "--catalog",
        str(catalog),
        "serve",
        "--port",
        "0",
        "--workers",
        str(workers),
        *extra,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            match = re.search(r"at (http://\S+)$", line.strip())
            if match:
                url = match.group(1)
                break
        if url is None:
            raise RuntimeError(f"the server did not start (exit code {proc.poll()})")
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _queries(url: str) -> list[dict[str, object]]:
    """One-night, one-source queries over the sources that have data in the demo range."""
    host = urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.request(
        "GET",
        f"/api/v1/availability/data_products?start={DEMO_START}&end={DEMO_END}&format=basic_info",
        body=b"{}",
        headers={"content-type": "application/json"},
    )
    items = json.loads(conn.getresponse().read())
    conn.close()
    queries = []
    for item in items:
        source = item["data_source"]
        for day, count in item["available_data_products"].items():
            if count:
                queries.append(
                    {
                        "data_sources": {
                            "programs": [source["program"]],
                            "platforms": [source["platform"]],
                            "instrument_types": [source["instrument_type"]],
                            "data_product_metadata_filters": {},
                        },
                        "start": f"{day}T00:00:00",
                        "end": f"{day}T23:59:59",
                        "data_product_type_filters": [],
                    }
                )
    if not queries:
        raise RuntimeError("the demo catalog has no data products in its range")
    return queries


class Client(threading.Thread):
    def __init__(self, url: str, queries: list[dict[str, object]], stop_at: float, seed: int) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.queries = queries
        self.stop_at = stop_at
        self.rng = random.Random(seed)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.records = 0
        self.conn: http.client.HTTPConnection | None = None

    def _call(self, method: str, path: str, body: bytes = b"{}") -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers={"content-type": "application/json"})
                resp = self.conn.getresponse()
                return resp.status, dict(resp.getheaders()), resp.read()
            except (ConnectionError, http.client.HTTPException):
                # a kept-alive connection the server closed (idle timeout): reconnect once
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def one_search(self) -> None:
        query = json.dumps(self.rng.choice(self.queries)).encode()
        started = time.perf_counter()
        status, headers, _ = self._call("POST", "/api/v1/data_products/search", query)
        if status != 202:
            raise RuntimeError(f"submit answered {status}")
        path = urlsplit(headers["Location"]).path
        while True:
            status, headers, body = self._call("GET", path)
            if status != 200 or headers.get("Content-Type") != "application/json":
                raise RuntimeError(f"status answered {status}")
            result = json.loads(body)["search_result"]
            if result["data_uri"] is not None:
                break
            time.sleep(0.01)
        if result["error_condition"]:
            raise RuntimeError("search failed")
        status, headers, body = self._call("GET", path + "/data")
        if status != 200:
            raise RuntimeError(f"data answered {status}")
        records = json.loads(body)["result"]
        if len(records) != result["result_count"]:
            raise RuntimeError("record count differs from the status")
        self.latencies.append(time.perf_counter() - started)
        self.records += len(records)

    def run(self) -> None:
        while time.perf_counter() < self.stop_at:
            try:
                self.one_search()
            except Exception as exc:  # counted, reported
                self.errors.append(f"{type(exc).__name__}: {exc}")
        if self.conn is not None:
            self.conn.close()


def _client_batch(
    url: str, queries: list[dict[str, object]], start_at: float, seconds: float, seeds: list[int]
) -> tuple[list[float], list[str], int]:
    """One load-generator process: a thread per client, all starting at the wall-clock ``start_at``."""
    time.sleep(max(0.0, start_at - time.time()))
    stop_at = time.perf_counter() + seconds
    threads = [Client(url, queries, stop_at, seed) for seed in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (
        [x for t in threads for x in t.latencies],
        [e for t in threads for e in t.errors],
        sum(t.records for t in threads),
    )


def _load(
    url: str, queries: list[dict[str, object]], seconds: float, clients: int, processes: int = 5
) -> dict[str, float]:
    """``clients`` clients spread over ``processes`` load-generator processes.

    Real clients are separate programs; 50 client threads in ONE Python process would measure that
    process's own GIL queue (every wake-up from recv waits for the GIL) as server latency.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    processes = max(1, min(processes, clients))
    seeds = [list(range(i, clients, processes)) for i in range(processes)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        list(pool.map(time.sleep, [0.0] * processes))  # start every worker before the clock runs
        start_at = time.time() + 0.5
        futures = [pool.submit(_client_batch, url, queries, start_at, seconds, batch) for batch in seeds]
        results = [f.result() for f in futures]
    latencies = sorted(x for r in results for x in r[0])
    errors = [e for r in results for e in r[1]]
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))] if latencies else float("nan")
    return {
        "searches": float(len(latencies)),
        "rate": len(latencies) / seconds,
        "errors": float(len(errors)),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p95_ms": 1000 * p95,
        "records": float(sum(r[2] for r in results)),
        "first_error": errors[0] if errors else "",  # type: ignore[dict-item]
    }


def heavy_query() -> dict[str, object]:
    """The most expensive query the limits of aurorax_core.query allow, over the whole bench catalog."""
    from aurorax_core import query as limits

    per = limits.MAX_FILTER_VALUES // limits.MAX_METADATA_EXPRESSIONS
    expressions: list[dict[str, object]] = [
        {"key": "imaging_start_time", "operator": "in", "values": [f"{i}.{k}" for k in range(per)]}
        for i in range(limits.MAX_METADATA_EXPRESSIONS)
    ]
    spare = limits.MAX_FILTER_VALUES - per * limits.MAX_METADATA_EXPRESSIONS
    expressions[-1]["values"] = [f"8.{k}" for k in range(per + spare - 1)] + ["9" * limits.MAX_VALUE_LENGTH]
    programs = ["themis-asi", "trex", "rego", "auroramax", "rainbow", "campaigns", "unis/kho", "events"]
    filler = [f"{i:03d}".ljust(limits.MAX_NAME_LENGTH, "z") for i in range(limits.MAX_LIST_ENTRIES)]
    return {
        "start": f"{DEMO_START}T00:00:00",
        "end": f"{DEMO_END}T23:59:59",
        "data_sources": {
            "programs": (programs + filler)[: limits.MAX_LIST_ENTRIES],
            "data_product_metadata_filters": {"expressions": expressions, "logical_operator": "OR"},
        },
    }


class Attacker(threading.Thread):
    """Every 0.5 s: four heavy asynchronous searches, each cancelled at once (DELETE)."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.stop = stop
        self.body = json.dumps(heavy_query()).encode()
        self.sent = 0
        self.refused = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        while not self.stop.wait(0.5):
            for _ in range(4):
                conn.request("POST", "/api/v1/data_products/search", body=self.body)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 202:
                    self.refused += 1
                    continue
                self.sent += 1
                conn.request("DELETE", urlsplit(resp.getheader("Location") or "").path, body=b"{}")
                conn.getresponse().read()
        conn.close()


def _one_mode(catalog: Path, seconds: float, label: str, extra: tuple[str, ...], attack: bool = False) -> list[Row]:
    with server_process(catalog, workers=4, extra=extra) as (url, pid):
        queries = _queries(url)
        _load(url, queries, 2.0, 10)  # warm-up: imports, SQLite page cache
        stop_attack = threading.Event()
        attacker = Attacker(url, stop_attack)
        if attack:
            attacker.start()
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            t0 = time.perf_counter()
            while not done.wait(seconds / 12):
                samples.append((time.perf_counter() - t0, rss_kib(pid)[0]))

        sampler = threading.Thread(target=sample, daemon=True)
        rss_start, _ = rss_kib(pid)
        sampler.start()
        stats = _load(url, queries, seconds, CLIENTS)
        done.set()
        stop_attack.set()
        sampler.join()
        if attack:
            attacker.join()
        rss_end, hwm = rss_kib(pid)
    half = [kib for t, kib in samples if t >= seconds / 2] or [rss_end]
    note = f"{CLIENTS} clients, {seconds:g} s, {int(stats['searches'])} searches, one source x one night; {label}"
    first_error = str(stats["first_error"])
    if attack:
        note += f"; attack: {attacker.sent} heavy searches submitted and cancelled ({attacker.refused} refused)"
    return [
        Row(f"[{label}] completed searches/s", stats["rate"], "searches/s", 150, higher_is_better=True, note=note),
        Row(f"[{label}] errors", stats["errors"], "errors", note=first_error[:80] if first_error else "none"),
        Row(f"[{label}] latency p50 (submit -> records)", stats["p50_ms"], "ms"),
        Row(f"[{label}] latency p95 (submit -> records)", stats["p95_ms"], "ms", 500 if attack else 200),
        Row(f"[{label}] server RSS after warm-up", rss_start / 1024, "MiB"),
        Row(
            f"[{label}] server RSS over the second half",
            max(half) / 1024,
            "MiB",
            note=f"min {min(half) / 1024:.0f} MiB, end {rss_end / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB "
            "(the registry keeps <= 5000 requests / 256 MB of results)",
        ),
    ]


def run(quick: bool) -> list[Row]:
    seconds = 10.0 if quick else 60.0
    catalog = demo_catalog()
    from aurorax_core.cli.serve import default_search_processes

    default = f"search processes (default, {default_search_processes()} here)"
    rows = _one_mode(catalog, seconds, default, ())
    rows += _one_mode(catalog, seconds, "threads (--search-processes 0)", ("--search-processes", "0"))
    rows += _one_mode(catalog, seconds, "search processes + heavy-query attack", (), attack=True)
    return rows
