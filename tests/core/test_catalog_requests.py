"""Request tracking: the AuroraX request lifecycle (submit, status, logs, data) works offline."""

from __future__ import annotations

import json
import uuid

import pytest
from catalog_data import make_records

from aurorax_core import CatalogBackend, DataProductQuery, NotFound
from aurorax_core.backends.base import RequestTracking
from aurorax_core.backends.catalog import MAX_TRACKED_REQUESTS

QUERY = DataProductQuery.from_api_payload(
    {
        "start": "2020-01-01T00:00:00",
        "end": "2020-01-02T23:59:59",
        "data_sources": {
            "programs": ["trex"],
            "platforms": [],
            "instrument_types": [],
            "data_product_metadata_filters": {},
        },
        "data_product_type_filters": [],
    }
)


def test_submit_status_and_data(catalog: CatalogBackend) -> None:
    assert isinstance(catalog, RequestTracking)
    catalog.ingest_products(make_records(300, seed=2))
    expected = catalog.search(QUERY)
    assert len(expected) > 10
    request_id = catalog.submit(QUERY)
    assert str(uuid.UUID(request_id)) == request_id
    status = catalog.request_status(request_id)
    assert set(status) == {"logs", "search_request", "search_result"}
    request = status["search_request"]
    assert set(request) == {"query", "request_id", "request_type", "requested"}
    assert request["request_id"] == request_id and request["request_type"] == "data_product"
    assert request["query"]["request_id"] is None  # aurorax-cli deletes this key
    assert request["query"]["data_sources"]["data_product_metadata_filters"] == {
        "expressions": [],
        "logical_operator": "AND",
    }
    assert DataProductQuery.from_api_payload(request["query"]) == QUERY  # search_resubmit re-reads it
    result = status["search_result"]
    assert set(result) == {
        "completed_timestamp",
        "data_uri",
        "error_condition",
        "file_size",
        "query_duration",
        "result_count",
        "result_file_deleted_timestamp",
    }
    assert result["data_uri"] == f"/api/v1/data_products/requests/{request_id}/data"
    assert result["error_condition"] is False and result["completed_timestamp"]
    assert result["result_count"] == len(expected)
    assert result["file_size"] == len(json.dumps({"result": expected.to_api_records()}))
    summaries = [log["summary"] for log in status["logs"]]
    assert summaries[0] == "Search request arrived and saved"
    assert summaries[-1].endswith(f"found {len(expected)} records.")
    assert {log["level"] for log in status["logs"]} <= {"debug", "info", "warn", "error"}
    assert catalog.request_data(request_id) == expected.to_api_records()
    catalog.cancel_request(request_id)  # already complete: no-op


@pytest.mark.parametrize("bad", ["some-bad-request-id", str(uuid.uuid4()), "", "' OR 1=1 --"])
def test_unknown_or_malformed_ids_are_not_found(catalog: CatalogBackend, bad: str) -> None:
    for call in (catalog.request_status, catalog.request_data, catalog.cancel_request):
        with pytest.raises(NotFound, match="request ID not found"):
            call(bad)


def test_plain_search_does_not_record_a_request(catalog: CatalogBackend) -> None:
    catalog.ingest_products(make_records(30, seed=2))
    result = catalog.search(QUERY)
    with pytest.raises(NotFound):
        catalog.request_status(result.request_id)


def test_only_the_last_requests_are_kept(catalog: CatalogBackend) -> None:
    catalog.ingest_products(make_records(10, seed=2))
    ids = [catalog.submit(QUERY) for _ in range(MAX_TRACKED_REQUESTS + 3)]
    for old in ids[:3]:
        with pytest.raises(NotFound):
            catalog.request_status(old)
    for kept in (ids[3], ids[-1]):
        assert catalog.request_status(kept)["search_request"]["request_id"] == kept
