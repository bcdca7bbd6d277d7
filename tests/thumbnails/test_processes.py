"""The cache shared by real processes: whole entries only, the bound kept across processes, no deadlock.

These start real interpreters (``spawn``) on one cache folder, as ``panel serve --num-procs N``,
several ``aurorax-core serve`` and ``thumbnails prefetch`` do on one host.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from aurorax_core import ThumbnailService
from aurorax_core._thumbcache import USAGE_FILE, CacheEntry, DiskCache, cache_key
from aurorax_core.demo.render import render_preview

from ._workers import MAX_PAYLOAD, demo_products

ENTRY_OVERHEAD = 400  # magic, length and JSON header of one entry


def _run_processes(body: str, args: list[tuple[Any, ...]], start: Any, ctx: Any) -> list[dict[str, Any]]:
    queue = ctx.Queue()
    procs = [ctx.Process(target=_target(), args=(queue, i, body, a)) for i, a in enumerate(args)]
    for proc in procs:
        proc.start()
    return _collect(procs, queue, start)


def _target() -> Any:
    from . import _workers

    return _workers.run


def _collect(procs: list[Any], queue: Any, start: Any) -> list[dict[str, Any]]:
    start.set()
    reports: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + 240
    while len(reports) < len(procs) and time.monotonic() < deadline:
        try:
            index, report = queue.get(timeout=1)
        except Exception:
            if not any(p.is_alive() for p in procs):
                break
            continue
        reports[index] = report
    for proc in procs:
        proc.join(timeout=10)
    assert len(reports) == len(procs), f"{len(procs) - len(reports)} processes died without a report"
    return [reports[i] for i in range(len(procs))]


def _on_disk(directory: Path) -> tuple[int, int]:
    """(bytes in entries, bytes in entries plus temporary files being written)."""
    entries = temporary = 0
    for path in directory.rglob("*"):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # evicted or renamed while we looked
        if path.suffix == ".axc":
            entries += size
        elif path.suffix == ".tmp":
            temporary += size
    return entries, entries + temporary


class _Watcher:
    """Samples the folder's size from the test process while the workers run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.peak_entries = self.peak_all = self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            # As any process sees it: a walk of the folder is not atomic (it may count an entry
            # evicted after its shard was visited and its replacement), and writers' temporary files.
            self.peak_all = max(self.peak_all, _on_disk(self.directory)[1])
            # Between two cache operations (the writers' lock held): exactly the entries.
            with self._lock():
                self.peak_entries = max(self.peak_entries, _on_disk(self.directory)[0])
                self.samples += 1
            time.sleep(0.02)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        fd = os.open(self.directory / USAGE_FILE, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_six_processes_writing_and_reading_one_small_cache_see_only_whole_entries_within_the_bound(
    tmp_path: Path,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    writers, keys = 6, 16
    entry_max = MAX_PAYLOAD + ENTRY_OVERHEAD
    bound = 8 * entry_max  # half the keys fit: every few writes evict, same keys are rewritten
    watcher = _Watcher(tmp_path)
    try:
        reports = _run_processes(
            "hammer", [(str(tmp_path), bound, keys, 400, seed, start) for seed in range(writers)], start, ctx
        )
    finally:
        watcher.stop()

    assert [r["error"] for r in reports] == [None] * writers
    assert [r["wrong"] for r in reports] == [[]] * writers  # no truncated entry, no other key's bytes
    assert sum(r["hits"] for r in reports) > 50 and sum(r["stored"] for r in reports) > 500
    assert watcher.samples > 10
    assert watcher.peak_entries <= bound
    # at most one entry per writer in flight, plus one for the walk that is not atomic
    assert watcher.peak_all <= bound + (writers + 1) * entry_max
    entries, everything = _on_disk(tmp_path)
    assert entries == everything <= bound  # no temporary file left behind
    # the shared ledger agrees with the disk, so the next writer starts from the truth
    assert (tmp_path / USAGE_FILE).read_text().split()[1] == str(entries)


def test_four_dashboard_processes_on_one_cold_cache_all_get_the_right_thumbnails(tmp_path: Path) -> None:
    products = demo_products(date(2020, 1, 1), 24)
    expected = {p.url: render_preview(p, size="thumbnail").data for p in products}
    # room for about 16 of the 24 thumbnails: the processes evict each other's entries
    bound = sum(sorted(len(d) + ENTRY_OVERHEAD for d in expected.values())[:16])
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    watcher = _Watcher(tmp_path)
    try:
        reports = _run_processes("demo_page", [(str(tmp_path), bound, start)] * 4, start, ctx)
    finally:
        watcher.stop()

    assert [r["error"] for r in reports] == [None] * 4
    for report in reports:
        for page in report["pages"]:
            assert [url for url, *_ in page] == [p.url for p in products]
            assert all(ok and data == expected[url] for url, ok, _source, data in page)
    sources = [source for r in reports for page in r["pages"] for _u, _ok, source, _d in page]
    assert "cache" in sources  # the processes did share entries
    assert watcher.peak_entries <= bound
    assert _on_disk(tmp_path)[1] <= bound


def test_a_cache_filled_before_the_ledger_existed_is_brought_within_the_bound_by_the_first_write(
    tmp_path: Path,
) -> None:
    """An older cache folder (or one copied in) has no ledger: the first writer counts it, then evicts."""
    big = DiskCache(tmp_path, 10**9)
    for n in range(20):
        url = f"https://data.phys.ucalgary.ca/{n}.jpg"
        assert big.write(
            cache_key("preview", "http", url), CacheEntry(os.urandom(4000), "image/jpeg", 1, 1, url, "http")
        )
    (tmp_path / USAGE_FILE).unlink()
    bound = 10 * (4000 + ENTRY_OVERHEAD)

    small = DiskCache(tmp_path, bound)
    url = "https://data.phys.ucalgary.ca/new.jpg"
    assert small.write(cache_key("preview", "http", url), CacheEntry(os.urandom(4000), "image/jpeg", 1, 1, url, "http"))

    assert _on_disk(tmp_path)[0] <= bound
    assert small.read(cache_key("preview", "http", url), url) is not None  # the new entry is kept


def test_a_reader_that_found_a_corrupt_entry_does_not_delete_the_good_one_published_since(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 10**6)
    url = "https://data.phys.ucalgary.ca/k.jpg"
    key = cache_key("thumbnail", "http", url)
    cache.write(key, CacheEntry(b"first", "image/jpeg", 1, 1, url, "http"))
    old = cache.read(key, url)
    assert old is not None and old.stamp is not None
    cache.write(key, CacheEntry(b"second", "image/jpeg", 1, 1, url, "http"))  # another process, say

    cache.discard(key, old.stamp)  # the stale verdict about the first file

    again = cache.read(key, url)
    assert again is not None and again.data == b"second"
    cache.discard(key, again.stamp)
    assert cache.read(key, url) is None


def test_a_process_killed_while_holding_the_lock_does_not_block_the_others(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(tmp_path / USAGE_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        service = ThumbnailService(tmp_path, allowed_hosts=[])
        product = demo_products(date(2020, 1, 1), 1)[0]
        result: list[Any] = []
        writer = threading.Thread(target=lambda: result.append(service.thumbnail(product)), daemon=True)
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive()  # it waits for the lock, as it should
        holder.send_signal(signal.SIGKILL)
        writer.join(timeout=60)
        assert not writer.is_alive() and result[0].ok
        assert service.thumbnail(product).source == "cache"
    finally:
        holder.kill()
        holder.wait(timeout=10)
