"""pyaurorax's data-product tests (tests/test_suite/search/data_products, PROTOCOL §10.2), ported to our server.

Every search also checks that the records pyaurorax gets equal the in-process catalog's answer.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pyaurorax
import pytest
import requests

from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.server import CANCEL_LOG

from ._compare import catalog_rows, row_of_pyaurorax
from .conftest import API_KEY, POLL

D = datetime.datetime


def test_simple_search_verbose_and_describe(
    aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = D(2020, 1, 1), D(2020, 1, 2, 23, 59, 59)
    s = aurorax.search.data_products.search(
        start, end, programs=["auroramax"], data_product_types=["keogram"], verbose=True, poll_interval=POLL
    )
    assert len(s.data) > 0
    assert [row_of_pyaurorax(r) for r in s.data] == catalog_rows(
        catalog, start=start, end=end, programs=["auroramax"], data_product_types=["keogram"]
    )
    out = capsys.readouterr().out
    assert "Search object created" in out
    assert f"Request ID: {s.request_id}" in out
    assert f"containing {len(s.data)} records" in out
    assert (
        s.logs[-1]["summary"]
        == f"Finished search in {s.logs[-1]['summary'].split()[3]} seconds and found {len(s.data)} records."
    )
    description = aurorax.search.data_products.describe(search_obj=s)
    assert description.startswith("Find data_products for ((program in (auroramax)")
    assert "data_product start >= 2020-01-01T00:00 UTC" in description


def test_single_result(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    start, end = D(2020, 1, 1), D(2020, 1, 1, 23, 59, 59)
    expression = pyaurorax.search.MetadataFilterExpression("keogram_type", "daily_hires", operator="=")
    s = aurorax.search.data_products.search(
        start,
        end,
        programs=["auroramax"],
        data_product_types=["keogram"],
        metadata_filters=pyaurorax.search.MetadataFilter([expression]),
        poll_interval=POLL,
    )
    assert len(s.data) == 1
    assert s.data[0].metadata["keogram_type"] == "daily_hires"
    assert [row_of_pyaurorax(r) for r in s.data] == catalog_rows(
        catalog,
        start=start,
        end=end,
        programs=["auroramax"],
        data_product_types=["keogram"],
        metadata_filters=[{"key": "keogram_type", "operator": "=", "values": ["daily_hires"]}],
    )


def test_metadata_filters_or(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    start, end = D(2020, 1, 1), D(2020, 1, 2, 23, 59, 59)
    expressions = [
        pyaurorax.search.MetadataFilterExpression("keogram_type", "daily_hires", operator="="),
        pyaurorax.search.MetadataFilterExpression("movie_type", "real-time daily", operator="="),
    ]
    s = aurorax.search.data_products.search(
        start,
        end,
        programs=["auroramax"],
        data_product_types=["keogram", "movie"],
        metadata_filters=pyaurorax.search.MetadataFilter(expressions, operator="or"),
        poll_interval=POLL,
    )
    assert len(s.data) > 0
    for record in s.data:
        assert record.metadata.get("keogram_type") == "daily_hires" or record.metadata.get("movie_type") == (
            "real-time daily"
        )
    assert [row_of_pyaurorax(r) for r in s.data] == catalog_rows(
        catalog,
        start=start,
        end=end,
        programs=["auroramax"],
        data_product_types=["keogram", "movie"],
        metadata_filters=[
            {"key": "keogram_type", "operator": "=", "values": ["daily_hires"]},
            {"key": "movie_type", "operator": "=", "values": ["real-time daily"]},
        ],
        metadata_filters_logical_operator="OR",
    )


def test_legacy_dict_filters_every_result_matches(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    start, end = D(2020, 1, 1), D(2020, 1, 2, 23, 59, 59)
    filters = [
        {"key": "keogram_type", "operator": "=", "values": ["daily_hires"]},
        {"key": "movie_type", "operator": "in", "values": ["real-time daily"]},
    ]
    s = aurorax.search.data_products.search(
        start,
        end,
        programs=["auroramax", "trex"],
        metadata_filters=filters,
        metadata_filters_logical_operator="OR",
        poll_interval=POLL,
    )
    assert len(s.data) > 0
    assert all(
        r.metadata.get("keogram_type") == "daily_hires" or r.metadata.get("movie_type") == "real-time daily"
        for r in s.data
    )
    assert [row_of_pyaurorax(r) for r in s.data] == catalog_rows(
        catalog,
        start=start,
        end=end,
        programs=["auroramax", "trex"],
        metadata_filters=filters,
        metadata_filters_logical_operator="OR",
    )


def test_async_lifecycle(aurorax: pyaurorax.PyAuroraX, capsys: pytest.CaptureFixture[str]) -> None:
    s = aurorax.search.data_products.search(
        D(2020, 1, 1), D(2020, 1, 2, 23, 59, 59), programs=["auroramax"], return_immediately=True
    )
    assert s.executed and not s.completed
    s.get_data()
    assert "No data available, update status or check for data first" in capsys.readouterr().out
    s.update_status()
    s.wait(poll_interval=POLL)
    assert s.check_for_data()
    s.get_data()
    assert len(s.data) > 0
    assert s.data_url == f"{s.request_url}/data"


def test_response_format_records_are_dicts_without_the_unselected_keys(aurorax: pyaurorax.PyAuroraX) -> None:
    fmt = {"start": True, "end": True, "url": True, "data_product_type": True, "data_source": {"identifier": True}}
    s = aurorax.search.data_products.search(
        D(2020, 1, 1), D(2020, 1, 1, 23, 59, 59), programs=["auroramax"], response_format=fmt, poll_interval=POLL
    )
    assert len(s.data) > 0
    for record in s.data:
        assert isinstance(record, dict)
        assert "metadata" not in record
        assert record["data_source"] == {"identifier": 175}
        assert isinstance(record["start"], D)


def test_response_format_template_round_trip(aurorax: pyaurorax.PyAuroraX) -> None:
    template = aurorax.search.data_products.create_response_format_template(default=True)
    s = aurorax.search.data_products.search(
        D(2020, 1, 1), D(2020, 1, 1, 23, 59, 59), programs=["trex"], response_format=template, poll_interval=POLL
    )
    assert len(s.data) > 0
    assert {"owner", "maintainers", "data_product_metadata_schema"} <= set(s.data[0]["data_source"])


def test_no_data(aurorax: pyaurorax.PyAuroraX) -> None:
    s = aurorax.search.data_products.search(D(1990, 1, 1), D(1990, 1, 2), programs=["auroramax"], poll_interval=POLL)
    assert len(s.data) == 0


def test_metadata_filter_warning(aurorax: pyaurorax.PyAuroraX) -> None:
    expression = pyaurorax.search.MetadataFilterExpression("keogram_type", "daily_hires", operator="=")
    with pytest.warns(UserWarning, match="is redundant"):
        aurorax.search.data_products.search(
            D(2020, 1, 1),
            D(2020, 1, 1, 23, 59, 59),
            programs=["auroramax"],
            metadata_filters=pyaurorax.search.MetadataFilter([expression]),
            metadata_filters_logical_operator="and",
            poll_interval=POLL,
        )


def test_cancel_returns_0(aurorax: pyaurorax.PyAuroraX) -> None:
    s = aurorax.search.data_products.search(
        D(2018, 1, 1), D(2021, 12, 31, 23, 59, 59), programs=["themis"], return_immediately=True
    )
    assert s.cancel(wait=True, poll_interval=POLL) == 0


def test_cancel_of_a_pending_search_ends_the_wait_and_reports_the_cancellation(private_server: Any) -> None:
    url, _ = private_server(workers=1, submit_wait=0)
    client = pyaurorax.PyAuroraX(api_base_url=url)
    wide = {"data_sources": {}, "start": "2019-12-31T00:00:00", "end": "2020-01-02T23:59:59"}
    with requests.Session() as http:
        for _ in range(30):  # one worker: these queue up in front of ours
            http.post(f"{url}/api/v1/data_products/search", data=json.dumps(wide))
    s = client.search.data_products.search(D(2019, 12, 31), D(2020, 1, 2, 23, 59, 59), return_immediately=True)
    s.update_status()
    assert s.status["search_result"]["data_uri"] is None
    started = time.monotonic()
    assert s.cancel(wait=True, poll_interval=POLL) == 0
    assert time.monotonic() - started < 5
    s.update_status()
    assert s.status["search_result"]["error_condition"] is True
    assert s.logs[-1]["summary"] == CANCEL_LOG
    # what pyaurorax's search() reads after wait(): the flag, and the last log as the error text
    s.wait(poll_interval=POLL)
    assert s.completed


def test_describe_search_object_and_dict(aurorax: pyaurorax.PyAuroraX) -> None:
    obj = pyaurorax.search.DataProductSearch(aurorax, D(2020, 1, 1), D(2020, 1, 1, 23, 59, 59), programs=["auroramax"])
    assert aurorax.search.data_products.describe(search_obj=obj) == (
        "Find data_products for ((program in (auroramax) filtered by metadata ()) AND  data_product_metadata_filters "
        "[]) AND data_product start >= 2020-01-01T00:00 UTC AND data_product end <= 2020-01-01T23:59:59 UTC AND"
    )
    query_dict = {
        "data_sources": {"programs": ["themis-asi"], "platforms": ["gillam"], "instrument_types": ["panchromatic ASI"]},
        "start": "2025-02-05T16:36:43.720Z",
        "end": "2025-02-05T16:36:43.720Z",
    }
    assert "platform in (gillam)" in aurorax.search.data_products.describe(query_dict=query_dict)


def test_bad_request_id_and_bad_query_are_api_errors(aurorax: pyaurorax.PyAuroraX) -> None:
    url = aurorax.search.data_products.get_request_url("some-bad-request-id")
    with pytest.raises(pyaurorax.AuroraXAPIError, match="API error code 404"):
        aurorax.search.requests.get_status(url)
    with pytest.raises(pyaurorax.AuroraXAPIError, match="API error code 400"):
        aurorax.search.data_products.search(D(2020, 1, 2), D(2020, 1, 1), programs=["auroramax"], poll_interval=POLL)


def _test_records(names: list[str], day0: D, source: Any) -> list[Any]:
    return [
        pyaurorax.search.DataProductData(
            data_source=source,
            data_product_type="keogram",
            start=day0 + datetime.timedelta(days=i),
            end=day0 + datetime.timedelta(days=i, hours=23, minutes=59, seconds=59),
            url=name,
            metadata={"test_meta1": "testing1", "test_meta2": "testing2"} if i == 0 else None,
        )
        for i, name in enumerate(names)
    ]


def _search_test_program(client: pyaurorax.PyAuroraX, start: D, end: D) -> list[Any]:
    return client.search.data_products.search(start, end, programs=["test-program"], poll_interval=POLL).data


def test_upload_search_and_delete_by_range(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    source = aurorax.search.sources.get("test-program", "test-platform", "test-instrument-type", format="basic_info")
    records = _test_records(["test.jpg", "test2.jpg"], D(2020, 1, 1), source)
    assert aurorax.search.data_products.upload(source.identifier, records, validate_source=True) == 0
    found = _search_test_program(aurorax, D(2020, 1, 1), D(2020, 1, 3))
    assert sorted(r.url for r in found) == ["test.jpg", "test2.jpg"]
    # the client sends minutes only (HH:MM:00.000): the stored end is 23:59:00
    assert {r.end for r in found} == {D(2020, 1, 1, 23, 59), D(2020, 1, 2, 23, 59)}
    assert found[0].metadata == {"test_meta1": "testing1", "test_meta2": "testing2"}
    assert [row_of_pyaurorax(r) for r in found] == catalog_rows(
        catalog, start=D(2020, 1, 1), end=D(2020, 1, 3), programs=["test-program"]
    )
    assert aurorax.search.data_products.delete(source, D(2020, 1, 1), D(2020, 1, 3)) == 0
    assert _search_test_program(aurorax, D(2020, 1, 1), D(2020, 1, 3)) == []


def test_upload_and_delete_urls(aurorax: pyaurorax.PyAuroraX) -> None:
    source = aurorax.search.sources.get("test-program", "test-platform", "test-instrument-type", format="basic_info")
    records = _test_records(["test_delete1.jpg", "test_delete2.jpg"], D(2020, 2, 1), source)
    assert aurorax.search.data_products.upload(source.identifier, records) == 0
    assert len(_search_test_program(aurorax, D(2020, 2, 1), D(2020, 2, 3))) == 2
    assert aurorax.search.data_products.delete_urls(source, ["test_delete1.jpg", "test_delete2.jpg"]) == 0
    assert _search_test_program(aurorax, D(2020, 2, 1), D(2020, 2, 3)) == []


def test_upload_with_a_mismatched_source_is_refused_and_changes_nothing(
    aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend
) -> None:
    source = aurorax.search.sources.get("test-program", "test-platform", "test-instrument-type", format="basic_info")
    other = aurorax.search.sources.get("auroramax", "yellowknife", "DSLR", format="basic_info")
    records = _test_records(["mismatch.jpg"], D(2020, 1, 1), other)
    # the client-side validation (validate_source=True)
    with pytest.raises(pyaurorax.AuroraXError, match="Unable to validate data source"):
        aurorax.search.data_products.upload(source.identifier, _test_records(["m.jpg"], D(2020, 1, 1), other), True)
    # and the server's own, when the client does not validate
    with pytest.raises(pyaurorax.AuroraXAPIError, match="API error code 400"):
        aurorax.search.data_products.upload(source.identifier, records)
    assert catalog.products_by_url(["mismatch.jpg", "m.jpg"]) == []


def test_writes_without_or_with_a_wrong_key(server_url: str) -> None:
    source_obj = pyaurorax.search.DataSource(
        identifier=175, program="auroramax", platform="yellowknife", instrument_type="DSLR"
    )
    anonymous = pyaurorax.PyAuroraX(api_base_url=server_url)
    anonymous.api_key = None
    with pytest.raises(pyaurorax.AuroraXUnauthorizedError, match="API error code 401"):
        anonymous.search.data_products.delete_urls(source_obj, ["https://example.org/x.jpg"])
    wrong = pyaurorax.PyAuroraX(api_base_url=server_url, api_key="wrong-key")
    source = wrong.search.sources.get_using_identifier(175, format="basic_info")
    records = _test_records(["wrong-key.jpg"], D(2020, 1, 1), source)
    # a 403 is not an error for pyaurorax's null-response calls (PROTOCOL §1.3): it returns 0 ...
    assert wrong.search.data_products.upload(175, records) == 0
    # ... but nothing was written
    wrong.api_key = None
    found = wrong.search.data_products.search(D(2020, 1, 1), D(2020, 1, 2), programs=["auroramax"], poll_interval=POLL)
    assert len(found.data) > 0
    assert "wrong-key.jpg" not in {r.url for r in found.data}


def test_a_failed_search_raises_auroraxsearcherror_with_the_servers_reason(private_server: Any) -> None:
    url, _ = private_server(search_timeout=1e-9)
    client = pyaurorax.PyAuroraX(api_base_url=url)
    with pytest.raises(pyaurorax.AuroraXSearchError, match="Search failed"):
        client.search.data_products.search(D(2020, 1, 1), D(2020, 1, 1, 23, 59, 59), poll_interval=POLL)


def test_admin_list_and_delete_search_requests(private_server: Any) -> None:
    url, _ = private_server()
    admin = pyaurorax.PyAuroraX(api_base_url=url, api_key=API_KEY)
    s = admin.search.data_products.search(D(2020, 1, 1), D(2020, 1, 1, 23, 59, 59), poll_interval=POLL)
    listed = admin.search.requests.list(search_type="data_product", active=False)
    mine = [item for item in listed if item["request_id"] == s.request_id]
    assert len(mine) == 1
    assert mine[0]["result_count"] == len(s.data)
    assert mine[0]["error_condition"] is False
    assert admin.search.requests.list(search_type="ephemeris") == []
    assert admin.search.requests.list(search_type="data_product", result_count=len(s.data) + 1) == [
        item for item in listed if (item["result_count"] or 0) >= len(s.data) + 1
    ]
    admin.search.requests.delete(s.request_id)
    with pytest.raises(pyaurorax.AuroraXAPIError, match="404"):
        admin.search.requests.get_status(s.request_url)
    anonymous = pyaurorax.PyAuroraX(api_base_url=url)
    anonymous.api_key = None
    with pytest.raises(pyaurorax.AuroraXUnauthorizedError, match="Administrator API key"):
        anonymous.search.requests.list()
