"""Take it home: catalog sync from a local server, an incremental no-op sync, downloads, the basket.

Targets from the issue: sync from a local ``aurorax-core serve`` >= 20,000 records/s end to end (an
empty catalog, one month of the demo archive: every TREx, THEMIS, REGO ... imager); a second,
incremental sync of the unchanged month <= 1 s; 500 small files from a local server >= 50 files/s
with parallelism 8; the basket with 5,000 products (grouping per dataset + localStorage JSON both
ways, what the basket view does) <= 500 ms. The server is ``aurorax-core serve`` in its own process
(default options) on the same machine.

Run: ``python -m bench takehome`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.backends.remote import RemoteBackend
from aurorax_core.basket import Basket
from aurorax_core.demo import build_demo_archive
from aurorax_core.download import Downloader
from aurorax_core.models import DataProduct, DataSource
from aurorax_core.sync import sync_catalog

from ._harness import Row, free_port, measure
from .bench_basket_view import products as basket_products


def _serve(catalog: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """``aurorax-core serve`` over ``catalog`` in its own process, as a user runs it."""
    port = free_port()
    cmd = [sys.executable, "-m", "aurorax_core", "--catalog", str(catalog), "serve", "--port", str(port)]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return url, child
        except requests.RequestException:
            pass
        time.sleep(0.05)
    child.kill()
    raise RuntimeError("aurorax-core serve did not start")


def _sync_rows(work: Path, quick: bool) -> list[Row]:
    last = date(2020, 1, 3) if quick else date(2020, 1, 31)
    upstream = work / "upstream.sqlite"
    build_demo_archive(upstream, date(2020, 1, 1), last)
    url, server = _serve(upstream)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=UTC)
    rates, cpu_rates, records, noop = [], [], 0, []
    try:
        for attempt in range(2 if quick else 5):
            local = CatalogBackend(work / f"local-{attempt}.sqlite")
            remote = RemoteBackend(url)
            cpu = time.process_time()
            report = sync_catalog(local, remote, start, end)
            rates.append(report.records_fetched / report.seconds)
            cpu_rates.append(report.records_fetched / max(time.process_time() - cpu, 1e-9))
            records = report.records_fetched
            for _ in range(3 if quick else 5):
                t0 = time.perf_counter()
                again = sync_catalog(local, remote, start, end)
                noop.append(time.perf_counter() - t0)
                assert again.chunks_written == 0
            local.close()
            remote.close()
    finally:
        server.terminate()
        server.wait(10)
    return [
        Row(
            "sync into an empty catalog",
            statistics.median(rates),
            "records/s",
            20_000,
            True,
            f"{records:,} records of {(last - date(2020, 1, 1)).days + 1} days, median of {len(rates)}; "
            f"client CPU {statistics.median(cpu_rates):,.0f} records per CPU-second (load-independent)",
        ),
        Row("incremental sync of the unchanged range", statistics.median(noop) * 1000, "ms", 1000, False, ""),
    ]


class _Files(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = bytes(range(256)) * 8  # 2 kB

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def _download_rows(work: Path, quick: bool) -> list[Row]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    source = DataSource(103, "trex", "gillam", "RGB ASI")
    base = datetime(2020, 1, 1, tzinfo=UTC)
    n = 100 if quick else 500
    products = [
        DataProduct(
            source, "keogram", base + timedelta(minutes=i), base + timedelta(minutes=i + 1), f"http://{host}/f/{i}.jpg"
        )
        for i in range(n)
    ]
    rates = []
    try:
        for attempt in range(2 if quick else 5):
            downloader = Downloader(work / f"dl-{attempt}", allowed_hosts=[host], parallel=8)
            report = downloader.run(products)
            assert report.ok, report.summary()
            rates.append(n / report.seconds)
    finally:
        server.shutdown()
        server.server_close()
    return [Row(f"download {n} files of 2 kB, parallel 8", statistics.median(rates), "files/s", 50, True, "")]


def _basket_rows(quick: bool) -> list[Row]:
    products = basket_products(5000)

    def view() -> None:
        basket = Basket().add(products)
        basket.groups()
        Basket.from_json(basket.to_json())

    timing = measure(view, repeat=3 if quick else 10, warmup=1)
    return [Row("basket of 5,000: add, group per dataset, JSON both ways", timing["median"], "ms", 500, False, "")]


def run(quick: bool = False) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-takehome-") as tmp:
        work = Path(tmp)
        return [*_sync_rows(work, quick), *_download_rows(work, quick), *_basket_rows(quick)]
