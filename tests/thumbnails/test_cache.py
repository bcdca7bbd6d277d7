"""The disk cache: warm hits, corrupt entries rebuilt, the size bound (LRU), single flight, batches."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aurorax_core import ThumbnailService

from .conftest import product
from .servers import OK_JPEG, ImageServer


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.axc"))


def test_a_warm_thumbnail_comes_from_the_cache_without_a_request(
    service: ThumbnailService, server: ImageServer
) -> None:
    record = product(server.url("/ok.jpg"))
    cold = service.thumbnail(record)
    warm = service.thumbnail(record)

    assert cold.source == "http" and warm.source == "cache"
    assert warm.data == cold.data and (warm.width, warm.height) == (cold.width, cold.height)
    assert server.hits("/ok.jpg") == 1


def test_the_cache_survives_a_new_service_and_is_shared_between_instances(
    make_service: Callable[..., ThumbnailService], server: ImageServer
) -> None:
    record = product(server.url("/ok.jpg"))
    assert make_service(server.host).preview(record).source == "http"

    again = make_service(server.host).preview(record)
    assert again.source == "cache" and again.data == OK_JPEG
    assert server.hits("/ok.jpg") == 1


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "garbage", "empty"])
def test_a_corrupt_cache_entry_is_detected_and_rebuilt(
    service: ThumbnailService, server: ImageServer, damage: str
) -> None:
    record = product(server.url("/ok.jpg"))
    assert service.preview(record).ok
    (entry,) = _entries(service.cache_dir)
    raw = entry.read_bytes()
    if damage == "flip_byte":
        damaged = raw[:-100] + bytes([raw[-100] ^ 0xFF]) + raw[-99:]
    elif damage == "truncate":
        damaged = raw[: len(raw) // 2]
    elif damage == "garbage":
        damaged = os.urandom(len(raw))
    else:
        damaged = b""
    entry.write_bytes(damaged)

    rebuilt = service.preview(record)

    assert rebuilt.ok and rebuilt.source == "http" and rebuilt.data == OK_JPEG
    assert server.hits("/ok.jpg") == 2
    whole = entry.read_bytes()  # the entry on disk is whole again
    assert whole.startswith(b"AXTHUMB1") and whole.endswith(OK_JPEG)
    assert service.preview(record).source == "cache"


def test_an_entry_is_only_served_for_its_own_url(service: ThumbnailService, server: ImageServer) -> None:
    first, second = product(server.url("/same/1.jpg")), product(server.url("/same/2.jpg"))
    service.preview(first)
    service.preview(second)
    # swap the two files on disk: each now holds the other URL's bytes and header
    (a, b) = _entries(service.cache_dir)
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(raw_b)
    b.write_bytes(raw_a)

    assert service.preview(first).source == "http"
    assert service.preview(second).source == "http"


def test_the_size_bound_evicts_the_least_recently_used(
    make_service: Callable[..., ThumbnailService], server: ImageServer, tmp_path: Path
) -> None:
    records = [product(server.url(f"/img/{n}.jpg")) for n in range(8)]
    probe = make_service(server.host, cache_dir=tmp_path / "probe")
    entry_size = max(len(probe.preview(r).data or b"") for r in records[:4]) + 400  # + header
    bound = int(entry_size * 3.5)  # room for three entries
    service = make_service(server.host, max_cache_bytes=bound)

    for record in records[:3]:
        assert service.preview(record).source == "http"
        time.sleep(0.02)  # distinct modification times
    assert service.preview(records[0]).source == "cache"  # records[0] is now the most recently used
    time.sleep(0.02)
    assert service.preview(records[3]).source == "http"  # over the bound: something must go

    assert service.cache_info()["bytes"] <= bound
    assert service.preview(records[0]).source == "cache"  # used recently: kept
    assert service.preview(records[1]).source == "http"  # least recently used: evicted

    for record in records:
        service.preview(record)
        assert service.cache_info()["bytes"] <= bound


def test_an_unwritable_cache_still_gives_previews(
    make_service: Callable[..., ThumbnailService], server: ImageServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    service = make_service(server.host, cache_dir=blocker / "cache")

    result = service.thumbnail(product(server.url("/ok.jpg")))
    assert result.ok and result.width == 240
    assert service.cache_info()["writable"] is False


def test_ten_threads_asking_for_the_same_url_cause_one_request(service: ThumbnailService, server: ImageServer) -> None:
    record = product(server.url("/slow.jpg"))  # the server takes 0.4 s to answer
    barrier = threading.Barrier(10)
    results = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        preview = service.thumbnail(record)
        with lock:
            results.append(preview)

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == 10 and all(r.ok for r in results)
    assert len({r.data for r in results}) == 1
    assert server.hits("/slow.jpg") == 1


def test_sessions_with_separate_services_on_one_cache_still_get_whole_entries(
    make_service: Callable[..., ThumbnailService], server: ImageServer
) -> None:
    """Different service instances (think: processes) may each fetch, but never see half an entry."""
    services = [make_service(server.host) for _ in range(4)]
    record = product(server.url("/slow.jpg"))
    results = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.preview(record))) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert [r.data == OK_JPEG for r in results] == [True] * 4
    assert len(_entries(services[0].cache_dir)) == 1
    assert services[0].preview(record).source == "cache"
    assert not list(services[0].cache_dir.rglob("*.tmp"))


def test_a_page_of_thumbnails_keeps_the_order(service: ThumbnailService, server: ImageServer) -> None:
    records = [product(server.url(f"/img/{n}.jpg")) for n in range(24)]
    records.insert(5, product(server.url("/missing.jpg")))

    page = service.thumbnails(records, max_workers=6)

    assert [p.url for p in page] == [r.url for r in records]
    assert not page[5].ok and page[5].reason == "the server answered 404 Not Found"
    ok = [p for p in page if p.ok]
    # /img/<n>.jpg is 480 x (100 + 4n) px, so its 240 px thumbnail is (50 + 2n) px high
    assert [p.height for p in ok] == [50 + 2 * n for n in range(24)]
    assert all(p.width == 240 for p in ok)
    again = service.thumbnails(records)
    assert [p.source for p in again if p.ok] == ["cache"] * 24


def test_a_batch_refuses_things_that_are_not_products(service: ThumbnailService) -> None:
    with pytest.raises(TypeError, match="expected a DataProduct"):
        service.thumbnails(["http://example.org/x.jpg"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="kind must be one of"):
        service.prefetch([], kinds=("poster",))


def test_clear_cache_empties_the_folder(service: ThumbnailService, server: ImageServer) -> None:
    service.thumbnail(product(server.url("/ok.jpg")))
    assert service.cache_info()["entries"] == 2  # the thumbnail and the original it was made from
    assert service.clear_cache() == 2
    assert service.cache_info()["entries"] == 0
    assert service.thumbnail(product(server.url("/ok.jpg"))).source == "http"


def test_a_whole_but_wrong_entry_is_not_served(service: ThumbnailService, server: ImageServer) -> None:
    """An entry with a valid checksum but an unservable type (planted, or from another version) is rebuilt."""
    from aurorax_core._thumbcache import CacheEntry, cache_key

    record = product(server.url("/ok.jpg"))
    key = cache_key("preview", "http", record.url)
    planted = CacheEntry(b"<script>alert(1)</script>", "text/html", None, None, record.url, "http")
    assert service._cache.write(key, planted)

    result = service.preview(record)
    assert result.ok and result.source == "http" and result.content_type == "image/jpeg"
    assert result.data == OK_JPEG
