"""Every HTTP failure ends, within the deadline, in a typed error a user understands.

The servers here really misbehave on 127.0.0.1: closed ports, 4xx/5xx answers, stalls after the
headers, connections dropped mid-body, garbage bodies.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from aurorax_core import (
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    DataProductQuery,
    Maintenance,
    MalformedResponse,
    NotFound,
    RemoteBackend,
    Unauthorized,
)

from .stubs import REAL_RECORDS, FakeAuroraX, Handler, Reply, Seen, Stub

QUERY = DataProductQuery(start="2020-01-01", end="2020-01-01T23:59:59", programs=["trex"])
STATUS_RE = r"/api/v1/data_products/requests/[^/]+"
DATA_RE = r"/api/v1/data_products/requests/[^/]+/data"


def backend(url: str, **kwargs: Any) -> RemoteBackend:
    options: dict[str, Any] = {"timeout": 2.0, "deadline": 10.0, "poll_initial": 0.005, "poll_max": 0.05}
    options.update(kwargs)
    return RemoteBackend(url, **options)


# --- transport failures -----------------------------------------------------------------------


def test_a_server_that_is_down_gives_backend_unavailable_with_the_url(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    with backend(url) as remote, pytest.raises(BackendUnavailable) as info:
        remote.search(QUERY)
    message = str(info.value)
    assert message == f"cannot reach the AuroraX API at {url}: connection refused; check the URL or your network"


def test_connectivity_check_on_a_closed_port(closed_port: int) -> None:
    with backend(f"http://127.0.0.1:{closed_port}") as remote, pytest.raises(BackendUnavailable, match="refused"):
        remote.check_connectivity()


def _stall_after_headers(stub: Stub) -> Any:
    def route(handler: Handler, seen: Seen, match: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "5000")
        handler.end_headers()
        handler.wfile.write(b'{"result": [')
        handler.wfile.flush()
        stub.stop.wait(30)  # released when the test's server closes
        handler.close_connection = True

    return route


def test_a_stall_mid_response_ends_with_backend_timeout(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)
    stub.route("GET", DATA_RE, _stall_after_headers(stub))
    started = time.monotonic()
    with backend(aurorax.url, timeout=0.4) as remote, pytest.raises(BackendTimeout) as info:
        remote.search(QUERY)
    assert time.monotonic() - started < 10  # the server would stall for 30 s
    assert "did not answer the data of request" in str(info.value)
    assert "within 0.4 s" in str(info.value)


def test_a_stall_longer_than_the_search_deadline_is_a_search_timeout(stub: Stub) -> None:
    from aurorax_core import SearchTimeout

    aurorax = FakeAuroraX(stub)
    stub.route("GET", DATA_RE, _stall_after_headers(stub))
    with backend(aurorax.url, timeout=5.0) as remote, pytest.raises(SearchTimeout):
        remote.search(QUERY, timeout=0.5)
    assert len(stub.requests("DELETE")) == 1


def test_a_trickling_server_cannot_outlive_the_deadline(stub: Stub) -> None:
    def trickle(handler: Handler, seen: Seen, match: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        for _ in range(300):  # one byte every 50 ms: each read is fast, the whole would take 15 s
            if stub.stop.wait(0.05):
                return
            try:
                handler.wfile.write(b" ")
                handler.wfile.flush()
            except OSError:
                return

    stub.route("GET", r"/api/v1/availability/data_products", trickle)
    started = time.monotonic()
    with backend(stub.url, timeout=1.0, deadline=0.6) as remote, pytest.raises(BackendTimeout, match=r"0\.6 s"):
        remote.availability("2020-01-01", "2020-01-02")
    assert time.monotonic() - started < 10


def test_a_connection_dropped_mid_body_gives_backend_unavailable(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)

    def drop(handler: Handler, seen: Seen, match: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(b'{"result": [{"data_source": ')
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.close()

    stub.route("GET", DATA_RE, drop)
    with backend(aurorax.url) as remote, pytest.raises(BackendUnavailable) as info:
        remote.search(QUERY)
    assert "dropped the connection while sending the data of request" in str(info.value)


def test_a_connection_closed_before_any_answer_gives_backend_unavailable(stub: Stub) -> None:
    def hang_up(handler: Handler, seen: Seen, match: Any) -> None:
        handler.close_connection = True
        handler.connection.close()

    stub.route("POST", r"/api/v1/data_products/search", hang_up)
    with backend(stub.url) as remote, pytest.raises(BackendUnavailable, match=r"closed the connection|reset"):
        remote.search(QUERY)
    assert len(stub.requests("POST")) == 1  # a POST is never retried


# --- HTTP statuses ----------------------------------------------------------------------------


def test_500_then_200_on_a_get_is_retried_and_succeeds(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)
    answered = {"n": 0}

    def flaky_data(handler: Handler, seen: Seen, match: Any) -> Reply:
        answered["n"] += 1
        if answered["n"] == 1:
            return Reply(500, {"error_code": "ApplicationError", "error_message": "transient"})
        return Reply(200, {"result": REAL_RECORDS})

    stub.route("GET", DATA_RE, flaky_data)
    with backend(aurorax.url) as remote:
        result = remote.search(QUERY)
    assert len(result) == len(REAL_RECORDS)
    assert len(stub.requests("GET", DATA_RE)) == 2


def test_500_on_the_search_post_is_not_retried(stub: Stub) -> None:
    stub.route("POST", r"/api/v1/data_products/search", Reply(500, {"error_message": "NullPointerException"}))
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError) as info:
        remote.search(QUERY)
    assert info.value.status == 500
    assert "HTTP 500 server error: NullPointerException" in str(info.value)
    assert len(stub.requests("POST")) == 1


def test_400_carries_the_servers_reason(stub: Stub) -> None:
    stub.route(
        "POST",
        r"/api/v1/data_products/search",
        Reply(400, "Missing or invalid parameters: start must be before end", "text/plain"),
    )
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError) as info:
        remote.search(QUERY)
    assert info.value.status == 400
    assert "Missing or invalid parameters: start must be before end" in str(info.value)


@pytest.mark.parametrize(("status", "hint"), [(401, "--api-key"), (403, "does not allow")])
def test_401_and_403_are_unauthorized(stub: Stub, status: int, hint: str) -> None:
    stub.route(
        "POST",
        r"/api/v1/data_products/search",
        Reply(status, {"error_code": "NotAuthorized", "error_message": "API key is not valid"}),
    )
    with backend(stub.url) as remote, pytest.raises(Unauthorized) as info:
        remote.search(QUERY)
    assert info.value.status == status
    assert "API key is not valid" in str(info.value) and hint in str(info.value)


def test_404_unknown_request_id(aurorax: FakeAuroraX) -> None:
    with backend(aurorax.url) as remote, pytest.raises(NotFound) as info:
        remote.request_status("some-bad-request-id")
    assert info.value.status == 404
    assert "no search request some-bad-request-id" in str(info.value)


def test_502_is_retried_for_gets_then_reported(stub: Stub) -> None:
    stub.route("GET", r"/api/v1/data_sources", Reply(502, "<html><body>Bad Gateway</body></html>", "text/html"))
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError) as info:
        remote.list_sources()
    assert info.value.status == 502
    assert "bad gateway" in str(info.value)
    assert len(stub.requests("GET")) == 3  # the first try and two retries


def test_503_maintenance_mode(stub: Stub) -> None:
    body = {"error_code": "Unavailable", "error_message": "AuroraX is currently in maintenance mode"}
    stub.route("POST", r"/api/v1/data_products/search", Reply(503, body))
    with backend(stub.url) as remote, pytest.raises(Maintenance) as info:
        remote.search(QUERY)
    assert "maintenance mode" in str(info.value) and "try again later" in str(info.value)


def test_503_without_maintenance_is_a_plain_http_error(stub: Stub) -> None:
    stub.route("POST", r"/api/v1/data_products/search", Reply(503, {"error_message": "overloaded"}))
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError) as info:
        remote.search(QUERY)
    assert not isinstance(info.value, Maintenance)
    assert info.value.status == 503


def test_an_expired_result_file_is_not_found(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)
    stub.route("GET", DATA_RE, Reply(404, {"error_code": "NotFound", "error_message": "result file deleted"}))
    with backend(aurorax.url) as remote, pytest.raises(NotFound, match=r"no longer on .*result file deleted"):
        remote.search(QUERY)


# --- garbage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "<html><body>Welcome to nginx!</body></html>", "text/html"),
        Reply(200, b"{not json", "application/json"),
        Reply(200, b"", "application/json"),
        Reply(200, [1, 2, 3]),
        Reply(200, {"search_result": [1]}),
        Reply(200, {"search_result": {"data_uri": 5}}),
        Reply(200, {"search_result": {"data_uri": None, "error_condition": "yes"}}),
        Reply(200, {"search_result": {"data_uri": "/x", "file_size": "big"}}),
        Reply(200, {"logs": "nope", "search_result": {}}),
        Reply(200, {"logs": [{"level": "info", "summary": "x", "timestamp": "yesterday"}], "search_result": {}}),
    ],
    ids=["html", "broken-json", "empty", "array", "result-list", "uri-number", "flag-text", "size-text", "logs", "ts"],
)
def test_garbage_status_is_malformed_response(stub: Stub, reply: Reply) -> None:
    aurorax = FakeAuroraX(stub)
    stub.route("GET", STATUS_RE, reply)
    with backend(aurorax.url) as remote, pytest.raises(MalformedResponse) as info:
        remote.search(QUERY)
    assert "AuroraX" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        REAL_RECORDS,  # the bare array of the third-party spec: no "result" envelope
        {"results": REAL_RECORDS},
        {"result": {"a": 1}},
        {"result": ["text"]},
        {"result": [{**REAL_RECORDS[0], "url": None}]},
        {"result": [{**REAL_RECORDS[0], "start": "soon"}]},
        {"result": [{**REAL_RECORDS[0], "data_product_type": "hologram"}]},
        {"result": [{**REAL_RECORDS[0], "data_source": {"identifier": 1}}]},
        {"result": [{**REAL_RECORDS[0], "metadata": [1]}]},
        {"result": [{**REAL_RECORDS[0], "end": "2019-01-01T00:00:00"}]},
        {"result": [{**REAL_RECORDS[0], "data_product_type": ["keogram"]}]},
        {"result": [{**REAL_RECORDS[0], "data_source": {**REAL_RECORDS[0]["data_source"], "identifier": [103]}}]},
        {"result": [{**REAL_RECORDS[0], "start": 20200101}]},
    ],
    ids=[
        "bare-array",
        "wrong-key",
        "dict",
        "string",
        "no-url",
        "bad-time",
        "type",
        "source",
        "meta",
        "end<start",
        "type-list",
        "id-list",
        "time-number",
    ],
)
def test_garbage_data_is_malformed_response(stub: Stub, body: Any) -> None:
    aurorax = FakeAuroraX(stub)
    stub.route("GET", DATA_RE, Reply(200, body))
    with backend(aurorax.url) as remote, pytest.raises(MalformedResponse):
        remote.search(QUERY)


def test_an_error_document_instead_of_data(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)
    error = {"error": {"error_code": "ApplicationError", "error_message": "cannot read result file"}}
    stub.route("GET", DATA_RE, Reply(200, error))
    with backend(aurorax.url) as remote, pytest.raises(BackendHTTPError, match="cannot read result file"):
        remote.search(QUERY)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Location": "ftp://elsewhere/x"}, {"Location": "http://"}],
    ids=["missing", "ftp", "no-host"],
)
def test_a_submit_without_a_usable_location_is_malformed(stub: Stub, headers: dict[str, str]) -> None:
    stub.route("POST", r"/api/v1/data_products/search", Reply(202, None, None, headers))
    with backend(stub.url) as remote, pytest.raises(MalformedResponse, match="Location"):
        remote.search(QUERY)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", None, "text/plain", "APPLICATION/JSON"])
def test_content_type_variants_of_valid_json_are_accepted(stub: Stub, content_type: str | None) -> None:
    aurorax = FakeAuroraX(stub)

    def data(handler: Handler, seen: Seen, match: Any) -> Reply:
        return Reply(200, {"result": REAL_RECORDS}, content_type)

    stub.route("GET", DATA_RE, data)
    with backend(aurorax.url) as remote:
        assert len(remote.search(QUERY)) == len(REAL_RECORDS)


def test_every_failure_is_a_backend_error_subclass() -> None:
    # The CLI and the dashboard catch BackendError for any remote failure.
    for error in (BackendUnavailable, BackendTimeout, BackendHTTPError, Unauthorized, NotFound, Maintenance):
        assert issubclass(error, BackendError)
    assert issubclass(MalformedResponse, BackendError)


def test_a_body_that_is_not_really_gzip_is_malformed(stub: Stub) -> None:
    aurorax = FakeAuroraX(stub)
    stub.route("GET", DATA_RE, Reply(200, b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"}))
    with backend(aurorax.url) as remote, pytest.raises(MalformedResponse, match="cannot be decoded"):
        remote.search(QUERY)


def test_a_gzip_body_is_decoded(stub: Stub) -> None:
    import gzip
    import json

    aurorax = FakeAuroraX(stub)
    packed = gzip.compress(json.dumps({"result": REAL_RECORDS}).encode())
    stub.route("GET", DATA_RE, Reply(200, packed, headers={"Content-Encoding": "gzip"}))
    with backend(aurorax.url) as remote:
        assert len(remote.search(QUERY)) == len(REAL_RECORDS)


def test_429_says_the_server_is_rate_limiting(stub: Stub) -> None:
    stub.route("POST", r"/api/v1/data_products/search", Reply(429, {"error_code": "ToManyRequests"}))
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError, match="rate-limiting") as info:
        remote.search(QUERY)
    assert info.value.status == 429


@pytest.mark.parametrize("timeout", [0, -1, "5", True])
def test_a_bad_search_timeout_is_rejected_before_any_request(stub: Stub, timeout: Any) -> None:
    from aurorax_core import QueryValidationError

    with backend(stub.url) as remote, pytest.raises(QueryValidationError, match="timeout"):
        remote.search(QUERY, timeout=timeout)
    with backend(stub.url) as remote, pytest.raises(QueryValidationError, match="DataProductQuery"):
        remote.search(QUERY.to_api_payload())  # type: ignore[arg-type]
    assert stub.requests() == []


def test_a_server_that_never_answers_a_post_times_out_without_a_retry(stub: Stub) -> None:
    def silent(handler: Handler, seen: Seen, match: Any) -> None:
        stub.stop.wait(30)  # accepts the request, never answers
        handler.close_connection = True

    stub.route("POST", r"/api/v1/data_products/search", silent)
    with backend(stub.url, timeout=0.3) as remote, pytest.raises(BackendTimeout, match="did not answer the search"):
        remote.search(QUERY)
    assert len(stub.requests("POST")) == 1


def test_a_redirected_post_names_the_new_address(stub: Stub) -> None:
    target = "https://api.aurorax.space/api/v1/data_products/search"
    stub.route("POST", r"/api/v1/data_products/search", Reply(301, None, None, {"Location": target}))
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError, match="use that address") as info:
        remote.search(QUERY)
    assert target in str(info.value)
