"""The data-product query: validation, the one AuroraX JSON serializer, describe(), and the CLI template."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core.errors import AuroraXCoreError, QueryValidationError
from aurorax_core.models import DATA_PRODUCT_TYPES
from aurorax_core.query import (
    MAX_QUERY_SPAN,
    METADATA_OPERATORS,
    SEARCH_TEMPLATE,
    DataProductQuery,
    MetadataFilterExpression,
)

# No per-example deadline: on a loaded shared machine a slow example is not a failure.
relaxed = settings(deadline=None)

# The example query of the AuroraX documentation (basic_usage/search/data_products.md).
DOCS_QUERY: dict[str, Any] = {
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_sources": {"programs": ["trex"], "platforms": ["fort smith"], "instrument_types": ["RGB ASI"]},
    "data_product_type_filters": [],
}

# PROTOCOL §3.1, second example: the body pyaurorax POSTs with metadata filters.
FILTERED_PAYLOAD: dict[str, Any] = {
    "data_sources": {
        "programs": ["trex"],
        "platforms": ["gillam"],
        "instrument_types": ["RGB ASI"],
        "data_product_metadata_filters": {
            "expressions": [
                {"key": "keogram_type", "operator": "=", "values": ["daily"]},
                {"key": "calgary_cloud_ml_v1_confidence", "operator": "between", "values": [75, 90]},
            ],
            "logical_operator": "OR",
        },
    },
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_product_type_filters": ["keogram"],
}

# Real responses of POST /api/v1/utils/describe/query/data_products, copied from
# /work/shared/aurorax/data/search_status_examples.json ("describe_examples").
REAL_DESCRIBE_EXAMPLES = [
    (
        {
            "start": "2020-02-01T00:00:00",
            "end": "2020-02-01T23:59:59",
            "data_sources": {
                "programs": ["trex"],
                "platforms": [],
                "instrument_types": ["RGB ASI"],
                "data_product_metadata_filters": {},
            },
            "data_product_type_filters": [],
        },
        "Find data_products for ((program in (trex) AND instrument_type in (RGB ASI) filtered by metadata ()) AND  "
        "data_product_metadata_filters []) AND data_product start >= 2020-02-01T00:00 UTC AND data_product end <= "
        "2020-02-01T23:59:59 UTC AND",
    ),
    (
        {
            "start": "2020-02-01T00:00:00",
            "end": "2020-02-01T23:59:59",
            "data_sources": {
                "programs": ["trex"],
                "platforms": [],
                "instrument_types": [],
                "data_product_metadata_filters": {},
            },
            "data_product_type_filters": [],
        },
        "Find data_products for ((program in (trex) filtered by metadata ()) AND  data_product_metadata_filters []) "
        "AND data_product start >= 2020-02-01T00:00 UTC AND data_product end <= 2020-02-01T23:59:59 UTC AND",
    ),
]


def _payload(**changes: Any) -> dict[str, Any]:
    payload = json.loads(json.dumps(FILTERED_PAYLOAD))
    for key, value in changes.items():
        payload[key] = value
    return payload


def _sources(**changes: Any) -> dict[str, Any]:
    payload = _payload()
    payload["data_sources"].update(changes)
    return payload


def _expression(**changes: Any) -> dict[str, Any]:
    expression = {"key": "keogram_type", "operator": "=", "values": ["daily"]}
    expression.update(changes)
    return _sources(data_product_metadata_filters={"expressions": [expression], "logical_operator": "AND"})


# --- the serializer ------------------------------------------------------------------------------


def test_pyaurorax_body_parses_and_serialises_back_identically():
    """The exact body pyaurorax POSTs (PROTOCOL §3.1) is read and written back key for key."""
    query = DataProductQuery.from_api_payload(FILTERED_PAYLOAD)
    assert query.programs == ("trex",)
    assert query.metadata_filters_logical_operator == "OR"
    assert query.metadata_filters[1].values == (75, 90)
    assert query.to_api_payload() == FILTERED_PAYLOAD


def test_no_filters_serialise_as_an_empty_object():
    """Without metadata filters the body carries {} and every list key, as pyaurorax sends it."""
    query = DataProductQuery.from_api_payload(DOCS_QUERY)
    assert query.to_api_payload() == {
        "data_sources": {
            "programs": ["trex"],
            "platforms": ["fort smith"],
            "instrument_types": ["RGB ASI"],
            "data_product_metadata_filters": {},
        },
        "start": "2020-01-01T00:00:00",
        "end": "2020-01-01T23:59:59",
        "data_product_type_filters": [],
    }


def test_server_echo_and_legacy_forms_are_accepted():
    """The server's echoed query (with request_id and an empty expression block) and the legacy list form parse."""
    echoed = {
        "data_product_type_filters": [],
        "data_sources": {
            "data_product_metadata_filters": {"expressions": [], "logical_operator": "AND"},
            "instrument_types": ["RGB ASI"],
            "platforms": [],
            "programs": ["trex"],
        },
        "end": "2020-02-05T23:59:59",
        "request_id": None,
        "start": "2020-02-01T00:00:00",
    }
    query = DataProductQuery.from_api_payload(echoed)
    assert query.metadata_filters == ()
    assert query.request_id is None
    legacy = _sources(data_product_metadata_filters=[{"key": "keogram_type", "operator": "in", "values": ["daily"]}])
    assert DataProductQuery.from_api_payload(legacy).metadata_filters[0].operator == "in"
    with_id = DataProductQuery.from_api_payload({**DOCS_QUERY, "request_id": "abc"})
    assert with_id.request_id == "abc"
    assert with_id == DataProductQuery.from_api_payload(DOCS_QUERY)  # the id is not part of the query's identity


