"""The data-product search lifecycle over real HTTP on 127.0.0.1 (PROTOCOL §3, checklist §12)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from aurorax_core import DataProductQuery
from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.demo import build_demo_archive
from aurorax_core.server import CANCEL_LOG, spill
from aurorax_core.server.runner import serve_in_thread

from .conftest import submit, wait

QUERY: dict[str, Any] = {
    "data_sources": {
        "programs": ["auroramax"],
        "platforms": [],
        "instrument_types": [],
        "data_product_metadata_filters": {},
    },
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_product_type_filters": [],
}
REAL_LOG_PATTERNS = [
    r"Search request arrived and saved",
    r"Starting query for [0-9a-f-]{36}",
    r"Finished query in \d+\.\d\d seconds\.",
    r"Starting to write data to file",
    r"Finished writing data, found \d+ records in \d+\.\d\d seconds\.",
    r"File size is \d+ bytes\.",
    r"Finished search in \d+\.\d\d seconds and found \d+ records\.",
]


def test_submit_answers_202_with_an_absolute_location_and_no_body(server: str, http: requests.Session) -> None:
    reply = http.post(f"{server}/api/v1/data_products/search", json=QUERY)
    assert reply.status_code == 202
    assert reply.content == b""
    location = reply.headers["Location"]
    assert re.fullmatch(rf"{re.escape(server)}/api/v1/data_products/requests/[0-9a-f-]{{36}}", location)
    uuid.UUID(location.rsplit("/", 1)[1])


def test_location_never_follows_a_hostile_host_header(server: str, http: requests.Session) -> None:
    # the Host header is the client's to set: Location is built from the address the request reached
    reply = http.post(
        f"{server}/api/v1/data_products/search",
        json=QUERY,
        headers={"Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    assert reply.status_code == 202
    assert reply.headers["Location"].startswith(f"{server}/api/v1/data_products/requests/")
    assert "evil" not in reply.headers["Location"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_location_starts_with_the_configured_public_url(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server(public_url="https://aurorax.example.org:8443/")
    reply = http.post(f"{url}/api/v1/data_products/search", json=QUERY, headers={"Host": "evil.example"})
    location = reply.headers["Location"]
    assert location.startswith("https://aurorax.example.org:8443/api/v1/data_products/requests/")
    assert not location.endswith("/")


def test_completed_status_has_the_real_log_wording_and_matches_the_data(server: str, http: requests.Session) -> None:
    location = submit(http, server, QUERY)
    status = wait(http, location)
    summaries = [log["summary"] for log in status["logs"]]
    assert len(summaries) == len(REAL_LOG_PATTERNS)
    for summary, pattern in zip(summaries, REAL_LOG_PATTERNS, strict=True):
        assert re.fullmatch(pattern, summary), summary
    assert [log["level"] for log in status["logs"]] == ["debug", "info", "info", "debug", "info", "debug", "info"]
    request_id = location.rsplit("/", 1)[1]
    result = status["search_result"]
    assert result["data_uri"] == f"/api/v1/data_products/requests/{request_id}/data"
    assert result["error_condition"] is False
    assert result["completed_timestamp"] is not None
    assert status["search_request"]["request_id"] == request_id
    assert status["search_request"]["query"]["request_id"] is None
    data = http.get(location + "/data", data="{}")
    assert data.status_code == 200
    assert data.headers["Content-Type"] == "application/json"
    assert result["file_size"] == len(data.content)
    assert result["result_count"] == len(data.json()["result"]) == 15
    assert f"found {result['result_count']} records" in summaries[-1]
    # query_duration is the whole search, as in AuroraX's own documents (305 ms, "... in 0.31 seconds")
    searched = float(re.search(r"Finished search in ([0-9.]+) seconds", summaries[-1]).group(1))  # type: ignore[union-attr]
    assert abs(result["query_duration"] / 1000 - searched) <= 0.006


def test_records_equal_the_catalog_and_carry_only_the_protocol_keys(
    server: str, http: requests.Session, catalog: CatalogBackend
) -> None:
    query = {**QUERY, "data_sources": {**QUERY["data_sources"], "programs": ["trex", "auroramax"]}}
    records = http.get(submit(http, server, query) + "/data").json()["result"]
    expected = catalog.search(DataProductQuery.from_api_payload(query)).to_api_records()
    assert records == expected
    for record in records:
        assert set(record) == {"data_source", "data_product_type", "start", "end", "url", "metadata"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["start"])
        assert set(record["data_source"]) == {
            "identifier",
            "program",
            "platform",
            "instrument_type",
            "source_type",
            "display_name",
        }


def test_metadata_filters_and_type_filters(server: str, http: requests.Session, catalog: CatalogBackend) -> None:
    query = {
        "data_sources": {
            "programs": ["auroramax", "trex"],
            "platforms": [],
            "instrument_types": [],
            "data_product_metadata_filters": {
                "expressions": [
                    {"key": "keogram_type", "operator": "=", "values": ["daily_hires"]},
                    {"key": "movie_type", "operator": "in", "values": ["real-time daily"]},
                ],
                "logical_operator": "or",
            },
        },
        "start": "2020-01-01T00:00:00",
        "end": "2020-01-02T23:59:59",
        "data_product_type_filters": ["keogram", "movie"],
    }
    records = http.get(submit(http, server, query) + "/data").json()["result"]
    assert len(records) == 8  # 2 sources x 2 days x (daily_hires keogram + movie)
    assert all(
        r["metadata"].get("keogram_type") == "daily_hires" or r["metadata"].get("movie_type") == "real-time daily"
        for r in records
    )
    assert records == catalog.search(DataProductQuery.from_api_payload(query)).to_api_records()


def test_data_by_post_with_a_response_format_keeps_only_the_true_keys(server: str, http: requests.Session) -> None:
    location = submit(http, server, QUERY)
    fmt = {"start": True, "end": True, "url": True, "metadata": False, "data_source": {"identifier": True}}
    reply = http.post(location + "/data", json=fmt)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    records = reply.json()["result"]
    assert len(records) == 15
    assert all(
        set(r) == {"start", "end", "url", "data_source"} and r["data_source"] == {"identifier": 175} for r in records
    )


def test_response_format_can_ask_for_full_record_source_fields(server: str, http: requests.Session) -> None:
    location = submit(http, server, {**QUERY, "data_sources": {"programs": ["trex"]}})
    fmt = {"url": True, "data_source": {"identifier": True, "data_product_metadata_schema": {"field_name": True}}}
    records = http.post(location + "/data", json=fmt).json()["result"]
    assert records
    assert records[0]["data_source"] == {
        "identifier": 103,
        "data_product_metadata_schema": [{"field_name": "keogram_type"}],
    }


@pytest.mark.parametrize("fmt", [[], {"start": "yes"}, {"data_source": {"identifier": 1}}, "start"])
def test_a_malformed_response_format_is_a_400(server: str, http: requests.Session, fmt: Any) -> None:
    location = submit(http, server, QUERY)
    wait(http, location)
    reply = http.post(location + "/data", json=fmt)
    assert reply.status_code == 400
    assert reply.json()["error_code"] == "AssertionError"
    assert "response_format" in reply.json()["error_message"]


@pytest.mark.parametrize("fmt", ["identifier_only", "basic_info", "with_metadata", "full_record"])
def test_data_source_record_format_parameter(
    server: str, http: requests.Session, catalog: CatalogBackend, fmt: str
) -> None:
    query = {**QUERY, "data_sources": {"programs": ["trex", "auroramax"]}, "end": "2020-01-02T23:59:59"}
    location = submit(http, server, query)
    wait(http, location)
    records = http.get(location + f"/data?data_source_record_format={fmt}").json()["result"]
    sources = {s.identifier: s.to_api_dict(fmt) for s in catalog.list_sources()}
    expected = catalog.search(DataProductQuery.from_api_payload(query)).to_api_records()
    assert len({r["data_source"]["identifier"] for r in expected}) > 1
    assert records == [{**r, "data_source": sources[r["data_source"]["identifier"]]} for r in expected]
    if fmt == "identifier_only":
        assert records[0]["data_source"] == {"identifier": records[0]["data_source"]["identifier"]}
    if fmt == "full_record":
        assert {"owner", "maintainers", "metadata"} <= set(records[0]["data_source"])


def test_describe_returns_a_json_string(server: str, http: requests.Session) -> None:
    reply = http.post(f"{server}/api/v1/utils/describe/query/data_products", json=QUERY)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == DataProductQuery.from_api_payload(QUERY).describe()
    assert reply.json().startswith("Find data_products for ((program in (auroramax)")


def test_describe_accepts_z_times_and_missing_keys(server: str, http: requests.Session) -> None:
    body = {
        "data_sources": {"programs": ["themis-asi"], "platforms": ["gillam"], "instrument_types": ["panchromatic ASI"]},
        "start": "2025-02-05T16:36:43.720Z",
        "end": "2025-02-05T16:36:43.720Z",
    }
    reply = http.post(f"{server}/api/v1/utils/describe/query/data_products", json=body)
    assert reply.status_code == 200
    assert "platform in (gillam)" in reply.json()


def test_synchronous_search_returns_the_records(server: str, http: requests.Session, catalog: CatalogBackend) -> None:
    reply = http.post(f"{server}/api/v1/data_products/search_synchronous", json={"query": QUERY})
    assert reply.status_code == 200
    assert reply.json() == catalog.search(DataProductQuery.from_api_payload(QUERY)).to_api_records()
    reply = http.post(
        f"{server}/api/v1/data_products/search_synchronous", json={"query": QUERY, "response_format": {"url": True}}
    )
    assert all(set(r) == {"url"} for r in reply.json())


def test_cancel_of_a_completed_search_is_a_harmless_200(server: str, http: requests.Session) -> None:
    location = submit(http, server, QUERY)
    wait(http, location)
    reply = http.delete(location, data="{}")
    assert reply.status_code == 200
    assert reply.json()["search_result"]["error_condition"] is False
    assert http.get(location + "/data").status_code == 200


def test_cancel_of_a_queued_search(make_server: Any, http: requests.Session) -> None:
    # One worker and no submit wait: searches queue behind each other, so the last one is pending.
    url, _ = make_server(workers=1, submit_wait=0)
    wide = {**QUERY, "data_sources": {}, "end": "2020-01-03T23:59:59"}
    # (searches take ~1 ms here: enough of them that the last is still queued when we look)
    for _attempt in range(10):
        locations = [submit(http, url, wide) for _ in range(60)]
        last = locations[-1]
        pending = http.get(last).json()
        if pending["search_result"]["data_uri"] is not None:
            continue  # the queue drained before our GET: try again
        assert pending["search_result"]["error_condition"] is None
        reply = http.delete(last)
        assert reply.status_code == 200
        if reply.json()["search_result"]["error_condition"]:
            break  # cancelled while pending (it may also have finished just before the DELETE)
    else:
        raise AssertionError("no queued search could be caught pending in 10 attempts")
    status = http.get(last).json()
    result = status["search_result"]
    assert result["error_condition"] is True
    assert result["data_uri"] == "/api/v1/data_products/requests/" + last.rsplit("/", 1)[1] + "/data"
    assert result["completed_timestamp"] is not None
    assert status["logs"][-1]["summary"] == CANCEL_LOG
    data = http.get(last + "/data")
    assert data.status_code == 409
    assert CANCEL_LOG in data.json()["error_message"]
    # the others still complete
    assert wait(http, locations[0])["search_result"]["error_condition"] is False


@pytest.mark.parametrize("request_id", ["some-bad-request-id", str(uuid.uuid4()), "x" * 300])
@pytest.mark.parametrize("suffix,method", [("", "GET"), ("/data", "GET"), ("/data", "POST"), ("", "DELETE")])
def test_unknown_and_malformed_request_ids_are_404(
    server: str, http: requests.Session, request_id: str, suffix: str, method: str
) -> None:
    reply = http.request(method, f"{server}/api/v1/data_products/requests/{request_id}{suffix}", data="{}")
    assert reply.status_code == 404
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["error_code"] == "NotFound"
    assert "not found" in reply.json()["error_message"]


def test_an_expired_result_is_a_404_that_says_so(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server(result_ttl=0.3)
    location = submit(http, url, QUERY)
    wait(http, location)
    time.sleep(0.5)
    reply = http.get(location + "/data")
    assert reply.status_code == 404
    assert "expired" in reply.json()["error_message"]


def test_memory_is_bounded_by_max_requests(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server(max_requests=5)
    locations = [submit(http, url, QUERY) for _ in range(12)]
    for location in locations:
        wait(http, location) if location in locations[-5:] else None
    gone = [http.get(loc).status_code for loc in locations[:7]]
    assert gone == [404] * 7
    assert all(http.get(loc + "/data").status_code == 200 for loc in locations[-5:])


def test_double_slash_paths_and_trailing_slashes_are_routed(server: str, http: requests.Session) -> None:
    assert http.post(f"{server}//api/v1/data_sources/search", json={"programs": ["swarm"]}).status_code == 200
    reply = http.post(f"{server}//api/v1/data_products/search", json=QUERY)
    assert reply.status_code == 202
    assert "//api" not in reply.headers["Location"].split("://", 1)[1]
    assert http.get(f"{server}/api/v1/data_sources/").status_code == 200


def test_searches_in_worker_processes_give_the_same_answers(
    make_server: Any, http: requests.Session, catalog: CatalogBackend
) -> None:
    url, _ = make_server(search_processes=1, submit_wait=0)
    query = {**QUERY, "data_sources": {"programs": ["trex", "auroramax"]}, "end": "2020-01-02T23:59:59"}
    location = submit(http, url, query)
    status = wait(http, location)
    summaries = [log["summary"] for log in status["logs"]]
    for summary, pattern in zip(summaries, REAL_LOG_PATTERNS, strict=True):
        assert re.fullmatch(pattern, summary), summary
    records = http.get(location + "/data").json()["result"]
    assert records == catalog.search(DataProductQuery.from_api_payload(query)).to_api_records()
    assert status["search_result"]["result_count"] == len(records) == 60
    only = http.get(location + "/data?data_source_record_format=identifier_only").json()["result"]
    assert only == [{**r, "data_source": {"identifier": r["data_source"]["identifier"]}} for r in records]
    # cancel right after submit, racing the worker process: whichever wins, the request ends in
    # one consistent state and a late result never overwrites a cancellation
    outcomes = set()
    for _ in range(20):
        location = submit(http, url, {**query, "data_sources": {}})
        assert http.delete(location).status_code == 200
        status = wait(http, location)
        cancelled = status["logs"][-1]["summary"] == CANCEL_LOG
        assert status["search_result"]["error_condition"] is cancelled
        assert http.get(location + "/data").status_code == (409 if cancelled else 200)
        # the single worker runs searches in order: once a later one is done, a discarded
        # result of this one has arrived, and must not have changed it
        assert wait(http, submit(http, url, query))["search_result"]["result_count"] == 60
        assert (wait(http, location)["logs"][-1]["summary"] == CANCEL_LOG) is cancelled
        outcomes.add(cancelled)


def _spilled_results() -> set[str]:
    shm = Path("/dev/shm")
    return {p.name for p in shm.glob("aurorax-core-*")} if shm.is_dir() else set()


def test_a_large_search_split_across_worker_processes_gives_the_whole_answer(
    tmp_path: Path, http: requests.Session
) -> None:
    path = tmp_path / "week.sqlite"
    build_demo_archive(path, date(2020, 1, 1), date(2020, 1, 7))
    query = {**QUERY, "start": "2020-01-01T06:00:00", "end": "2020-01-07T23:59:59", "data_sources": {}}
    with CatalogBackend(path, readonly=True) as catalog:
        whole = catalog.search(DataProductQuery.from_api_payload(query)).to_api_records()
        # the premise: this search is large enough to be split in two, with bodies sent back
        # through files in /dev/shm
        assert len(catalog.start_ranges(DataProductQuery.from_api_payload(query), 2)) == 2
        assert len(json.dumps({"result": whole})) > 1024 * 1024
    before = _spilled_results()
    url, stop = serve_in_thread(path, search_processes=2, submit_wait=0)
    try:
        location = submit(http, url, query)
        status = wait(http, location)
        assert status["search_result"]["result_count"] == len(whole)
        assert http.get(location + "/data").json()["result"] == whole
        only = http.get(location + "/data?data_source_record_format=identifier_only").json()["result"]
        assert only == [{**r, "data_source": {"identifier": r["data_source"]["identifier"]}} for r in whole]
        # cancelled while its parts run (or just after): either way one consistent state, and the
        # file of a discarded result is removed too
        location = submit(http, url, query)
        assert http.delete(location).status_code == 200
        cancelled = wait(http, location)["logs"][-1]["summary"] == CANCEL_LOG
        assert http.get(location + "/data").status_code == (409 if cancelled else 200)
        # queued behind the cancelled search's parts in the pool: when it is done, so are they
        assert wait(http, submit(http, url, query))["search_result"]["result_count"] == len(whole)
    finally:
        stop()
    assert _spilled_results() - before == set()


def _processes_with_open(path: Path) -> list[int]:
    """This process's children that hold ``path`` open (a server's search processes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and any(os.readlink(fd) == str(path) for fd in (stat.parent / "fd").iterdir()):
                found.append(int(stat.parent.name))
        except OSError:
            continue
    return found


