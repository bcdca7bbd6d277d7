"""The rest of the RemoteBackend API against real 127.0.0.1 servers: describe, sources, availability,
request tracking, writes, connectivity, URL handling and how the backend is selected."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

import pytest

from aurorax_core import (
    Backend,
    BackendConfigurationError,
    BackendError,
    BackendHTTPError,
    DataProduct,
    DataProductQuery,
    DataSource,
    NotFound,
    QueryValidationError,
    RemoteBackend,
    SearchFailed,
    Unauthorized,
    open_backend,
)
from aurorax_core.backends import RequestTracking

from .stubs import PRODUCT_EXAMPLES, REAL_RECORDS, SOURCE_RECORDS, STATUS_EXAMPLES, FakeAuroraX, Reply, Seen, Stub

QUERY = DataProductQuery(start="2020-02-01", end="2020-02-01T23:59:59", programs=["trex"], instrument_types=["RGB ASI"])


def backend(url: str, **kwargs: Any) -> RemoteBackend:
    options: dict[str, Any] = {"timeout": 2.0, "deadline": 10.0, "poll_initial": 0.005, "poll_max": 0.05}
    options.update(kwargs)
    return RemoteBackend(url, **options)


def api_sources() -> list[dict[str, Any]]:
    """Real full records (provenance keys dropped) plus an adhoc source with a negative id."""
    out = [{k: v for k, v in r.items() if not k.startswith("_")} for r in SOURCE_RECORDS["records"]]
    out.append({**out[0], "identifier": -5, "program": "adhoc", "source_type": "not_applicable"})
    return out


def test_the_backend_implements_both_protocols() -> None:
    remote = RemoteBackend("https://api.aurorax.space")
    assert isinstance(remote, Backend) and isinstance(remote, RequestTracking)
    assert remote.name == "https://api.aurorax.space"


# --- describe ---------------------------------------------------------------------------------


def test_describe_returns_the_servers_json_string(stub: Stub) -> None:
    example = STATUS_EXAMPLES["describe_examples"][0]
    stub.route("POST", r"/api/v1/utils/describe/query/data_products", Reply(200, example["response_json_string"]))
    query = DataProductQuery.from_api_payload(example["query"])
    with backend(stub.url) as remote:
        assert remote.describe(query) == example["response_json_string"]
    (post,) = stub.requests("POST")
    assert post.json() == query.to_api_payload()


# --- data sources -----------------------------------------------------------------------------


def test_list_sources_with_single_values_uses_the_get_listing(stub: Stub) -> None:
    stub.route("GET", r"/api/v1/data_sources", Reply(200, api_sources()))
    with backend(stub.url) as remote:
        sources = remote.list_sources(programs=["swarm"], source_type="leo", include_stats=True)
    assert [s.identifier for s in sources] == [3, 37, 96]  # sorted, adhoc (-5) dropped
    assert sources[0].ephemeris_metadata_schema and sources[0].owner == "dchaddoc@ucalgary.ca"
    assert sources[1].stats is not None and sources[1].stats["ephemeris_count"] > 0
    (get,) = stub.requests("GET")
    assert get.query == {
        "program": ["swarm"],
        "source_type": ["leo"],
        "format": ["full_record"],
        "include_stats": ["True"],
    }


def test_list_sources_with_several_values_uses_the_search_endpoint(stub: Stub) -> None:
    def search(handler: Any, seen: Seen, match: Any) -> Reply:
        wanted = seen.json()["programs"]
        return Reply(200, [s for s in api_sources() if s["program"] in wanted])

    stub.route("POST", r"/api/v1/data_sources/search", search)
    with backend(stub.url) as remote:
        sources = remote.list_sources(programs=["swarm", "themis"], source_type="heo")
    assert [s.identifier for s in sources] == [37]
    (post,) = stub.requests("POST")
    assert post.json() == {"programs": ["swarm", "themis"], "platforms": [], "instrument_types": []}
    assert post.query == {"format": ["full_record"], "include_stats": ["False"]}


def test_get_source_and_its_404_text(stub: Stub) -> None:
    swarm = api_sources()[0]
    stub.route("GET", r"/api/v1/data_sources/3", Reply(200, swarm))
    stub.route(
        "GET",
        r"/api/v1/data_sources/12345678",
        Reply(
            404,
            {
                "error_code": "NotFound",
                "error_message": "No Data Source record found in AuroraX for identifier 12345678",
            },
        ),
    )
    with backend(stub.url) as remote:
        assert remote.get_source(3) == DataSource.from_api_dict(swarm)
        with pytest.raises(NotFound, match="No Data Source record found in AuroraX for identifier 12345678"):
            remote.get_source(12345678)
        with pytest.raises(QueryValidationError):
            remote.get_source("3")  # type: ignore[arg-type]


def test_sources_that_are_not_a_list_are_malformed(stub: Stub) -> None:
    from aurorax_core import MalformedResponse

    stub.route("GET", r"/api/v1/data_sources", Reply(200, {"sources": []}))
    with backend(stub.url) as remote, pytest.raises(MalformedResponse):
        remote.list_sources()


# --- availability -----------------------------------------------------------------------------


def test_availability_sends_dates_and_parses_counts(stub: Stub) -> None:
    source = REAL_RECORDS[0]["data_source"]
    body = [{"data_source": source, "available_data_products": {"2020-01-01": 33, "2020-01-02": 33}}]
    stub.route("GET", r"/api/v1/availability/data_products", Reply(200, body))
    with backend(stub.url) as remote:
        items = remote.availability(date(2020, 1, 1), "2020-01-02T12:00:00", program="trex", instrument_type="RGB ASI")
        with pytest.raises(QueryValidationError, match="before"):
            remote.availability(date(2020, 1, 2), date(2020, 1, 1))
    assert items[0].data_source.display_name == "TREx RGB GILL"
    assert items[0].available_data_products == {"2020-01-01": 33, "2020-01-02": 33}
    (get,) = stub.requests("GET")
    assert get.query == {
        "start": ["2020-01-01"],
        "end": ["2020-01-02"],
        "program": ["trex"],
        "instrument_type": ["RGB ASI"],
        "format": ["basic_info"],
        "slow": ["False"],
    }


# --- request tracking -------------------------------------------------------------------------


def test_submit_then_status_while_pending(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 2
    with backend(aurorax.url) as remote:
        request_id = remote.submit(QUERY)
        assert request_id in aurorax.submitted
        pending = remote.request_status(request_id)
        assert pending["search_result"]["data_uri"] is None
        assert pending["search_request"]["request_id"] == request_id
        with pytest.raises(BackendError, match="not completed yet"):
            remote.request_data(request_id)
    assert aurorax.stub.requests("GET", r".*/data") == []


def test_request_data_after_completion_and_with_a_response_format(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 0
    with backend(aurorax.url) as remote:
        request_id = remote.submit(QUERY)
        assert remote.request_logs(request_id)[-1].summary.startswith("Finished search")
        assert remote.request_data(request_id) == REAL_RECORDS
        subset = remote.request_data(request_id, {"url": True, "start": True, "metadata": False})
        assert subset == [{"url": r["url"], "start": r["start"]} for r in REAL_RECORDS]
        remote.cancel_request(request_id)
    (post,) = aurorax.stub.requests("POST", r".*/data")
    assert post.json() == {"url": True, "start": True, "metadata": False}
    (delete,) = aurorax.stub.requests("DELETE")
    assert delete.path.endswith(request_id)


def test_request_data_of_a_failed_search(aurorax: FakeAuroraX) -> None:
    aurorax.pending_polls = 0
    aurorax.fail_with = "query took too long"
    with backend(aurorax.url) as remote:
        request_id = remote.submit(QUERY)
        with pytest.raises(SearchFailed, match="query took too long"):
            remote.request_data(request_id)


def test_request_ids_are_validated_and_unknown_ids_are_not_found(aurorax: FakeAuroraX) -> None:
    with backend(aurorax.url) as remote:
        for bad in ("", "a/b", None):
            with pytest.raises(QueryValidationError):
                remote.request_status(bad)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            remote.cancel_request("63e09ea3-2465-4ea8-affe-bb17170f815d")
    assert [s.method for s in aurorax.stub.requests()] == ["DELETE"]


# --- writes -----------------------------------------------------------------------------------


def _products(count: int) -> list[DataProduct]:
    base = DataProduct.from_api_dict(REAL_RECORDS[0])
    return [
        DataProduct(
            base.data_source, "keogram", base.start, base.end.replace(second=59), f"{base.url}?{i}", base.metadata
        )
        for i in range(count)
    ]


def test_uploads_need_an_api_key_and_send_nothing_without_one(stub: Stub) -> None:
    with backend(stub.url) as remote, pytest.raises(Unauthorized, match="API key"):
        remote.upload_products(103, _products(1))
    assert stub.requests() == []


def test_upload_sends_chunks_of_500_with_seconds_kept(stub: Stub) -> None:
    stub.route("POST", r"/api/v1/data_sources/103/data_products", Reply(202, None, None))
    with backend(stub.url, api_key="k") as remote:
        assert remote.upload_products(103, _products(501)) == 501
    posts = stub.requests("POST")
    assert [len(p.json()) for p in posts] == [500, 1]
    first = posts[0].json()[0]
    example = PRODUCT_EXAMPLES["upload_examples"]["POST /api/v1/data_sources/{identifier}/data_products body"][0]
    assert set(first) == set(example)
    assert (first["start"], first["end"]) == ("2020-01-01T00:00:00.000", "2020-01-01T23:59:59.000")
    assert (first["program"], first["platform"], first["instrument_type"]) == ("trex", "gillam", "RGB ASI")
    assert all(p.headers["x-aurorax-api-key"] == "k" for p in posts)


def test_upload_refused_by_the_server(stub: Stub) -> None:
    stub.route("POST", r"/api/v1/data_sources/103/data_products", Reply(403, {"error_message": "not the owner"}))
    with backend(stub.url, api_key="k") as remote, pytest.raises(Unauthorized, match="not the owner"):
        remote.upload_products(103, _products(1))


def test_delete_products_by_url(stub: Stub) -> None:
    source = api_sources()[2]  # TREx RGB FSMI, id 96
    stub.route("GET", r"/api/v1/data_sources/96", Reply(200, source))
    stub.route("DELETE", r"/api/v1/data_sources/96/data_products", Reply(200, None, None))
    with backend(stub.url, api_key="k") as remote:
        remote.delete_products(96, ["a.jpg", "b.jpg"])
    (delete,) = stub.requests("DELETE")
    assert delete.json() == {
        "program": "trex",
        "platform": "fort smith",
        "instrument_type": "RGB ASI",
        "urls": ["a.jpg", "b.jpg"],
    }


# --- connectivity, URLs, selection -------------------------------------------------------------


def test_connectivity_check(stub: Stub) -> None:
    with backend(stub.url) as remote, pytest.raises(NotFound, match="is this the AuroraX API URL"):
        remote.check_connectivity()
    stub.route("GET", r"/", Reply(200, "AuroraX API", "text/plain"))
    with backend(stub.url + "/") as remote:
        assert remote.check_connectivity() is None
    stub.route("GET", r"/", Reply(500, "down", "text/plain"))
    with backend(stub.url) as remote, pytest.raises(BackendHTTPError):
        remote.check_connectivity()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.aurorax.space", "https://api.aurorax.space"),
        ("https://api.aurorax.space/", "https://api.aurorax.space"),
        ("  http://127.0.0.1:8080/  ", "http://127.0.0.1:8080"),
        ("http://host/prefix/", "http://host/prefix"),
    ],
)
def test_base_urls_lose_one_trailing_slash(given: str, expected: str) -> None:
    assert RemoteBackend(given).base_url == expected


@pytest.mark.parametrize("bad", ["", "api.aurorax.space", "ftp://api.aurorax.space", "http://", "http://h:notaport", 5])
def test_bad_base_urls_are_rejected_clearly(bad: object) -> None:
    with pytest.raises(BackendConfigurationError) as info:
        RemoteBackend(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "option", [{"timeout": 0}, {"deadline": -1}, {"poll_initial": "fast"}, {"poll_fraction": 0}, {"api_key": ""}]
)
def test_bad_options_are_rejected_clearly(option: dict[str, Any]) -> None:
    with pytest.raises(BackendConfigurationError):
        RemoteBackend("http://127.0.0.1:1", **option)


def test_the_trailing_slash_does_not_reach_the_wire(aurorax: FakeAuroraX) -> None:
    with backend(aurorax.url + "/") as remote:
        remote.search(QUERY)
    assert all("//" not in s.path for s in aurorax.stub.requests())


def test_a_url_selects_the_remote_backend_everywhere(aurorax: FakeAuroraX, monkeypatch: pytest.MonkeyPatch) -> None:
    from aurorax_core import search
    from aurorax_core.cli._common import backend_from_args

    chosen = open_backend(aurorax.url, api_key="k")
    assert isinstance(chosen, RemoteBackend) and chosen.api_key == "k"
    chosen.close()

    monkeypatch.setenv("AURORAX_API_URL", aurorax.url)
    from_env = open_backend(None)
    assert isinstance(from_env, RemoteBackend) and from_env.base_url == aurorax.url
    from_env.close()

    args = argparse.Namespace(api_url=aurorax.url + "/", api_key=None, catalog=None)
    from_cli = backend_from_args(args)
    assert isinstance(from_cli, RemoteBackend) and from_cli.base_url == aurorax.url
    from_cli.close()

    result = search("2020-02-01", "2020-02-01T23:59:59", programs=["trex"], backend=aurorax.url)
    assert result.backend == aurorax.url and len(result) == len(REAL_RECORDS)


@pytest.mark.parametrize("fmt", [["url"], {"url": "yes"}, {"data_source": {"identifier": 1}}, {1: True}])
def test_a_bad_response_format_is_rejected_before_any_request(aurorax: FakeAuroraX, fmt: Any) -> None:
    with backend(aurorax.url) as remote, pytest.raises(QueryValidationError, match="response_format"):
        remote.request_data("63e09ea3-2465-4ea8-affe-bb17170f815d", fmt)
    assert aurorax.stub.requests() == []


def test_metadata_that_is_not_json_is_rejected_before_upload(stub: Stub) -> None:
    product = _products(1)[0]
    odd = DataProduct(product.data_source, "keogram", product.start, product.end, product.url, {"x": float("nan")})
    with backend(stub.url, api_key="k") as remote, pytest.raises(QueryValidationError, match="not valid JSON"):
        remote.upload_products(103, [odd])
    assert stub.requests() == []