def test_minimal_and_lenient_inputs():
    """Missing lists, null lists, Z timestamps, lower-case 'or' and upper-case operators are normalised."""
    query = DataProductQuery.from_api_payload(
        {
            "start": "2025-02-05T16:36:43.720Z",
            "end": "2025-02-05T16:36:43.720Z",
            "data_sources": {
                "programs": ["themis-asi"],
                "platforms": None,
                "data_product_metadata_filters": {
                    "expressions": [{"key": "keogram_type", "operator": "IN", "values": ["daily"]}],
                    "logical_operator": "or",
                },
            },
        }
    )
    assert query.start == query.end == datetime(2025, 2, 5, 16, 36, 43, tzinfo=UTC)
    assert query.platforms == () and query.instrument_types == () and query.data_product_types == ()
    assert query.metadata_filters_logical_operator == "OR"
    assert query.metadata_filters[0].operator == "in"
    assert DataProductQuery.from_api_payload({"start": "2020-01-01", "end": "2020-01-02"}).programs == ()


def test_duplicates_are_dropped_and_order_kept():
    """Duplicate list entries change nothing in an OR list, so equal queries compare equal."""
    a = DataProductQuery(start="2020-01-01", end="2020-01-02", programs=["trex", "themis-asi", "trex"])
    b = DataProductQuery(start="2020-01-01", end="2020-01-02", programs=("trex", "themis-asi"))
    assert a.programs == ("trex", "themis-asi")
    assert a == b
    assert hash(a) == hash(b)


def test_microseconds_are_truncated():
    """AuroraX queries carry whole seconds; sub-second parts are dropped on construction."""
    query = DataProductQuery(start="2020-01-01T00:00:00.999", end=datetime(2020, 1, 1, 1, 0, 0, 500000))
    assert query.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert query.end == datetime(2020, 1, 1, 1, tzinfo=UTC)
    assert query.to_api_payload()["end"] == "2020-01-01T01:00:00"


def test_replace_validates_again():
    """replace() returns a new validated query and leaves the original unchanged."""
    query = DataProductQuery.from_api_payload(DOCS_QUERY)
    moved = query.replace(end="2020-01-02T23:59:59", data_product_types=["keogram"])
    assert moved.end == datetime(2020, 1, 2, 23, 59, 59, tzinfo=UTC)
    assert query.end == datetime(2020, 1, 1, 23, 59, 59, tzinfo=UTC)
    assert moved.data_product_types == ("keogram",)
    with pytest.raises(QueryValidationError, match="before start"):
        query.replace(end="2019-12-31")
    with pytest.raises(AttributeError):
        query.start = datetime(2021, 1, 1, tzinfo=UTC)  # frozen


# --- validation: table of bad input --------------------------------------------------------------