def test_a_search_process_that_dies_is_replaced(make_server: Any, http: requests.Session) -> None:
    # killed by the operator or the kernel's out-of-memory killer: the search it ran fails with a
    # reason, and the server does not stay broken
    url, path = make_server(search_processes=1, submit_wait=0)
    query = {**QUERY, "data_sources": {"programs": ["trex", "auroramax"]}, "end": "2020-01-02T23:59:59"}
    assert wait(http, submit(http, url, query))["search_result"]["result_count"] == 60
    (worker,) = _processes_with_open(path.resolve())
    os.kill(worker, signal.SIGKILL)
    status = wait(http, submit(http, url, query))
    assert status["search_result"]["error_condition"] is True
    assert "a search process stopped abruptly" in status["logs"][-1]["summary"]
    assert "run the search again" in status["logs"][-1]["summary"]
    for _ in range(3):
        assert wait(http, submit(http, url, query))["search_result"]["result_count"] == 60
    assert len(_processes_with_open(path.resolve())) == 1


def test_a_worker_that_cannot_leave_its_result_in_a_file_sends_it_through_the_pipe(tmp_path: Path) -> None:
    # what a worker does when /dev/shm is full or missing: the body comes back inline, whole
    path = tmp_path / "week.sqlite"
    build_demo_archive(path, date(2020, 1, 1), date(2020, 1, 2))
    query = {**QUERY, "start": "2020-01-01T00:00:00", "end": "2020-01-02T23:59:59", "data_sources": {}}
    with CatalogBackend(path, readonly=True) as catalog:
        result = catalog.search_body(DataProductQuery.from_api_payload(query))
    expected = result.body
    assert len(expected) > spill.SPILL_ABOVE
    for prefix in (str(tmp_path / "no-such-folder" / "x-"), None):
        inline, spilled = spill.spill(result, prefix)
        assert (spilled, inline.body) == (None, expected)
    emptied, spilled = spill.spill(result, str(tmp_path / "spill-"))
    assert emptied.body == b"" and spilled is not None
    assert spill.spilled_size(emptied, spilled) == len(expected)
    assert spill.take_spilled(emptied, spilled).body == expected
    assert list(tmp_path.glob("spill-*")) == []


