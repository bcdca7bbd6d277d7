"""RemoteBackend.search against a real AuroraX-shaped server on 127.0.0.1 (recorded real documents)."""

from __future__ import annotations

import copy
import math
import threading
from datetime import UTC, datetime

import pytest

from aurorax_core import (
    CancelToken,
    DataProduct,
    DataProductQuery,
    MalformedResponse,
    RemoteBackend,
    SearchCancelled,
    SearchEvent,
    SearchFailed,
    SearchTimeout,
    __version__,
)
from aurorax_core.backends.base import SEARCH_STAGES

from .stubs import COMPLETED_2022, REAL_RECORDS, FakeAuroraX, Reply, Seen, Stub

QUERY = DataProductQuery(
    start="2020-01-01T00:00:00",
    end="2020-02-05T23:59:59",
    programs=["trex"],
    instrument_types=["RGB ASI"],
    metadata_filters=[{"key": "keogram_type", "operator": "in", "values": ["daily", "hourly"]}],
    metadata_filters_logical_operator="or",
)


def backend(url: str, **kwargs: object) -> RemoteBackend:
    options: dict[str, object] = {"timeout": 2.0, "deadline": 10.0, "poll_initial": 0.005, "poll_max": 0.05}
    options.update(kwargs)
    return RemoteBackend(url, **options)  # type: ignore[arg-type]


def expected_products(records: list[dict]) -> list[DataProduct]:
    products = [DataProduct.from_api_dict(r) for r in records]
    return sorted(products, key=lambda p: (p.start, p.url))