BAD_PAYLOADS = [
    pytest.param(_payload(end="2019-12-31T00:00:00"), "is before start", id="end-before-start"),
    pytest.param(_payload(start="yesterday"), "start: cannot parse 'yesterday'", id="unparseable-start"),
    pytest.param(_payload(end="2020-02-30T00:00:00"), "not a valid date/time", id="impossible-end"),
    pytest.param(_payload(start=20200101), "start must be a date/time", id="numeric-start"),
    pytest.param(_payload(start=None), "start must be a date/time", id="null-start"),
    pytest.param({"end": "2020-01-01T00:00:00"}, "the query has no 'start'", id="missing-start"),
    pytest.param({"start": "2020-01-01T00:00:00"}, "the query has no 'end'", id="missing-end"),
    pytest.param(_payload(end="2200-01-01T00:00:00"), "spans more than 25 years", id="span-too-long"),
    pytest.param(_payload(data_product_type_filters=["picture"]), "unknown data product type 'picture'", id="type"),
    pytest.param(_payload(data_product_type_filters="keogram"), "must be a list", id="type-not-list"),
    pytest.param(_sources(programs="trex"), "programs must be a list", id="programs-string"),
    pytest.param(_sources(programs={"trex": 1}), "programs must be a list", id="programs-object"),
    pytest.param(_sources(platforms=[""]), "platforms: every entry must be a non-empty string", id="empty-platform"),
    pytest.param(_sources(instrument_types=[3]), "every entry must be a non-empty string", id="numeric-entry"),
    pytest.param(_payload(data_sources=["trex"]), "'data_sources' must be an object", id="sources-list"),
    pytest.param(_payload(data_sources="trex"), "'data_sources' must be an object", id="sources-string"),
    pytest.param(_sources(owners=["x"]), "unknown key(s) in data_sources: 'owners'", id="unknown-source-key"),
    pytest.param(_payload(limit=5), "unknown query key(s) 'limit'", id="unknown-key"),
    pytest.param(_expression(operator="~"), "unknown operator '~'", id="unknown-operator"),
    pytest.param(_expression(operator=None), "unknown operator None", id="null-operator"),
    pytest.param(_expression(operator="between", values=[1]), "'between' needs exactly two values", id="between-1"),
    pytest.param(_expression(operator="between", values=[1, 2, 3]), "exactly two values", id="between-3"),
    pytest.param(_expression(operator="=", values=["a", "b"]), "'=' takes one value", id="eq-two-values"),
    pytest.param(_expression(values="daily"), "'values' must be a list", id="values-string"),
    pytest.param(_expression(values={"a": 1}), "'values' must be a list", id="values-object"),
    pytest.param(_expression(values=5), "'values' must be a list", id="values-number"),
    pytest.param(_expression(values=[]), "'values' is empty", id="values-empty"),
    pytest.param(_expression(values=[None]), "must be a string or a finite number", id="values-null"),
    pytest.param(_expression(values=[["a"]]), "must be a string or a finite number", id="values-nested"),
    pytest.param(_expression(values=[float("nan")]), "finite number", id="values-nan"),
    pytest.param(_expression(key=""), "'key' must be a non-empty string", id="empty-key"),
    pytest.param(_expression(key=None), "'key' must be a non-empty string", id="null-key"),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [{"key": "k", "values": ["v"]}]}),
        "is missing operator",
        id="expression-missing-operator",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": ["keogram_type=daily"]}),
        "must be an object",
        id="expression-string",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": {"key": "k"}}),
        "'expressions' must be a list",
        id="expressions-object",
    ),
    pytest.param(
        _sources(data_product_metadata_filters={"expressions": [], "logical_operator": "XOR"}),
        "must be 'AND' or 'OR'",
        id="logical-operator",
    ),
    pytest.param(_sources(data_product_metadata_filters="keogram_type=daily"), "must be an object", id="filters-str"),
    pytest.param(["start", "end"], "a query must be a JSON object", id="list"),
    pytest.param("2020-01-01", "a query must be a JSON object", id="string"),
]


@pytest.mark.parametrize(("payload", "fragment"), BAD_PAYLOADS)
def test_invalid_queries_are_rejected_with_a_message_naming_the_field(payload, fragment):
    """Every invalid query raises QueryValidationError (a ValueError and AuroraXCoreError) saying what is wrong."""
    with pytest.raises(QueryValidationError) as info:
        DataProductQuery.from_api_payload(payload)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AuroraXCoreError)
    assert "\n" not in str(info.value)  # one line: the CLI prints it as "Error: <msg>"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the query is empty"),
        ("   \n", "the query is empty"),
        ("{", "not valid JSON"),
        ('{"start": "2020-01-01",}', "not valid JSON"),
        ("[]", "a query must be a JSON object"),
        ("null", "a query must be a JSON object"),
    ],
)
def test_query_text_errors(text, fragment):
    """Empty text and invalid JSON are reported as such (with line and column for JSON errors)."""
    with pytest.raises(QueryValidationError, match=fragment):
        DataProductQuery.from_json(text)


