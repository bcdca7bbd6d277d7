"""The wire parsers on every real recorded AuroraX document (no HTTP here)."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core import DataProduct, MalformedResponse, NotFound, Unauthorized
from aurorax_core.backends import _wire

from .stubs import COMPLETED_2022, COMPLETED_2024, LEGACY_2020, PENDING_2024, REAL_RECORDS

WHERE = "GET http://127.0.0.1/api/v1/data_products/requests/x"


def test_completed_2024_status() -> None:
    status = _wire.parse_status(COMPLETED_2024, where=WHERE)
    assert status.completed and status.error_condition is False
    assert status.request_id == "63e09ea3-2465-4ea8-affe-bb17170f815d"
    assert status.data_uri == "/api/v1/data_products/requests/63e09ea3-2465-4ea8-affe-bb17170f815d/data"
    assert (status.file_size, status.result_count, status.query_duration_ms) == (2107015, 820, 305.0)
    assert status.completed_timestamp == datetime(2024, 11, 27, 21, 41, 14, 661042, tzinfo=UTC)
    assert status.requested == datetime(2024, 11, 27, 21, 41, 14, 348602, tzinfo=UTC)
    assert [e.level for e in status.logs] == ["debug", "info", "info", "debug", "info", "debug", "info"]
    assert status.last_log == "Finished search in 0.31 seconds and found 820 records."
    assert status.query is not None and status.query["request_id"] is None
    assert status.raw is COMPLETED_2024


def test_completed_2022_status_with_z_timestamps() -> None:
    status = _wire.parse_status(COMPLETED_2022, where=WHERE)
    assert status.completed and status.result_count == 1490 and status.file_size == 3743875
    assert status.logs[0].timestamp == datetime(2022, 1, 14, 1, 38, 31, 432410, tzinfo=UTC)
    assert status.completed_timestamp == datetime(2022, 1, 14, 1, 38, 31, 830882, tzinfo=UTC)
    assert status.request_id == status.query["request_id"]  # type: ignore[index]  # 2022 echoed the id


def test_pending_status_has_every_result_field_null() -> None:
    status = _wire.parse_status(PENDING_2024, where=WHERE)
    assert not status.completed
    assert status.error_condition is None and status.file_size is None and status.result_count is None
    assert status.completed_timestamp is None and status.query_duration_ms is None
    assert len(status.logs) == 4
    assert status.logs[1].timestamp == datetime(2024, 11, 27, 21, 41, 33, 970420, tzinfo=UTC)


def test_legacy_2020_status_with_extra_keys() -> None:
    status = _wire.parse_status(LEGACY_2020, where=WHERE)
    assert status.completed and status.result_count == 0 and status.file_size == 5
    assert status.logs[0].summary == "Search request arrived"
    assert status.raw["search_result"]["expiration_timestamp"] == "2020-11-28T00:17:24.129447Z"


def test_unknown_log_levels_are_shown_as_info_and_missing_logs_are_empty() -> None:
    doc = copy.deepcopy(COMPLETED_2024)
    doc["logs"][0]["level"] = "TRACE"
    doc["logs"][1]["level"] = "WARNING"
    logs = _wire.parse_status(doc, where=WHERE).logs
    assert (logs[0].level, logs[1].level) == ("info", "warn")
    del doc["logs"]
    assert _wire.parse_status(doc, where=WHERE).logs == []


def test_data_envelope_parses_every_real_record_like_the_model_does() -> None:
    products = _wire.parse_data_products({"result": REAL_RECORDS}, where=WHERE)
    assert products == [DataProduct.from_api_dict(r) for r in REAL_RECORDS]
    assert products[0].metadata["keogram_type"] == "daily"
    assert products[0].data_source.display_name == "TREx RGB GILL"
    # The record with identifier 103 appears twice; both share one DataSource.
    gill = [p for p in products if p.data_source.identifier == 103]
    assert len(gill) == 2 and gill[0].data_source is gill[1].data_source


def _record(index: int, **changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(REAL_RECORDS[index % len(REAL_RECORDS)])
    record["url"] = f"{record['url']}?n={index}"
    record.update(changes)
    return record


def test_records_after_the_first_of_their_kind_are_checked_too() -> None:
    """Later records reuse cached sources and times, but a change in any of them is still seen."""
    first = _record(0)
    renamed = copy.deepcopy(first["data_source"])
    renamed["display_name"] = "renamed by the server"
    records = [
        first,
        _record(1, data_source=renamed, start=first["start"], end=first["end"]),
        _record(2, data_source=copy.deepcopy(first["data_source"]), start=first["start"], end=first["end"]),
        _record(3, start=first["start"] + "Z", end=first["end"]),
        {k: v for k, v in _record(4, start=first["start"], end=first["end"]).items() if k != "metadata"},
        _record(5, start=first["start"], end=first["end"], metadata=None),
    ]
    products = _wire.parse_data_products({"result": records}, where=WHERE)
    assert products == [DataProduct.from_api_dict(r) for r in records]
    assert products[1].data_source.display_name == "renamed by the server"
    assert products[2].data_source.display_name == first["data_source"]["display_name"]
    assert products[4].metadata == {} and products[5].metadata == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": "2020-01-02T00:00:00", "end": "2020-01-01T00:00:00"}, "is before start"),
        ({"data_product_type": "hologram"}, "unknown data_product_type"),
        ({"data_product_type": ["keogram"]}, "unknown data_product_type"),
        ({"url": ""}, "has no 'url'"),
        ({"metadata": ["a"]}, "metadata is not a JSON object"),
        ({"start": ["2020-01-01T00:00:00"]}, "expected a date/time string"),
        # an offset without seconds has the fixed length but is not the fixed format
        ({"start": "2020-01-01T05:00-03"}, "cannot parse"),
    ],
)
def test_a_bad_record_after_good_ones_is_named(change: dict[str, Any], message: str) -> None:
    good = [_record(0, start="2020-01-01T00:00:00", end="2020-01-02T00:00:00") for _ in range(3)]
    bad = _record(3, **{"start": "2020-01-01T00:00:00", "end": "2020-01-02T00:00:00", **change})
    with pytest.raises(MalformedResponse, match=rf"result\[3\].*{message}"):
        _wire.parse_data_products({"result": [*good, bad]}, where=WHERE)


def test_response_format_records_keep_their_subset_of_keys() -> None:
    subset = [{"url": r["url"], "start": r["start"]} for r in REAL_RECORDS]
    assert _wire.result_list({"result": subset}, where=WHERE) == subset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-01T00:00:00", datetime(2020, 1, 1, tzinfo=UTC)),
        ("2020-01-01T23:59:00Z", datetime(2020, 1, 1, 23, 59, tzinfo=UTC)),
        ("2022-01-14T01:38:31.43241Z", datetime(2022, 1, 14, 1, 38, 31, 432410, tzinfo=UTC)),
        ("2024-11-27T21:41:14.35348", datetime(2024, 11, 27, 21, 41, 14, 353480, tzinfo=UTC)),
        ("2020-01-01T01:00:00+01:00", datetime(2020, 1, 1, tzinfo=UTC)),
        ("2020-01-01T01:00+01:00", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_wire_times(text: str, expected: datetime) -> None:
    assert _wire.parse_wire_time(text) == expected


@pytest.mark.parametrize(
    "text",
    # 19 characters like the fixed format, but an offset (was once read as UTC, an hour off)
    [
        "2020-13-01T00:00:00",
        "2020-01-01T25:00:00",
        "yesterday",
        "",
        None,
        5,
        "2020-01-01T05:00-03",
        "2020-01-01T05:00+01",
    ],
)
def test_bad_wire_times_are_record_errors(text: object) -> None:
    from aurorax_core import RecordValidationError

    with pytest.raises(RecordValidationError):
        _wire.parse_wire_time(text)


def test_error_documents_become_typed_errors() -> None:
    with pytest.raises(NotFound, match="NotFound: expired"):
        _wire.parse_data_products({"error": {"error_code": "NotFound", "error_message": "expired"}}, where=WHERE)
    with pytest.raises(Unauthorized):
        _wire.result_list({"error": {"error_code": "NotAuthorized", "error_message": "no"}}, where=WHERE)


def test_describe_is_a_json_string() -> None:
    real = "Find data_products for ((program in (trex) filtered by metadata ()) AND  data_product_metadata_filters [])"
    assert _wire.parse_describe(real, where=WHERE) == real
    assert _wire.parse_describe(["a", "b"], where=WHERE) == "a\nb"
    with pytest.raises(MalformedResponse):
        _wire.parse_describe({"description": real}, where=WHERE)


def test_availability_shape() -> None:
    source = REAL_RECORDS[0]["data_source"]
    items = _wire.parse_availability(
        [{"data_source": source, "available_data_products": {"2020-01-01": 33, "2020-01-02": 0}}], where=WHERE
    )
    assert items[0].data_source.identifier == 103
    assert items[0].available_data_products == {"2020-01-01": 33, "2020-01-02": 0}
    for bad in ({"x": 1}, [{"data_source": source, "available_data_products": {"tomorrow": 1}}], [5]):
        with pytest.raises(MalformedResponse):
            _wire.parse_availability(bad, where=WHERE)


def test_error_reason_prefers_the_error_document() -> None:
    assert _wire.error_reason(b'{"error_code": "NotFound", "error_message": "gone"}') == "gone"
    assert _wire.error_reason(b"<html><h1>Bad  Gateway</h1></html>", "text/html") == "Bad Gateway"
    assert _wire.error_reason(b"") == ""
    assert _wire.error_reason(b"\x00\x01\x02garbage") == "10 bytes of binary data"


# Any JSON at all, and real documents with one value replaced by any JSON.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _mutations(doc: Any) -> st.SearchStrategy[Any]:
    """``doc`` with the value at one random path replaced by arbitrary JSON."""

    def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [prefix]
        if isinstance(value, dict):
            for key, item in value.items():
                out += paths(item, (*prefix, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                out += paths(item, (*prefix, index))
        return out

    def replace(path: tuple[Any, ...], new: Any) -> Any:
        if not path:
            return new
        copy_ = copy.deepcopy(doc)
        target = copy_
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = new
        return copy_

    return st.builds(replace, st.sampled_from(paths(doc)), _json)


_PARSERS = [
    _wire.parse_status,
    _wire.parse_data_products,
    _wire.parse_sources,
    _wire.parse_source,
    _wire.parse_availability,
    _wire.parse_describe,
]


def _only_typed_errors(body: Any) -> None:
    from aurorax_core import AuroraXCoreError

    for parser in _PARSERS:
        with contextlib.suppress(AuroraXCoreError):  # anything else (KeyError, TypeError ...) fails the test
            parser(body, where=WHERE)


@settings(max_examples=100, deadline=None)
@given(_json)
def test_arbitrary_json_only_raises_typed_errors(body: Any) -> None:
    _only_typed_errors(body)


@settings(max_examples=100, deadline=None)
@given(st.one_of(_mutations(COMPLETED_2024), _mutations(PENDING_2024), _mutations({"result": REAL_RECORDS})))
def test_mutated_real_documents_only_raise_typed_errors(body: Any) -> None:
    _only_typed_errors(body)
