"""Process bodies for the multi-process cache tests (a module of their own: ``spawn`` imports it)."""

from __future__ import annotations

import random
import traceback
from datetime import date
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from aurorax_core._thumbcache import CacheEntry, DiskCache, cache_key

MAX_PAYLOAD = 6000


def payload(key_number: int, version: int) -> bytes:
    """The bytes for one (key, version): every reader can tell which entry it got and that it is whole."""
    rng = random.Random(f"{key_number}/{version}")
    head = f"{key_number}|{version}|".encode()
    return head + rng.randbytes(rng.randint(1500, MAX_PAYLOAD) - len(head))


def hammer(directory: str, bound: int, keys: int, operations: int, seed: int, start: Event) -> dict[str, Any]:
    """Write and read random keys of one small set; report what was read that was not what was written."""
    rng = random.Random(seed)
    cache = DiskCache(Path(directory), bound)
    report: dict[str, Any] = {"wrong": [], "reads": 0, "hits": 0, "writes": 0, "stored": 0, "error": None}
    start.wait(30)
    try:
        for _ in range(operations):
            number = rng.randrange(keys)
            url = f"https://data.phys.ucalgary.ca/thumbs/{number}.jpg"
            key = cache_key("thumbnail", "http", url)
            if rng.random() < 0.5:
                data = payload(number, rng.randrange(10**6))
                report["stored"] += cache.write(key, CacheEntry(data, "image/jpeg", 240, 86, url, "http"))
                report["writes"] += 1
                continue
            entry = cache.read(key, url)
            report["reads"] += 1
            if entry is None:
                continue
            report["hits"] += 1
            got_number, version, _ = entry.data.split(b"|", 2)
            if int(got_number) != number or entry.data != payload(number, int(version)):
                report["wrong"].append((number, len(entry.data)))
    except BaseException:
        report["error"] = traceback.format_exc()
    return report


def demo_page(directory: str, bound: int, start: Event) -> dict[str, Any]:
    """One dashboard process: a page of 24 demo thumbnails through the shared cache, twice."""
    from aurorax_core import ThumbnailService

    products = demo_products(date(2020, 1, 1), 24)
    report: dict[str, Any] = {"pages": [], "error": None}
    start.wait(30)
    try:
        service = ThumbnailService(directory, max_cache_bytes=bound, allowed_hosts=[])
        for _ in range(2):
            report["pages"].append([(p.url, p.ok, p.source, p.data) for p in service.thumbnails(products)])
    except BaseException:
        report["error"] = traceback.format_exc()
    return report


def demo_products(day: date, count: int) -> list[Any]:
    """The first keograms and montages of one demo night (what a results page shows first)."""
    from aurorax_core import DataProduct
    from aurorax_core.demo.archive import generate_demo_records

    products = []
    for record in generate_demo_records(day, day):
        product = DataProduct.from_api_dict(record)
        if product.data_product_type in ("keogram", "montage"):
            products.append(product)
        if len(products) == count:
            break
    return products


def run(queue: Queue[tuple[int, dict[str, Any]]], index: int, body: str, args: tuple[Any, ...]) -> None:
    """Process entry point: run ``body`` and send its report back tagged with ``index``."""
    queue.put((index, globals()[body](*args)))