def test_query_file_errors_name_the_file(tmp_path):
    """from_file reports a missing, empty, undecodable or invalid file with its path."""
    with pytest.raises(QueryValidationError, match="does not exist"):
        DataProductQuery.from_file(tmp_path / "missing.json")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(QueryValidationError, match=r"empty\.json: the query is empty"):
        DataProductQuery.from_file(empty)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(QueryValidationError, match="cannot read query file"):
        DataProductQuery.from_file(binary)
    with pytest.raises(QueryValidationError, match="cannot read query file"):
        DataProductQuery.from_file(tmp_path)  # a directory
    good = tmp_path / "good.json"
    good.write_text(json.dumps(DOCS_QUERY))
    assert DataProductQuery.from_file(good).platforms == ("fort smith",)


@pytest.mark.parametrize("operator", ["in", "not in"])
def test_in_operators_take_any_number_of_values(operator):
    """'in' and 'not in' accept one or several values."""
    assert MetadataFilterExpression("keogram_type", operator, ["daily"]).values == ("daily",)
    assert len(MetadataFilterExpression("keogram_type", operator, ["daily", "hourly", "x"]).values) == 3


def test_end_equal_to_start_is_allowed_and_the_span_limit_is_inclusive():
    """A zero-length range is a valid query; exactly 25 years is allowed, one second more is not."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    assert DataProductQuery(start=start, end=start).end == start
    assert DataProductQuery(start=start, end=start + MAX_QUERY_SPAN).end == start + MAX_QUERY_SPAN
    with pytest.raises(QueryValidationError, match="25 years"):
        DataProductQuery(start=start, end=start + MAX_QUERY_SPAN + timedelta(seconds=1))


# --- property-based: the JSON round trip ---------------------------------------------------------

names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
scalars = st.one_of(
    st.text(max_size=10),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


@st.composite
def expressions(draw: st.DrawFn) -> MetadataFilterExpression:
    operator = draw(st.sampled_from(METADATA_OPERATORS))
    if operator == "between":
        values = draw(st.lists(scalars, min_size=2, max_size=2))
    elif operator in ("in", "not in"):
        values = draw(st.lists(scalars, min_size=1, max_size=4))
    else:
        values = [draw(scalars)]
    return MetadataFilterExpression(draw(names), operator, values)


@st.composite
def queries(draw: st.DrawFn) -> DataProductQuery:
    start = draw(times)
    end = start + timedelta(seconds=draw(st.integers(min_value=0, max_value=int(MAX_QUERY_SPAN.total_seconds()))))
    return DataProductQuery(
        start=start if draw(st.booleans()) else start.replace(tzinfo=UTC),  # naive = UTC
        end=end,
        programs=draw(st.lists(names, max_size=3)),
        platforms=draw(st.lists(names, max_size=3)),
        instrument_types=draw(st.lists(names, max_size=3)),
        data_product_types=draw(st.lists(st.sampled_from(DATA_PRODUCT_TYPES), max_size=3, unique=True)),
        metadata_filters=draw(st.lists(expressions(), max_size=3)),
        metadata_filters_logical_operator=draw(st.sampled_from(["AND", "OR", "and", "or"])),
    )


@relaxed
@given(queries())
def test_json_round_trip_is_lossless(query):
    """Any valid query -> to_api_payload -> JSON text -> from_api_payload is the same query."""
    text = json.dumps(query.to_api_payload())
    again = DataProductQuery.from_api_payload(json.loads(text))
    assert again == query
    assert again.to_api_payload() == query.to_api_payload()
    assert DataProductQuery.from_json(query.to_json()) == query
    assert DataProductQuery.from_json(query.to_json(indent=None)) == query


@relaxed
@given(queries())
def test_payload_has_the_wire_shape(query):
    """The payload has exactly the keys pyaurorax sends, lists everywhere and the 19-character time form."""
    payload = query.to_api_payload()
    assert set(payload) == {"data_sources", "start", "end", "data_product_type_filters"}
    assert set(payload["data_sources"]) == {
        "programs",
        "platforms",
        "instrument_types",
        "data_product_metadata_filters",
    }
    for key in ("programs", "platforms", "instrument_types"):
        assert isinstance(payload["data_sources"][key], list)
    for key in ("start", "end"):
        assert datetime.strptime(payload[key], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) == getattr(query, key)
    filters = payload["data_sources"]["data_product_metadata_filters"]
    if query.metadata_filters:
        assert filters["logical_operator"] in ("AND", "OR")
        assert all(isinstance(e["values"], list) for e in filters["expressions"])
    elif query.metadata_filters_logical_operator == "AND":
        assert filters == {}


@relaxed
@given(times, st.integers(min_value=-14 * 60, max_value=14 * 60), st.sampled_from(["", "Z", ".5", ".123456789Z"]))
def test_query_times_from_any_zone_are_utc(start, offset_minutes, suffix):
    """Query times given with offsets, Z or fractional seconds mean the same UTC instant (whole seconds)."""
    instant = start.replace(tzinfo=UTC)
    query = DataProductQuery(start=start.isoformat() + suffix, end=instant + timedelta(days=1))
    assert query.start == instant
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert DataProductQuery(start=local.isoformat(), end=local.isoformat()).start == instant


@relaxed
@given(times, st.integers(min_value=1904, max_value=2096).map(lambda y: y - y % 4))
def test_zero_length_and_leap_day_queries(instant, leap_year):
    """end == start is a valid query for any instant; Feb 29 of a leap year is a valid bound, of other years not."""
    query = DataProductQuery(start=instant, end=instant)
    assert query.start == query.end == instant.replace(tzinfo=UTC)
    assert DataProductQuery.from_api_payload(query.to_api_payload()) == query
    if leap_year % 100 == 0 and leap_year % 400 != 0:
        leap_year += 4  # 2100-style century years are not leap years
    day = f"{leap_year}-02-29"
    leap = DataProductQuery(start=f"{day}T00:00:00", end=f"{day}T23:59:59")
    assert leap.to_api_payload()["start"] == f"{day}T00:00:00"
    with pytest.raises(QueryValidationError, match="not a valid date/time"):
        DataProductQuery(start=f"{leap_year + 1}-02-29T00:00:00", end=f"{leap_year + 1}-03-01T00:00:00")


# --- describe -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "expected"), REAL_DESCRIBE_EXAMPLES)
def test_describe_matches_the_real_aurorax_strings(payload, expected):
    """describe() reproduces AuroraX's own describe responses character for character."""
    assert DataProductQuery.from_api_payload(payload).describe() == expected


