"""Bad input and faults against real servers on 127.0.0.1: always a 4xx AuroraX error document, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from aurorax_core import DataProductQuery
from aurorax_core.backends.catalog import CatalogBackend

from .conftest import API_KEY, submit, wait

QUERY: dict[str, Any] = {
    "data_sources": {"programs": ["auroramax"], "platforms": [], "instrument_types": []},
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_product_type_filters": [],
}


def _with(**changes: Any) -> str:
    return json.dumps({**QUERY, **changes})


def _sources(**changes: Any) -> str:
    return json.dumps({**QUERY, "data_sources": {**QUERY["data_sources"], **changes}})


def assert_error(reply: requests.Response, status: int, code: str, *fragments: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    doc = reply.json()
    assert set(doc) == {"error_code", "error_message"}
    assert doc["error_code"] == code
    for fragment in fragments:
        assert fragment in doc["error_message"], doc["error_message"]


BAD_QUERIES = [
    pytest.param("{not json", "not valid JSON", id="malformed-json"),
    pytest.param("", "empty", id="empty-body"),
    pytest.param(b"\xff\xfe{}", "UTF-8", id="not-utf8"),
    pytest.param("[1, 2]", "JSON object", id="array"),
    pytest.param('"a string"', "JSON object", id="string"),
    # 30,000 deep: within the 64 kB query limit (a deeper one is refused by size, 413, before parsing)
    pytest.param("[" * 30000 + "]" * 30000, "JSON", id="nested-30000-deep"),
    pytest.param('{"start": ' + "9" * 10000 + "}", "JSON", id="huge-integer"),
    pytest.param(_with(start=5), "start", id="start-number"),
    pytest.param(_with(start=None), "start", id="start-null"),
    pytest.param(_with(data_sources=[]), "data_sources", id="data-sources-list"),
    pytest.param(_with(start="yesterday"), "start", id="start-text"),
    pytest.param(json.dumps({k: v for k, v in QUERY.items() if k != "end"}), "'end'", id="no-end"),
    pytest.param(_with(end="2019-12-31T00:00:00"), "before start", id="end-before-start"),
    pytest.param(_with(start="1950-01-01T00:00:00", end="2050-01-01T00:00:00"), "25 years", id="100-years"),
    pytest.param(_with(data_product_type_filters=["photo"]), "photo", id="unknown-type"),
    pytest.param(_with(data_product_type_filters="keogram"), "list", id="types-not-list"),
    pytest.param(_with(surprise=1), "surprise", id="unknown-key"),
    pytest.param(_sources(programs="trex"), "programs", id="programs-string"),
    pytest.param(_sources(programs=[1]), "programs", id="programs-number"),
    pytest.param(_sources(sites=["gill"]), "sites", id="unknown-source-key"),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [{"key": "k", "operator": "like", "values": ["x"]}]}),
        "like",
        id="unknown-operator",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [{"key": "k", "operator": "=", "values": "x"}]}),
        "values",
        id="values-not-list",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [{"key": "k", "operator": "between", "values": [1]}]}),
        "between",
        id="between-one-value",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [{"key": "k", "operator": "="}]}),
        "values",
        id="expression-without-values",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [], "logical_operator": "XOR"}),
        "logical_operator",
        id="bad-logical-operator",
    ),
    pytest.param(_sources(data_product_metadata_filters=7), "data_product_metadata_filters", id="filters-number"),
]


@pytest.mark.parametrize("body,fragment", BAD_QUERIES)
@pytest.mark.parametrize(
    "path", ["/api/v1/data_products/search", "/api/v1/utils/describe/query/data_products"], ids=["submit", "describe"]
)
def test_bad_queries_get_a_400_error_document(
    server: str, http: requests.Session, path: str, body: str | bytes, fragment: str
) -> None:
    reply = http.post(server + path, data=body, headers={"content-type": "application/json"})
    assert_error(reply, 400, "AssertionError", fragment)
    assert "Location" not in reply.headers


def test_a_50_mb_body_is_refused_with_413(server: str, http: requests.Session) -> None:
    body = b'{"start": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    reply = http.post(
        server + "/api/v1/data_sources/400/data_products", data=body, headers={"x-aurorax-api-key": API_KEY}
    )
    assert_error(reply, 413, "AssertionError", "larger than this server accepts")
    # a query route refuses it by the query limit, naming it and the size given
    reply = http.post(server + "/api/v1/data_products/search", data=body)
    assert_error(reply, 413, "AssertionError", "MAX_QUERY_BYTES", f"{len(body):,} bytes")
    # the connection and the server are fine afterwards
    assert http.get(server + "/").status_code == 200


def test_a_50_mb_chunked_body_is_refused_with_413(server: str, http: requests.Session) -> None:
    def chunks() -> Any:
        for _ in range(50):
            yield b"x" * (1024 * 1024)

    reply = http.post(server + "/api/v1/data_products/search", data=chunks())
    assert_error(reply, 413, "AssertionError", "MAX_QUERY_BYTES")
    reply = http.post(
        server + "/api/v1/data_sources/400/data_products", data=chunks(), headers={"x-aurorax-api-key": API_KEY}
    )
    assert_error(reply, 413, "AssertionError", "larger than this server accepts")


def test_a_query_spanning_100_years_is_refused(server: str, http: requests.Session) -> None:
    reply = http.post(
        server + "/api/v1/data_products/search", data=_with(start="1920-01-01T00:00:00", end="2020-01-01T00:00:00")
    )
    assert_error(reply, 400, "AssertionError", "25 years")


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/api/v1/data_products/search"),
        ("GET", "/api/v1/data_products/search"),
        ("PATCH", "/api/v1/availability/data_products"),
        ("GET", "/api/v1/nothing/here"),
        ("GET", "/favicon.ico"),
    ],
)
def test_wrong_methods_and_paths_get_error_documents(
    server: str, http: requests.Session, method: str, path: str
) -> None:
    reply = http.request(method, server + path, data="{}")
    assert reply.status_code in (404, 405)
    assert reply.headers["Content-Type"] == "application/json"
    assert set(reply.json()) == {"error_code", "error_message"}


# --- data sources and availability -------------------------------------------------------------


@pytest.mark.parametrize(
    "path,status,fragment",
    [
        ("/api/v1/data_sources?include_stats=maybe", 400, "include_stats"),
        ("/api/v1/data_sources?format=everything", 400, "format"),
        ("/api/v1/data_sources/abc", 400, "not an integer"),
        ("/api/v1/data_sources/12345678", 404, "No Data Source record found in AuroraX for identifier 12345678"),
        ("/api/v1/availability/data_products?start=2020-01-05&end=2020-01-01", 400, "before start"),
        ("/api/v1/availability/data_products?start=2020-13-01&end=2020-12-01", 400, "not a date"),
        ("/api/v1/availability/data_products?start=1900-01-01&end=2020-01-01", 400, "25 years"),
        ("/api/v1/availability/data_products?start=2020-01-01&end=2020-01-02&slow=perhaps", 400, "slow"),
    ],
)
def test_bad_source_and_availability_requests(
    server: str, http: requests.Session, path: str, status: int, fragment: str
) -> None:
    reply = http.get(server + path, data="{}")
    assert_error(reply, status, "AssertionError" if status == 400 else "NotFound", fragment)


@pytest.mark.parametrize("body", ['{"programs": "swarm"}', '{"programs": [3]}', "[]", "{bad"])
def test_bad_source_search_bodies(server: str, http: requests.Session, body: str) -> None:
    assert_error(http.post(server + "/api/v1/data_sources/search", data=body), 400, "AssertionError")


# --- writes: API keys, validation, the catalog unchanged after any failed write ----------------

UPLOAD = [
    {
        "data_product_type": "keogram",
        "start": "2020-01-01T00:00:00.000",
        "end": "2020-01-01T23:59:00.000",
        "url": "test.jpg",
        "metadata": {"test_meta1": "testing1"},
        "program": "test-program",
        "platform": "test-platform",
        "instrument_type": "test-instrument-type",
    }
]


def _snapshot(path: Path) -> list[dict[str, Any]]:
    catalog = CatalogBackend(path)
    try:
        result = catalog.search(DataProductQuery(start="2019-01-01", end="2021-01-01T00:00:00"))
        sources = [s.to_api_dict("full_record") for s in catalog.list_sources()]
        return [*result.to_api_records("full_record"), *sources]
    finally:
        catalog.close()


BAD_WRITES = [
    pytest.param("POST", "/api/v1/data_sources/400/data_products", {}, UPLOAD, 401, "NotAuthenticated", id="no-key"),
    pytest.param(
        "POST",
        "/api/v1/data_sources/400/data_products",
        {"x-aurorax-api-key": "wrong"},
        UPLOAD,
        403,
        "NotPermitted",
        id="wrong-key",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/175/data_products",
        {"x-aurorax-api-key": API_KEY},
        UPLOAD,
        400,
        "AssertionError",
        id="source-mismatch",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/400/data_products",
        {"x-aurorax-api-key": API_KEY},
        [*UPLOAD, {**UPLOAD[0], "url": "second.jpg", "platform": "elsewhere"}],
        400,
        "AssertionError",
        id="second-record-mismatch",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/400/data_products",
        {"x-aurorax-api-key": API_KEY},
        [*UPLOAD, {**UPLOAD[0], "url": "bad-date.jpg", "start": "soon"}],
        400,
        "AssertionError",
        id="bad-date",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/400/data_products",
        {"x-aurorax-api-key": API_KEY},
        [*UPLOAD, {**UPLOAD[0], "url": "x.jpg", "data_product_type": "photo"}],
        400,
        "AssertionError",
        id="bad-type",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/400/data_products",
        {"x-aurorax-api-key": API_KEY},
        [*UPLOAD, UPLOAD[0]],
        400,
        "AssertionError",
        id="duplicate-url",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/400/data_products",
        {"x-aurorax-api-key": API_KEY},
        {"records": UPLOAD},
        400,
        "AssertionError",
        id="not-an-array",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources/999/data_products",
        {"x-aurorax-api-key": API_KEY},
        UPLOAD,
        404,
        "NotFound",
        id="unknown-source",
    ),
    pytest.param(
        "DELETE",
        "/api/v1/data_sources/175/data_products",
        {},
        {"program": "auroramax", "platform": "yellowknife", "instrument_type": "DSLR", "urls": ["x"]},
        401,
        "NotAuthenticated",
        id="delete-no-key",
    ),
    pytest.param(
        "DELETE",
        "/api/v1/data_sources/175/data_products",
        {"x-aurorax-api-key": API_KEY},
        {
            "program": "trex",
            "platform": "gillam",
            "instrument_type": "RGB ASI",
            "urls": ["https://example.org/175/20200101/movie.mp4"],
        },
        400,
        "AssertionError",
        id="delete-source-mismatch",
    ),
    pytest.param(
        "DELETE",
        "/api/v1/data_sources/175/data_products",
        {"x-aurorax-api-key": API_KEY},
        {"program": "auroramax", "platform": "yellowknife", "instrument_type": "DSLR", "urls": "all"},
        400,
        "AssertionError",
        id="delete-urls-not-list",
    ),
    pytest.param(
        "DELETE", "/api/v1/data_sources/175", {"x-aurorax-api-key": API_KEY}, {}, 409, "Conflict", id="source-has-data"
    ),
    pytest.param("DELETE", "/api/v1/data_sources/3", {"x-aurorax-api-key": "nope"}, {}, 403, "NotPermitted", id="d403"),
    pytest.param(
        "POST",
        "/api/v1/data_sources",
        {"x-aurorax-api-key": API_KEY},
        {
            "program": "swarm",
            "platform": "swarma",
            "instrument_type": "footprint",
            "source_type": "leo",
            "display_name": "Again",
        },
        409,
        "Conflict",
        id="duplicate-source",
    ),
    pytest.param(
        "POST",
        "/api/v1/data_sources",
        {"x-aurorax-api-key": API_KEY},
        {"program": "p", "platform": 5, "instrument_type": "i", "source_type": "ground", "display_name": "d"},
        400,
        "AssertionError",
        id="source-wrong-type",
    ),
    pytest.param(
        "PATCH",
        "/api/v1/data_sources/3",
        {"x-aurorax-api-key": API_KEY},
        {"program": "auroramax", "platform": "yellowknife", "instrument_type": "DSLR"},
        409,
        "Conflict",
        id="patch-onto-existing-triple",
    ),
]


@pytest.mark.parametrize("method,path,headers,body,status,code", BAD_WRITES)
def test_failed_writes_leave_the_catalog_unchanged(
    make_server: Any,
    http: requests.Session,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any,
    status: int,
    code: str,
) -> None:
    url, catalog_path = make_server()
    before = _snapshot(catalog_path)
    reply = http.request(method, url + path, data=json.dumps(body), headers=headers)
    assert_error(reply, status, code)
    assert _snapshot(catalog_path) == before


def test_writes_are_refused_when_the_operator_configured_no_key(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server(api_keys=[])
    reply = http.post(url + "/api/v1/data_sources/400/data_products", json=UPLOAD, headers={"x-aurorax-api-key": "k"})
    assert_error(reply, 403, "NotPermitted", "--api-key")


@pytest.mark.parametrize("search_processes", [0, 2], ids=["threads", "processes"])
def test_upload_search_delete_round_trip(make_server: Any, http: requests.Session, search_processes: int) -> None:
    # with processes, the searches run on the workers' own connections: they must see each write
    url, catalog_path = make_server(search_processes=search_processes)
    key = {"x-aurorax-api-key": API_KEY}
    query = {**QUERY, "data_sources": {"programs": ["test-program"]}}

    def search() -> list[dict[str, Any]]:
        location = submit(http, url, query)
        wait(http, location)
        return http.get(location + "/data").json()["result"]

    assert search() == []
    reply = http.post(url + "/api/v1/data_sources/400/data_products", json=UPLOAD, headers=key)
    assert reply.status_code == 202
    assert [(r["url"], r["start"], r["end"], r["metadata"]) for r in search()] == [
        ("test.jpg", "2020-01-01T00:00:00", "2020-01-01T23:59:00", {"test_meta1": "testing1"})
    ]
    delete = {"program": "test-program", "platform": "test-platform", "instrument_type": "test-instrument-type"}
    reply = http.delete(
        url + "/api/v1/data_sources/400/data_products", json={**delete, "urls": ["test.jpg"]}, headers=key
    )
    assert reply.status_code == 200
    assert search() == []
    catalog = CatalogBackend(catalog_path)
    try:
        assert len(catalog.search(DataProductQuery.from_api_payload(query))) == 0
    finally:
        catalog.close()


def test_data_source_add_update_delete(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server()
    key = {"x-aurorax-api-key": API_KEY}
    body = {
        "identifier": 402,
        "program": "test-program-update",
        "platform": "test-platform",
        "instrument_type": "test-instrument-type",
        "source_type": "ground",
        "display_name": "Testing",
        "metadata": None,
        "ephemeris_metadata_schema": None,
        "data_product_metadata_schema": None,
    }
    created = http.post(url + "/api/v1/data_sources", json=body, headers=key)
    assert created.status_code == 200, created.text
    assert created.json()["identifier"] == 402
    patched = http.patch(
        url + "/api/v1/data_sources/402", json={"instrument_type": "changed", "metadata": {}}, headers=key
    )
    assert patched.status_code == 200, patched.text
    got = http.get(url + "/api/v1/data_sources/402?format=full_record").json()
    assert got["instrument_type"] == "changed"
    assert http.delete(url + "/api/v1/data_sources/402", headers=key).status_code == 200
    assert http.get(url + "/api/v1/data_sources/402").status_code == 404


def test_random_garbage_never_gets_a_500(make_server: Any, http: requests.Session) -> None:
    """Seeded random requests over every route: always an answer, never a 5xx, errors as documents."""
    import random

    server, _ = make_server()  # a private copy: some random writes succeed
    rng = random.Random(7)
    paths = [
        "/",
        "/api/v1/data_products/search",
        "/api/v1/data_products/search_synchronous",
        "/api/v1/data_products/requests/{id}",
        "/api/v1/data_products/requests/{id}/data",
        "/api/v1/utils/describe/query/data_products",
        "/api/v1/data_sources",
        "/api/v1/data_sources/search",
        "/api/v1/data_sources/{id}",
        "/api/v1/data_sources/{id}/data_products",
        "/api/v1/availability/data_products",
    ]
    ids = ["175", "-1", "0", "99999999999999999999", "abc", "%00", "00000000-0000-0000-0000-000000000000", "é"]
    params = [
        "",
        "?format=full_record&include_stats=True",
        "?start=2020-02-29",
        "?start=9999-12-31",
        "?start=0001-01-01&end=0001-01-02",
        "?data_source_record_format=nope",
        "?include_stats=%FF",
        "?program=%00&platform=" + "x" * 5000,
    ]
    bodies: list[bytes] = [
        b"",
        b"{}",
        b"[]",
        b"null",
        b"0",
        b'"x"',
        b"\x00\x01",
        b'{"start": {}}',
        b'{"query": []}',
        b'{"urls": [null], "program": 1}',
        b'[{"url": 5}]',
        json.dumps(
            {
                "data_sources": {
                    "data_product_metadata_filters": {"expressions": [{"key": {}, "operator": "=", "values": [[]]}]}
                },
                "start": "2020-01-01",
                "end": "2020-01-02",
            }
        ).encode(),
        json.dumps({**QUERY, "start": "2020-01-01T25:00:00"}).encode(),
        json.dumps([{**UPLOAD[0], "metadata": [1]}]).encode(),
        json.dumps({"response_format": {"a": {"b": {"c": 1}}}, "query": QUERY}).encode(),
    ]
    # queries at and just past each limit, on every route that takes one
    bodies += [json.dumps(p.values[n]).encode() for p in _limit_cases() for n in (1, 2)]
    bodies += [json.dumps({"query": p.values[2]}).encode() for p in _limit_cases()]
    keys = [{}, {"x-aurorax-api-key": API_KEY}, {"x-aurorax-api-key": "\u00e9"}]
    for _ in range(300):
        method = rng.choice(["GET", "POST", "DELETE", "PATCH", "PUT"])
        path = rng.choice(paths).replace("{id}", rng.choice(ids)) + rng.choice(params)
        headers = {k: v.encode("utf-8").decode("latin-1") for k, v in rng.choice(keys).items()}
        reply = http.request(method, server + path, data=rng.choice(bodies), headers=headers)
        assert reply.status_code < 500, (method, path, reply.text)
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        if reply.status_code >= 400:
            assert reply.headers["Content-Type"] == "application/json"
            assert set(reply.json()) == {"error_code", "error_message"}


def test_search_processes_see_a_renamed_data_source(make_server: Any, http: requests.Session) -> None:
    url, _ = make_server(search_processes=2)
    key = {"x-aurorax-api-key": API_KEY}
    assert http.post(url + "/api/v1/data_sources/400/data_products", json=UPLOAD, headers=key).status_code == 202
    query = {**QUERY, "data_sources": {"programs": ["test-program"]}}

    def display_names() -> list[str]:
        location = submit(http, url, query)
        wait(http, location)
        return [r["data_source"]["display_name"] for r in http.get(location + "/data").json()["result"]]

    before = display_names()
    assert len(before) == 1 and before != ["Renamed"]
    patched = http.patch(url + "/api/v1/data_sources/400", json={"display_name": "Renamed"}, headers=key)
    assert patched.status_code == 200, patched.text
    assert display_names() == ["Renamed"]


def _limit_cases() -> list[Any]:
    """(limit name, query at the limit, the same just past it) for each query limit."""
    from aurorax_core import query as q

    base = {"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59"}

    def with_filters(expressions: list[dict[str, Any]]) -> dict[str, Any]:
        return {**base, "data_sources": {"data_product_metadata_filters": {"expressions": expressions}}}

    def values(n: int) -> list[dict[str, Any]]:
        return [{"key": "keogram_type", "operator": "in", "values": [f"v{i}" for i in range(n)]}]

    def spread(total: int) -> list[dict[str, Any]]:
        n = q.MAX_METADATA_EXPRESSIONS
        return [
            {"key": f"k{i}", "operator": "in", "values": [f"v{j}" for j in range(total // n + (i < total % n))]}
            for i in range(n)
        ]

    def expressions(n: int) -> list[dict[str, Any]]:
        return [{"key": f"k{i}", "operator": "=", "values": ["x"]} for i in range(n)]

    def one(key: str = "k", value: str = "x") -> list[dict[str, Any]]:
        return [{"key": key, "operator": "=", "values": [value]}]

    def names(field: str, n: int, length: int = 4) -> dict[str, Any]:
        return {**base, "data_sources": {field: [f"{i:04d}".ljust(length, "n") for i in range(n)]}}

    cases = [
        (
            "MAX_METADATA_EXPRESSIONS",
            with_filters(expressions(q.MAX_METADATA_EXPRESSIONS)),
            with_filters(expressions(q.MAX_METADATA_EXPRESSIONS + 1)),
        ),
        (
            "MAX_VALUES_PER_EXPRESSION",
            with_filters(values(q.MAX_VALUES_PER_EXPRESSION)),
            with_filters(values(q.MAX_VALUES_PER_EXPRESSION + 1)),
        ),
        ("MAX_FILTER_VALUES", with_filters(spread(q.MAX_FILTER_VALUES)), with_filters(spread(q.MAX_FILTER_VALUES + 1))),
        (
            "MAX_KEY_LENGTH",
            with_filters(one(key="k" * q.MAX_KEY_LENGTH)),
            with_filters(one(key="k" * (q.MAX_KEY_LENGTH + 1))),
        ),
        (
            "MAX_VALUE_LENGTH",
            with_filters(one(value="v" * q.MAX_VALUE_LENGTH)),
            with_filters(one(value="v" * (q.MAX_VALUE_LENGTH + 1))),
        ),
        ("MAX_NAME_LENGTH", names("platforms", 1, q.MAX_NAME_LENGTH), names("platforms", 1, q.MAX_NAME_LENGTH + 1)),
    ]
    for field in ("programs", "platforms", "instrument_types"):
        cases.append(("MAX_LIST_ENTRIES", names(field, q.MAX_LIST_ENTRIES), names(field, q.MAX_LIST_ENTRIES + 1)))
    cases.append(
        (
            "MAX_LIST_ENTRIES",
            {**base, "data_product_type_filters": ["keogram"] * q.MAX_LIST_ENTRIES},
            {**base, "data_product_type_filters": ["keogram"] * (q.MAX_LIST_ENTRIES + 1)},
        )
    )
    return [pytest.param(*case, id=f"{case[0]}-{i}") for i, case in enumerate(cases)]


@pytest.mark.parametrize(("limit", "at", "past"), _limit_cases())
@pytest.mark.parametrize(
    "path",
    ["/api/v1/data_products/search", "/api/v1/utils/describe/query/data_products", "sync"],
)
def test_queries_at_each_limit_are_answered_and_just_past_it_are_refused_naming_it(
    server: str, http: requests.Session, limit: str, at: dict[str, Any], past: dict[str, Any], path: str
) -> None:
    def post(query: dict[str, Any]) -> requests.Response:
        if path == "sync":
            return http.post(f"{server}/api/v1/data_products/search_synchronous", json={"query": query})
        return http.post(server + path, json=query)

    assert post(at).status_code in (200, 202)
    assert_error(post(past), 400, "AssertionError", limit)


def test_a_query_body_at_the_size_limit_is_parsed_and_one_byte_more_is_a_413(
    server: str, http: requests.Session
) -> None:
    from aurorax_core.query import MAX_QUERY_BYTES

    text = json.dumps({"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59"})
    at = text[:-1] + " " * (MAX_QUERY_BYTES - len(text)) + "}"
    assert http.post(f"{server}/api/v1/utils/describe/query/data_products", data=at).status_code == 200
    reply = http.post(f"{server}/api/v1/utils/describe/query/data_products", data=at + " ")
    assert_error(reply, 413, "AssertionError", "MAX_QUERY_BYTES", f"{MAX_QUERY_BYTES + 1:,} bytes")
