"""Thumbnails: warm-cache hits and cold pages of 24 (demo renderer and a local HTTP image server).

Targets from the issue: a thumbnail from the warm cache <= 5 ms (median); cold thumbnails for a
page of 24 results <= 1.5 s in total. The HTTP figures use a stdlib server on 127.0.0.1 serving
JPEGs of the real archive's sizes (REAL_DATA §2.3: THEMIS daily keograms about 17 kB, keogram
examples 65-100 kB at 720x256 / 600x256), so they measure our fetch-verify-resize-cache path, not
the network. The demo figures measure the demo renderer plus the cache.

Run: ``python -m bench thumbnails`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import io
import tempfile
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from aurorax_core import DataProduct, DataSource, ThumbnailService

from ._harness import Row, measure

PAGE = 24


def _jpeg(width: int, height: int, seed: int, noise: float, quality: int) -> bytes:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(10, 190, width, dtype=np.float32)[None, :]
    pixels = np.clip(ramp + rng.normal(0, noise, (height, width)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _realistic_images(count: int) -> list[bytes]:
    """Daily 720x256 keograms of ~17 kB, ~65 kB, and hourly 600x256 ones of ~100 kB, in turn."""
    shapes = [(720, 256, 6.0, 80), (720, 256, 18.0, 88), (600, 256, 30.0, 92)]
    return [_jpeg(*shapes[i % 3][:2], seed=i, noise=shapes[i % 3][2], quality=shapes[i % 3][3]) for i in range(count)]


class _Server:
    def __init__(self, images: list[bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                n = int(self.path.rsplit("/", 1)[1].split(".")[0])
                body = images[n]
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _http_products(host: str, count: int) -> list[DataProduct]:
    source = DataSource(1, "themis-asi", "gillam", "panchromatic ASI")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    return [
        DataProduct(source, "keogram", start, start, f"http://{host}/keograms/{n}.jpg", {"keogram_type": "daily"})
        for n in range(count)
    ]


def _demo_products(count: int) -> list[DataProduct]:
    """The first results of a typical demo search: keograms and montages of one night."""
    from aurorax_core.demo.archive import generate_demo_records

    products = []
    for record in generate_demo_records(date(2020, 1, 1), date(2020, 1, 1)):
        product = DataProduct.from_api_dict(record)
        if product.data_product_type in ("keogram", "montage"):
            products.append(product)
        if len(products) == count:
            break
    return products


def _cold_page(products: list[DataProduct], root: Path, repeat: int, **options: object) -> dict[str, float]:
    """Median wall time of a page of thumbnails, each run on a fresh, empty cache."""
    runs = iter(range(10_000))

    def page() -> None:
        service = ThumbnailService(root / f"cold-{next(runs)}", **options)  # type: ignore[arg-type]
        previews = service.thumbnails(products, max_workers=6)
        failed = [p.reason for p in previews if not p.ok]
        if failed:
            raise RuntimeError(f"benchmark page had failures: {failed[:3]}")

    return measure(page, repeat=repeat, warmup=1)


def run(quick: bool) -> list[Row]:
    repeat_warm = 50 if quick else 300
    repeat_cold = 2 if quick else 7
    rows: list[Row] = []
    images = _realistic_images(PAGE)
    sizes = sorted(len(b) for b in images)
    server = _Server(images)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-thumbs-") as tmp:
            root = Path(tmp)
            http_products = _http_products(server.host, PAGE)
            demo_products = _demo_products(PAGE)

            cold_http = _cold_page(http_products, root, repeat_cold, allowed_hosts=[server.host])
            rows.append(
                Row(
                    "cold page of 24 thumbnails, HTTP (127.0.0.1)",
                    cold_http["median"],
                    "ms",
                    1500,
                    note=f"JPEGs {sizes[0] / 1000:.0f}-{sizes[-1] / 1000:.0f} kB, 6 workers, fresh cache per run",
                )
            )
            cold_demo = _cold_page(demo_products, root, repeat_cold)
            rows.append(
                Row(
                    "cold page of 24 thumbnails, demo renderer",
                    cold_demo["median"],
                    "ms",
                    1500,
                    note="keograms and montages of 2020-01-01, 6 workers, fresh cache per run",
                )
            )

            # Reference: the renderer alone, one record after another, no cache and no threads.
            from aurorax_core.demo.render import render_preview

            renderer_only = measure(
                lambda: [render_preview(p, size="thumbnail") for p in demo_products], repeat=1, warmup=0
            )
            rows.append(
                Row(
                    "  reference: render_preview(thumbnail) x 24, sequential",
                    renderer_only["median"],
                    "ms",
                    None,
                    note="the demo renderer's own time: the cold demo page cannot be faster than this / cores",
                )
            )

            warm = ThumbnailService(root / "warm", allowed_hosts=[server.host])
            warm.thumbnails(http_products)
            warm.thumbnails(demo_products)
            for label, products in (("HTTP", http_products), ("demo", demo_products)):
                cycle = iter(range(10**9))

                def hit(products: list[DataProduct] = products, cycle=cycle) -> None:
                    preview = warm.thumbnail(products[next(cycle) % PAGE])
                    if preview.source != "cache":
                        raise RuntimeError("expected a cache hit")

                stats = measure(hit, repeat=repeat_warm, warmup=5)
                rows.append(
                    Row(
                        f"thumbnail from the warm cache ({label})",
                        stats["median"],
                        "ms",
                        5,
                        note=f"p95 {stats['p95']:.2f} ms; read + SHA-256 check + LRU touch",
                    )
                )
            page_warm = measure(lambda: warm.thumbnails(http_products), repeat=max(5, repeat_warm // 20), warmup=1)
            rows.append(Row("warm page of 24 thumbnails (HTTP)", page_warm["median"], "ms", None))
    finally:
        server.close()
    return rows