def test_a_failed_search_sets_error_condition_data_uri_and_the_error_as_last_log(
    make_server: Any, http: requests.Session
) -> None:
    # a search timeout no search can meet makes every search fail, as a runaway query would
    url, _ = make_server(search_timeout=1e-9)
    location = submit(http, url, QUERY)
    status = wait(http, location)
    result = status["search_result"]
    assert result["error_condition"] is True
    assert result["data_uri"].endswith("/data")
    assert result["completed_timestamp"] is not None
    assert status["logs"][-1]["level"] == "error"
    assert status["logs"][-1]["summary"].startswith("Search failed:")
    data = http.get(location + "/data")
    assert data.status_code == 409
    assert "Search failed" in data.json()["error_message"]
    sync = http.post(f"{url}/api/v1/data_products/search_synchronous", json={"query": QUERY})
    assert sync.status_code == 400
    assert sync.json()["error_code"] == "AssertionError"


def test_a_result_larger_than_the_result_memory_fails_with_a_way_out(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server(max_result_bytes=4000)
    small = submit(http, url, QUERY)  # 15 records, ~7 kB: too large as well
    query = {**QUERY, "end": "2020-01-01T00:59:59"}
    status = wait(http, submit(http, url, query))
    assert status["search_result"]["error_condition"] is False
    status = wait(http, small)
    assert status["search_result"]["error_condition"] is True
    last = status["logs"][-1]["summary"]
    assert "more than this server keeps (4,000 bytes)" in last and "narrow the time range" in last
    assert http.get(small + "/data").status_code == 409