def test_describe_of_filters_and_types():
    """Filters and type filters appear in the description (their rendering is not observed; ours is stable)."""
    text = DataProductQuery.from_api_payload(FILTERED_PAYLOAD).describe()
    assert text.startswith(
        "Find data_products for ((program in (trex) AND platform in (gillam) AND instrument_type in (RGB ASI) "
        "filtered by metadata ()) AND  data_product_metadata_filters "
        "[keogram_type = daily OR calgary_cloud_ml_v1_confidence between 75 and 90])"
    )
    assert text.endswith("UTC AND data_product_type in (keogram)")
    seconds = DataProductQuery(start="2020-01-01T00:00:05", end="2020-01-01T01:00:00").describe()
    assert "start >= 2020-01-01T00:00:05 UTC" in seconds and "end <= 2020-01-01T01:00 UTC" in seconds


# --- the CLI template ----------------------------------------------------------------------------


def test_search_template_is_a_valid_query():
    """The `data_products search_template` output parses as a query and round-trips to itself."""
    query = DataProductQuery.from_api_payload(SEARCH_TEMPLATE)
    assert query.programs == ("string",)
    assert query.data_product_types == ("keogram",)
    assert query.metadata_filters == (MetadataFilterExpression("string", "=", ("string",)),)
    assert DataProductQuery.from_json(json.dumps(SEARCH_TEMPLATE, indent=2)) == query
    payload = query.to_api_payload()
    assert (
        payload["data_sources"]["data_product_metadata_filters"]
        == SEARCH_TEMPLATE["data_sources"]["data_product_metadata_filters"]
    )
