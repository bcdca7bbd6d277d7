"""The request registry: the lifecycle documents and the memory bounds (TTL, entries, bytes)."""

from __future__ import annotations

import pytest

from aurorax_core import DataProductQuery
from aurorax_core.server import CANCEL_LOG, RequestRegistry
from aurorax_core.server.registry import RequestLimitReached

QUERY = DataProductQuery(start="2020-01-01T00:00:00", end="2020-01-01T23:59:59", programs=["auroramax"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _complete(registry: RequestRegistry, size: int = 10) -> str:
    entry = registry.create(QUERY)
    assert registry.complete(entry, b"x" * size, 1, 5, [("info", "done")])
    return entry.request_id


def test_pending_status_has_every_result_field_null_and_the_query_echoed() -> None:
    registry = RequestRegistry()
    entry = registry.create(QUERY)
    doc = entry.status_document()
    assert set(doc["search_result"]) == {
        "completed_timestamp",
        "data_uri",
        "error_condition",
        "file_size",
        "query_duration",
        "result_count",
        "result_file_deleted_timestamp",
    }
    assert all(value is None for value in doc["search_result"].values())
    assert doc["logs"][0]["summary"] == "Search request arrived and saved"
    query = doc["search_request"]["query"]
    assert query["request_id"] is None
    assert query["data_sources"]["data_product_metadata_filters"] == {"expressions": [], "logical_operator": "AND"}
    assert doc["search_request"]["request_type"] == "data_product"


def test_cancel_sets_error_condition_data_uri_and_last_log() -> None:
    registry = RequestRegistry()
    entry = registry.create(QUERY)
    registry.cancel(entry.request_id)
    doc = entry.status_document()["search_result"]
    assert doc["error_condition"] is True
    assert doc["data_uri"] == f"/api/v1/data_products/requests/{entry.request_id}/data"
    assert doc["completed_timestamp"] is not None
    assert entry.status_document()["logs"][-1]["summary"] == CANCEL_LOG
    assert entry.cancel.cancelled
    # a result arriving after the cancel is dropped
    assert not registry.complete(entry, b"{}", 0, 1, [])
    assert registry.pending == 0


def test_cancel_of_a_finished_search_changes_nothing() -> None:
    registry = RequestRegistry()
    request_id = _complete(registry)
    entry = registry.cancel(request_id)
    assert entry.status_document()["search_result"]["error_condition"] is False
    assert entry.status_document()["logs"][-1]["summary"] == "done"


def test_failure_is_reported_in_the_last_log_line() -> None:
    registry = RequestRegistry()
    entry = registry.create(QUERY)
    registry.fail(entry, "Search failed: catalog is gone")
    doc = entry.status_document()
    assert doc["search_result"]["error_condition"] is True
    assert doc["search_result"]["data_uri"] is not None
    assert doc["logs"][-1] == {**doc["logs"][-1], "level": "error", "summary": "Search failed: catalog is gone"}


def test_finished_requests_expire_after_the_ttl_with_a_clear_message() -> None:
    clock = Clock()
    registry = RequestRegistry(ttl=60, clock=clock)
    request_id = _complete(registry)
    clock.now += 59
    assert registry.get(request_id).request_id == request_id
    clock.now += 2
    with pytest.raises(KeyError, match="expired"):
        registry.get(request_id)
    with pytest.raises(KeyError, match="not found"):
        registry.get("00000000-0000-4000-8000-000000000000")
    assert registry.total_bytes == 0


def test_entry_and_byte_limits_evict_the_oldest_finished_first() -> None:
    registry = RequestRegistry(max_entries=5, max_bytes=100, max_pending=2)
    ids = [_complete(registry, size=10) for _ in range(20)]
    assert len(registry) == 5
    for old in ids[:15]:
        with pytest.raises(KeyError, match="expired"):
            registry.get(old)
    big = [_complete(registry, size=40) for _ in range(3)]
    assert registry.total_bytes <= 100
    assert registry.get(big[-1]).result == b"x" * 40


def test_pending_searches_are_never_evicted_and_are_bounded() -> None:
    registry = RequestRegistry(max_entries=3, max_pending=2)
    first = registry.create(QUERY)
    for _ in range(10):
        _complete(registry)
    assert len(registry) == 3
    assert registry.get(first.request_id) is first
    assert not first.finished
    registry.create(QUERY)
    with pytest.raises(RequestLimitReached, match="retry"):
        registry.create(QUERY)


@pytest.mark.parametrize("bad", [{"ttl": 0}, {"max_entries": 0}, {"max_bytes": 0}, {"max_pending": 0}])
def test_limits_must_be_positive(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestRegistry(**bad)  # type: ignore[arg-type]