def test_search_replays_the_real_protocol_and_returns_the_recorded_records(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 3
    events: list[SearchEvent] = []
    with backend(aurorax.url) as remote:
        result = remote.search(QUERY, progress=events.append)

    assert list(result.data) == expected_products(REAL_RECORDS)
    assert result.request_id in aurorax.submitted
    assert result.backend == aurorax.url
    # Figures come from the real 2024 completed status document.
    assert result.file_size == 2107015
    assert result.query_duration_ms == 305
    assert [entry.summary for entry in result.logs][-1] == "Finished search in 0.31 seconds and found 820 records."
    assert result.logs[0].timestamp == datetime(2024, 11, 27, 21, 41, 14, 353480, tzinfo=UTC)
    assert result.elapsed_s > 0
    # pending x3, then completed: 4 status polls, one data fetch, no DELETE.
    status_gets = aurorax.stub.requests("GET", r"/api/v1/data_products/requests/[^/]+")
    assert len(status_gets) == 4
    assert len(aurorax.stub.requests("GET", r".*/data")) == 1
    assert aurorax.stub.requests("DELETE") == []
    assert [e.stage for e in events] == list(SEARCH_STAGES)
    assert events[2].message == f"Request ID: {result.request_id}"
    assert events[-1].message == "Retrieved 2.1 MB of data containing 4 records"


def test_the_search_body_is_exactly_the_query_payload(aurorax: FakeAuroraX) -> None:
    with backend(aurorax.url) as remote:
        remote.search(QUERY)
    (post,) = aurorax.stub.requests("POST", r"/api/v1/data_products/search")
    assert post.json() == QUERY.to_api_payload()
    assert post.json()["data_sources"]["data_product_metadata_filters"] == {
        "expressions": [{"key": "keogram_type", "operator": "in", "values": ["daily", "hourly"]}],
        "logical_operator": "OR",
    }
    assert post.headers["content-type"] == "application/json"


def test_headers_carry_user_agent_and_api_key_only_when_set(aurorax: FakeAuroraX) -> None:
    with backend(aurorax.url, api_key="secret-key") as remote:
        remote.search(QUERY)
    seen = aurorax.stub.requests()
    assert seen and all(s.headers.get("x-aurorax-api-key") == "secret-key" for s in seen)
    assert all(s.headers["user-agent"] == f"aurorax-core/{__version__}" for s in seen)

    aurorax.stub.seen.clear()
    with backend(aurorax.url) as remote:
        remote.search(QUERY)
    assert all("x-aurorax-api-key" not in s.headers for s in aurorax.stub.requests())


def test_z_timestamps_of_the_2022_api_are_accepted(aurorax: FakeAuroraX) -> None:
    aurorax.completed_template = COMPLETED_2022
    records = copy.deepcopy(REAL_RECORDS)
    records[0]["start"] = "2020-01-01T00:00:00Z"
    records[0]["end"] = "2020-01-01T23:59:00.000000Z"
    aurorax.records = records
    with backend(aurorax.url) as remote:
        result = remote.search(QUERY)
    assert result.logs[0].timestamp == datetime(2022, 1, 14, 1, 38, 31, 432410, tzinfo=UTC)
    assert result.file_size == 3743875
    gill = next(p for p in result if p.url == REAL_RECORDS[0]["url"])
    assert gill.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert gill.end == datetime(2020, 1, 1, 23, 59, tzinfo=UTC)


def test_error_condition_raises_search_failed_with_the_last_log_line(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 1
    aurorax.fail_with = "Error: query exceeded the maximum number of records"
    with backend(aurorax.url) as remote, pytest.raises(SearchFailed) as info:
        remote.search(QUERY)
    assert "query exceeded the maximum number of records" in str(info.value)
    assert aurorax.stub.requests("GET", r".*/data") == []


def test_error_condition_is_checked_even_before_data_uri_is_set(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)

    def failing_pending(handler: object, seen: Seen, match: object) -> Reply:
        request_id = seen.path.rsplit("/", 1)[-1]
        doc = aurorax.status_document(request_id)
        doc["search_result"] = dict.fromkeys(doc["search_result"])  # all null, as while pending ...
        doc["search_result"]["error_condition"] = True  # ... except the failure flag
        doc["logs"].append({"level": "error", "summary": "database unavailable", "timestamp": "2024-11-27T21:41:15"})
        return Reply(200, doc)

    stub.route("GET", r"/api/v1/data_products/requests/[^/]+", failing_pending)
    with backend(stub.url) as remote, pytest.raises(SearchFailed, match="database unavailable"):
        remote.search(QUERY)


def test_a_search_that_never_completes_times_out_and_is_cancelled_on_the_server(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 10**9
    with backend(aurorax.url) as remote, pytest.raises(SearchTimeout) as info:
        remote.search(QUERY, timeout=0.4)
    assert "did not complete within 0.4 s" in str(info.value)
    (delete,) = aurorax.stub.requests("DELETE")
    assert delete.path.rsplit("/", 1)[-1] in aurorax.cancelled
    assert len(aurorax.stub.requests("GET")) >= 3  # it kept polling until the deadline


def test_the_backend_default_deadline_applies_when_no_timeout_is_given(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 10**9
    with backend(aurorax.url, deadline=0.3) as remote, pytest.raises(SearchTimeout):
        remote.search(QUERY)
    assert len(aurorax.stub.requests("DELETE")) == 1


def test_cancel_from_another_thread_deletes_the_request(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 10**9
    token = CancelToken()
    timer = threading.Timer(0.2, token.cancel)
    timer.start()
    try:
        with backend(aurorax.url, poll_max=1.0) as remote, pytest.raises(SearchCancelled):
            remote.search(QUERY, cancel=token)
    finally:
        timer.cancel()
    (delete,) = aurorax.stub.requests("DELETE")
    assert delete.path.startswith("/api/v1/data_products/requests/")
    assert aurorax.stub.requests("GET", r".*/data") == []


def test_a_token_cancelled_before_the_search_sends_nothing(aurorax: FakeAuroraX) -> None:
    token = CancelToken()
    token.cancel()
    with backend(aurorax.url) as remote, pytest.raises(SearchCancelled):
        remote.search(QUERY, cancel=token)
    assert aurorax.stub.requests() == []


def test_a_relative_location_is_joined_with_the_base_url(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)

    def relative(handler: object, seen: Seen, match: object) -> Reply:
        reply = aurorax._submit(handler, seen, match)  # type: ignore[arg-type]
        reply.headers["Location"] = reply.headers["Location"].removeprefix(stub.url)
        return reply

    stub.route("POST", r"/api/v1/data_products/search", relative)
    with backend(stub.url + "/") as remote:
        result = remote.search(QUERY)
    assert len(result) == len(REAL_RECORDS)


def test_concurrent_searches_share_one_backend(aurorax: FakeAuroraX) -> None:
    results: dict[int, object] = {}
    with backend(aurorax.url) as remote:

        def run(index: int) -> None:
            results[index] = remote.search(QUERY)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    ids = {r.request_id for r in results.values()}  # type: ignore[attr-defined]
    assert len(ids) == 4 and ids <= set(aurorax.submitted)
    assert all(len(r) == len(REAL_RECORDS) for r in results.values())  # type: ignore[arg-type]


def test_a_large_result_shares_one_source_instance_per_identifier(aurorax: FakeAuroraX) -> None:
    base = REAL_RECORDS[0]
    records = []
    for i in range(6000):
        record = copy.deepcopy(base) if i < 2 else {**base, "data_source": dict(base["data_source"])}
        record["url"] = f"{base['url']}?n={i:05d}"
        record["start"] = f"2020-01-01T{i % 24:02d}:00:00"
        record["end"] = f"2020-01-01T{i % 24:02d}:59:00"
        records.append(record)
    aurorax.records = records
    with backend(aurorax.url) as remote:
        result = remote.search(QUERY)
    assert len(result) == 6000
    assert len({id(p.data_source) for p in result}) == 1
    assert result[0].data_source == DataProduct.from_api_dict(base).data_source
    assert [p.start.hour for p in result[:3]] == [0, 0, 0]  # sorted by start, then URL
    assert result.data == expected_products(records)


def test_a_record_whose_source_changes_under_the_same_identifier_keeps_its_own_fields(aurorax: FakeAuroraX) -> None:
    records = copy.deepcopy(REAL_RECORDS[:2])
    records[1]["data_source"]["identifier"] = records[0]["data_source"]["identifier"]
    aurorax.records = records
    aurorax.source_format = False  # full sources in every record, as sent
    with backend(aurorax.url) as remote:
        result = remote.search(QUERY)
    assert {p.data_source.display_name for p in result} == {"TREx RGB GILL", "TREx RGB FSMI"}


def _source_list_gets(aurorax: FakeAuroraX) -> int:
    return len(aurorax.stub.requests("GET", r"/api/v1/data_sources/?"))


def test_records_with_identifier_only_sources_are_named_from_the_source_list(aurorax: FakeAuroraX) -> None:
    with backend(aurorax.url) as remote:
        first = remote.search(QUERY)
        second = remote.search(QUERY)
    assert first.data == second.data == expected_products(REAL_RECORDS)
    assert {p.data_source.display_name for p in first} == {"TREx RGB GILL", "TREx RGB FSMI", "TREx RGB RABB"}
    data_gets = aurorax.stub.requests("GET", r".*/data")
    assert [g.query.get("data_source_record_format") for g in data_gets] == [["identifier_only"]] * 2
    assert _source_list_gets(aurorax) == 1  # kept between searches
    assert aurorax.stub.requests("GET", r"/api/v1/data_sources/?")[0].query["format"] == ["basic_info"]


def test_a_server_that_ignores_the_source_format_costs_no_source_list(aurorax: FakeAuroraX) -> None:
    aurorax.source_format = False
    with backend(aurorax.url) as remote:
        assert remote.search(QUERY).data == expected_products(REAL_RECORDS)
    assert _source_list_gets(aurorax) == 0


def test_identifier_only_sources_with_null_fields_are_named_too(aurorax: FakeAuroraX) -> None:
    # PROTOCOL open question: the other keys may come back as null rather than absent.
    aurorax.source_format = False
    nulls = dict.fromkeys(("program", "platform", "instrument_type", "source_type", "display_name"))
    aurorax.records = [
        {**r, "data_source": {"identifier": r["data_source"]["identifier"], **nulls}} for r in REAL_RECORDS
    ]
    aurorax.sources = [r["data_source"] for r in REAL_RECORDS]
    with backend(aurorax.url) as remote:
        assert remote.search(QUERY).data == expected_products(REAL_RECORDS)


def test_a_source_the_cached_list_lacks_is_fetched_again(aurorax: FakeAuroraX) -> None:
    aurorax.records = REAL_RECORDS[:1]
    with backend(aurorax.url) as remote:
        remote.search(QUERY)
        aurorax.records = copy.deepcopy(REAL_RECORDS)  # a source the first list did not have
        assert remote.search(QUERY).data == expected_products(REAL_RECORDS)
    assert _source_list_gets(aurorax) == 2


def test_a_source_the_server_does_not_list_is_a_malformed_response(aurorax: FakeAuroraX) -> None:
    aurorax.sources = [REAL_RECORDS[0]["data_source"]]
    with backend(aurorax.url) as remote, pytest.raises(MalformedResponse, match="names data source 96, which is not"):
        remote.search(QUERY)
    assert _source_list_gets(aurorax) == 1  # fetched once for this search, not in a loop


def test_json_that_only_pythons_decoder_reads_still_arrives(aurorax: FakeAuroraX) -> None:
    # json.dumps (and so our server) writes NaN; Python ints have no 64-bit limit
    aurorax.records = [{**REAL_RECORDS[0], "metadata": {"cloud": float("nan"), "frames": 2**70, "note": "\u00e9"}}]
    with backend(aurorax.url) as remote:
        (product,) = remote.search(QUERY)
    assert product.metadata["frames"] == 2**70 and product.metadata["note"] == "\u00e9"
    assert math.isnan(product.metadata["cloud"])


def test_ctrl_c_during_a_search_cancels_it_on_the_server(aurorax: FakeAuroraX) -> None:
    def interrupt(event: SearchEvent) -> None:
        if event.stage == "available":  # the user presses Ctrl-C while the search runs
            raise KeyboardInterrupt

    with backend(aurorax.url) as remote, pytest.raises(KeyboardInterrupt):
        remote.search(QUERY, progress=interrupt)
    assert len(aurorax.stub.requests("DELETE")) == 1


def test_polling_is_fast_at_first_and_backs_off(aurorax: FakeAuroraX) -> None:
    # Default schedule over one second of "pending": every 20 ms at first (a fixed 1 s poll would
    # give 2 status requests), then a growing pause (a fixed 20 ms poll would give ~50).
    aurorax.pending_polls = 10**9
    with RemoteBackend(aurorax.url, timeout=2.0) as remote, pytest.raises(SearchTimeout):
        remote.search(QUERY, timeout=1.0)
    polls = len(aurorax.stub.requests("GET"))
    assert 8 <= polls <= 40
