"""The catalog's search semantics (PROTOCOL §3.7) against an independent brute-force filter.

The oracle below re-implements the rules from the protocol text, record by record, in plain
Python; thousands of seeded random queries must give exactly the same URLs, in start-then-URL
order.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from catalog_data import BASE_TIME, BOOLS, NOTES, NUMBERS, SOURCES, SUB_TYPES, TYPES, make_records

from aurorax_core import (
    CancelToken,
    CatalogBackend,
    DataProductQuery,
    MetadataFilterExpression,
    SearchCancelled,
    SearchTimeout,
)
from aurorax_core.backends.base import SEARCH_STAGES
from aurorax_core.results import SearchBody

# --- the oracle --------------------------------------------------------------------------------

SCHEMA_TYPES = {
    s["identifier"]: {e["field_name"]: e["data_type"] for e in s.get("data_product_metadata_schema", [])}
    for s in SOURCES
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _pair(data_type: str | None, record_value: Any, filter_value: Any) -> int | None:
    """Compare one record value with one filter value: -1/0/1, or None (not comparable)."""
    if data_type in ("double", "int"):
        a, b = _number(record_value), _number(filter_value)
        if a is None or b is None:
            return None
    elif data_type == "bool":
        a, b = _text(record_value).lower(), _text(filter_value).lower()
    elif data_type == "string":
        a, b = _text(record_value), _text(filter_value)
    else:
        a, b = _number(record_value), _number(filter_value)
        if a is None or b is None:
            a, b = _text(record_value), _text(filter_value)
    if a == b:
        return 0
    return 1 if a > b else -1


def _expression_holds(expr: dict[str, Any], metadata: dict[str, Any], types: dict[str, str]) -> bool:
    if expr["key"] not in metadata:
        return False  # a missing key never satisfies an expression, whatever the operator
    value = metadata[expr["key"]]
    data_type = types.get(expr["key"])
    results = [_pair(data_type, value, v) for v in expr["values"]]
    op = expr["operator"]
    if op in ("=", "in"):
        return 0 in results
    if op in ("!=", "not in"):
        return all(r is not None and r != 0 for r in results)
    if op == "between":
        low, high = results
        return low is not None and high is not None and low >= 0 and high <= 0
    (r,) = results
    if r is None:
        return False
    return {">": r > 0, "<": r < 0, ">=": r >= 0, "<=": r <= 0}[op]


def oracle(records: list[dict[str, Any]], payload: dict[str, Any]) -> list[str]:
    # Wire times (YYYY-MM-DDTHH:MM:SS) order like the instants they name.
    start, end = payload["start"], payload["end"]
    sources = payload["data_sources"]
    filters = sources["data_product_metadata_filters"] or {}
    expressions = filters.get("expressions", [])
    logical = filters.get("logical_operator", "AND")
    hits = []
    for record in records:
        ds = record["data_source"]
        if not (record["start"] >= start and record["end"] <= end):
            continue
        if sources["programs"] and ds["program"] not in sources["programs"]:
            continue
        if sources["platforms"] and ds["platform"] not in sources["platforms"]:
            continue
        if sources["instrument_types"] and ds["instrument_type"] not in sources["instrument_types"]:
            continue
        if (
            payload["data_product_type_filters"]
            and record["data_product_type"] not in payload["data_product_type_filters"]
        ):
            continue
        if expressions:
            types = SCHEMA_TYPES[ds["identifier"]]
            checks = [_expression_holds(e, record["metadata"], types) for e in expressions]
            if not (any(checks) if logical == "OR" else all(checks)):
                continue
        hits.append(record)
    hits.sort(key=lambda r: (r["start"], r["url"]))
    return [r["url"] for r in hits]


# --- random queries ------------------------------------------------------------------------------

KEYS = ("keogram_type", "montage_type", "movie_type", "summary_plot_type", "cloud", "count", "good", "note", "absent")
VALUES: tuple[Any, ...] = tuple(
    dict.fromkeys([*SUB_TYPES, *NUMBERS, *BOOLS, *(n for n in NOTES if isinstance(n, (str, int))), "zzz"])
)


def _random_expression(rng: random.Random) -> dict[str, Any]:
    op = rng.choice(("=", "!=", ">", "<", ">=", "<=", "between", "in", "not in"))
    pool = [v for v in VALUES if v is not None]
    count = 2 if op == "between" else rng.randint(1, 3) if op in ("in", "not in") else 1
    values = [rng.choice(pool) for _ in range(count)]
    if rng.random() < 0.5:
        # pyaurorax sends scalars as strings
        values = [str(v) for v in values]
    return {"key": rng.choice(KEYS), "operator": op, "values": values}


def _random_time(rng: random.Random) -> datetime:
    if rng.random() < 0.5:
        return BASE_TIME + timedelta(hours=rng.randrange(-12, 8 * 24))
    return BASE_TIME + timedelta(seconds=rng.randrange(-86400, 8 * 86400))


def random_payload(rng: random.Random) -> dict[str, Any]:
    a, b = sorted((_random_time(rng), _random_time(rng)))
    if rng.random() < 0.3:
        b = a + timedelta(hours=23, minutes=59, seconds=59)
    programs = sorted({s["program"] for s in SOURCES} | {"Trex", "nope"})
    platforms = sorted({s["platform"] for s in SOURCES} | {"GILLAM"})
    instruments = sorted({s["instrument_type"] for s in SOURCES} | {"rgb ASI"})

    def subset(pool: list[str], p: float) -> list[str]:
        return rng.sample(pool, rng.randint(1, 3)) if rng.random() < p else []

    expressions = [_random_expression(rng) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]
    return {
        "start": a.strftime("%Y-%m-%dT%H:%M:%S"),
        "end": b.strftime("%Y-%m-%dT%H:%M:%S"),
        "data_sources": {
            "programs": subset(programs, 0.5),
            "platforms": subset(platforms, 0.3),
            "instrument_types": subset(instruments, 0.3),
            "data_product_metadata_filters": (
                {"expressions": expressions, "logical_operator": rng.choice(("AND", "OR", "and", "or"))}
                if expressions
                else {}
            ),
        },
        "data_product_type_filters": rng.sample(TYPES, rng.randint(1, 2)) if rng.random() < 0.4 else [],
    }


def _normalised(payload: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(payload))
    filters = out["data_sources"]["data_product_metadata_filters"]
    if filters:
        filters["logical_operator"] = filters["logical_operator"].upper()
    return out


def test_random_queries_match_brute_force(random_catalog: tuple[CatalogBackend, list[dict[str, Any]]]) -> None:
    catalog, records = random_catalog
    rng = random.Random(2024)
    nonempty = 0
    for _ in range(1000):
        payload = random_payload(rng)
        query = DataProductQuery.from_api_payload(payload)
        got = [p.url for p in catalog.search(query)]
        expected = oracle(records, _normalised(payload))
        assert got == expected, json.dumps(payload)
        nonempty += bool(expected)
    # The generator must exercise real matches, not just empty results.
    assert nonempty > 200


def _random_queries(rng: random.Random, count: int) -> Iterator[DataProductQuery]:
    for _ in range(count):
        yield DataProductQuery.from_api_payload(random_payload(rng))


def test_search_body_is_the_json_of_the_search(random_catalog: tuple[CatalogBackend, list[dict[str, Any]]]) -> None:
    """What the server sends, made from catalog rows, is the search's records as AuroraX JSON."""
    catalog, _ = random_catalog
    nonempty = 0
    for query in _random_queries(random.Random(77), 300):
        result = catalog.search(query)
        body = catalog.search_body(query)
        assert body.body == json.dumps({"result": result.to_api_records()}).encode("ascii"), query.to_api_payload()
        assert (body.count, len(body.body)) == (len(result), result.file_size)
        nonempty += bool(body.count)
    assert nonempty > 60


def test_a_search_split_by_start_time_joins_into_the_whole_body(
    random_catalog: tuple[CatalogBackend, list[dict[str, Any]]],
) -> None:
    """How the server runs a large search in several processes: the parts' bodies, joined, are the
    whole search's body byte for byte, and the joined layout splices like the whole one."""
    catalog, _ = random_catalog
    rng = random.Random(404)
    split = 0
    for query in _random_queries(rng, 300):
        whole = catalog.search_body(query)
        ranges = catalog.start_ranges(query, rng.randint(2, 4), min_records=1)
        assert ranges[0][0] == query.start and ranges[-1][1] == query.end
        for (_, high), (low, _) in itertools.pairwise(ranges):
            assert low - high == timedelta(seconds=1) and low.time() == datetime.min.time()
        joined = SearchBody.concat([catalog.search_body(query, starting=r) for r in ranges])
        assert joined is not None
        assert (joined.body, joined.count) == (whole.body, whole.count), query.to_api_payload()
        if whole.count:
            assert joined.layout is not None and whole.layout is not None
            texts = {i: b'{"identifier": %d}' % i for i in whole.layout.source_texts}
            assert joined.layout.replace_sources(joined.body, texts) == whole.layout.replace_sources(whole.body, texts)
            split += len(ranges) > 1 and all(catalog.search_body(query, starting=r).count for r in ranges)
    assert split > 30  # most searches spanning days really were split, into non-empty parts


def test_only_large_searches_are_split_and_never_within_a_day(
    random_catalog: tuple[CatalogBackend, list[dict[str, Any]]],
) -> None:
    catalog, records = random_catalog
    week = DataProductQuery(start=BASE_TIME - timedelta(days=1), end=BASE_TIME + timedelta(days=9))
    assert len(catalog.start_ranges(week, 4, min_records=len(records) + 1)) == 1
    assert len(catalog.start_ranges(week, 4, min_records=len(records) // 4)) == 4
    day = DataProductQuery(start=BASE_TIME, end=BASE_TIME + timedelta(hours=23, minutes=59))
    assert catalog.start_ranges(day, 4, min_records=1) == [(day.start, day.end)]
    nothing = DataProductQuery(start=BASE_TIME, end=BASE_TIME + timedelta(days=3), programs=["no such program"])
    assert catalog.start_ranges(nothing, 4, min_records=1) == [(nothing.start, nothing.end)]


def test_parts_that_saw_a_source_renamed_between_them_do_not_join(catalog: CatalogBackend) -> None:
    # the server then searches again in one piece: one body must not name a source two ways
    catalog.ingest_products(
        [
            _record("https://x.org/1.jpg", "2020-01-01T00:00:00", "2020-01-01T01:00:00"),
            _record("https://x.org/2.jpg", "2020-01-02T00:00:00", "2020-01-02T01:00:00"),
        ]
    )
    query = DataProductQuery(start="2020-01-01T00:00:00", end="2020-01-02T23:59:59")
    ranges = catalog.start_ranges(query, 2, min_records=1)
    assert len(ranges) == 2
    first = catalog.search_body(query, starting=ranges[0])
    identifier = json.loads(first.body)["result"][0]["data_source"]["identifier"]
    catalog.update_source(identifier, {"display_name": "Renamed"})
    second = catalog.search_body(query, starting=ranges[1])
    assert first.count == second.count == 1
    assert SearchBody.concat([first, second]) is None
    again = SearchBody.concat([catalog.search_body(query, starting=r) for r in ranges])
    assert again is not None and again.body == catalog.search_body(query).body


def test_search_body_escapes_urls_and_metadata(catalog: CatalogBackend) -> None:
    catalog.ingest_products(
        [
            _record(
                'https://x.org/a"b\\c/été.jpg',
                "2020-01-01T00:00:00",
                "2020-01-01T01:00:00",
                note='été "q"',
                keogram_type="daily",
            ),
            _record("https://x.org/plain.jpg", "2020-01-01T00:00:00", "2020-01-01T01:00:00", note="😀"),
        ]
    )
    query = DataProductQuery(start="2020-01-01T00:00:00", end="2020-01-02T00:00:00")
    body = catalog.search_body(query)
    assert body.body.isascii()
    assert json.loads(body.body) == {"result": catalog.search(query).to_api_records()}
    assert [r["url"] for r in json.loads(body.body)["result"]] == [
        'https://x.org/a"b\\c/été.jpg',
        "https://x.org/plain.jpg",
    ]
    nothing = catalog.search_body(query.replace(programs=["nope"]))
    assert (nothing.body, nothing.count) == (b'{"result": []}', 0)


def test_sub_type_filters_match_brute_force(random_catalog: tuple[CatalogBackend, list[dict[str, Any]]]) -> None:
    """The ``<type>_type`` keys are narrowed in SQL; every operator must still be exact."""
    catalog, records = random_catalog
    rng = random.Random(99)
    for _ in range(150):
        expressions = []
        for _ in range(rng.randint(1, 2)):
            expr = _random_expression(rng)
            expr["key"] = rng.choice(("keogram_type", "montage_type", "movie_type"))
            if rng.random() < 0.6:
                expr["values"] = rng.sample(SUB_TYPES, 2 if expr["operator"] == "between" else 1)
                if expr["operator"] in ("in", "not in"):
                    expr["values"] = rng.sample(SUB_TYPES, rng.randint(1, 3))
            expressions.append(expr)
        payload = {
            "start": "2019-12-31T00:00:00",
            "end": "2020-01-09T00:00:00",
            "data_sources": {
                "programs": [],
                "platforms": [],
                "instrument_types": [],
                "data_product_metadata_filters": {
                    "expressions": expressions,
                    "logical_operator": rng.choice(("AND", "OR")),
                },
            },
            "data_product_type_filters": rng.sample(TYPES, 1) if rng.random() < 0.3 else [],
        }
        got = [p.url for p in catalog.search(DataProductQuery.from_api_payload(payload))]
        assert got == oracle(records, payload), json.dumps(payload)


# --- targeted semantics ----------------------------------------------------------------------------


def _record(url: str, start: str, end: str, *, source: int = 1, kind: str = "keogram", **metadata: Any) -> dict:
    ds = {k: v for k, v in SOURCES[source - 1].items() if k != "data_product_metadata_schema"}
    return {
        "data_source": ds,
        "data_product_type": kind,
        "start": start,
        "end": end,
        "url": url,
        "metadata": metadata,
    }


def _urls(catalog: CatalogBackend, **kwargs: Any) -> list[str]:
    return [p.url for p in catalog.search(DataProductQuery(**kwargs))]


def test_time_is_containment_inclusive_at_both_ends(catalog: CatalogBackend) -> None:
    catalog.ingest_products(
        [
            _record("daily", "2020-02-01T00:00:00", "2020-02-01T23:59:00"),
            _record("hourly", "2020-02-01T00:00:00", "2020-02-01T00:59:00"),
            _record("last-second", "2020-02-01T23:59:59", "2020-02-01T23:59:59"),
            _record("previous-day", "2020-01-31T00:00:00", "2020-01-31T23:59:00"),
            _record("overlaps-start", "2020-01-31T23:00:00", "2020-02-01T01:00:00"),
            _record("overlaps-end", "2020-02-01T23:00:00", "2020-02-02T00:00:00"),
        ]
    )
    got = _urls(catalog, start="2020-02-01T00:00:00", end="2020-02-01T23:59:59")
    assert got == ["daily", "hourly", "last-second"]  # sorted by start, then URL
    assert _urls(catalog, start="2020-02-01T00:00:00", end="2020-02-01T00:59:00") == ["hourly"]
    assert _urls(catalog, start="2020-02-01T00:00:01", end="2020-02-01T23:59:59") == ["last-second"]


def test_source_lists_or_inside_and_across_case_sensitive(catalog: CatalogBackend) -> None:
    catalog.ingest_products(
        [
            _record(f"u{s['identifier']}", "2020-01-01T00:00:00", "2020-01-01T00:59:00", source=s["identifier"])
            for s in SOURCES
        ]
    )
    day = {"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59"}
    assert _urls(catalog, **day, programs=["trex"]) == ["u1", "u2", "u3"]
    assert _urls(catalog, **day, programs=["TREX"]) == ["u7"]
    assert _urls(catalog, **day, programs=["trex", "rego"], platforms=["gillam"]) == ["u1", "u3", "u6"]
    assert _urls(catalog, **day, programs=["trex"], instrument_types=["RGB ASI"], platforms=["gillam"]) == ["u1"]
    assert _urls(catalog, **day, programs=["Trex"]) == []
    assert len(_urls(catalog, **day)) == len(SOURCES)


@pytest.mark.parametrize(
    "value",
    ["' OR 1=1 --", "x'); DROP TABLE products; --", "%", "_", '" OR ""="', "daily' --"],
)
def test_sql_looking_values_match_literally(catalog: CatalogBackend, value: str) -> None:
    catalog.ingest_products(
        [
            _record("literal", "2020-01-01T00:00:00", "2020-01-01T00:59:00", keogram_type=value, note=value),
            _record("other", "2020-01-01T00:00:00", "2020-01-01T00:59:00", keogram_type="daily", note="clear"),
        ]
    )
    day = {"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59"}
    for key in ("keogram_type", "note"):
        for op in ("=", "in"):
            expr = MetadataFilterExpression(key, op, (value,))
            assert _urls(catalog, **day, metadata_filters=[expr]) == ["literal"]
        assert _urls(catalog, **day, metadata_filters=[MetadataFilterExpression(key, "!=", (value,))]) == ["other"]
    assert _urls(catalog, **day, programs=[value]) == []
    assert _urls(catalog, **day, platforms=[value]) == []
    assert len(_urls(catalog, **day)) == 2  # nothing was dropped


def test_missing_key_never_matches_even_negative_operators(catalog: CatalogBackend) -> None:
    catalog.ingest_products(
        [
            _record("has", "2020-01-01T00:00:00", "2020-01-01T00:59:00", keogram_type="hourly"),
            _record("lacks", "2020-01-01T00:00:00", "2020-01-01T00:59:00"),
        ]
    )
    day = {"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59"}
    for op, values in (("!=", ("daily",)), ("not in", ("daily", "x")), ("<", ("zzz",)), (">=", ("",))):
        expr = MetadataFilterExpression("keogram_type", op, values)
        assert _urls(catalog, **day, metadata_filters=[expr]) == ["has"]


def test_numeric_schema_compares_numbers_and_between_is_inclusive(catalog: CatalogBackend) -> None:
    catalog.ingest_sources([SOURCES[6]])  # typed schema: cloud is a double
    catalog.ingest_products(
        [
            _record(f"c{v}", "2020-01-01T00:00:00", "2020-01-01T00:59:00", source=7, cloud=v)
            for v in (9, 75, 80.5, 90, 100, "85")
        ]
        + [_record("untyped100", "2020-01-01T00:00:00", "2020-01-01T00:59:00", source=1, cloud="100")]
    )
    day = {"start": "2020-01-01T00:00:00", "end": "2020-01-01T23:59:59"}
    between = MetadataFilterExpression("cloud", "between", ("75", "90"))
    assert _urls(catalog, **day, metadata_filters=[between]) == ["c75", "c80.5", "c85", "c90"]
    # "9" > "10" as text, but both are numbers: numeric comparison (also without a schema).
    greater = MetadataFilterExpression("cloud", ">", ("10",))
    assert _urls(catalog, **day, metadata_filters=[greater]) == ["c100", "c75", "c80.5", "c85", "c90", "untyped100"]


def test_or_over_sub_type_keys_returns_only_matching_records(catalog: CatalogBackend) -> None:
    """pyaurorax's test: OR of keogram_type = daily_hires and movie_type = real-time daily."""
    catalog.ingest_products(
        [
            _record("k1", "2020-01-01T00:00:00", "2020-01-01T23:59:00", keogram_type="daily_hires"),
            _record("k2", "2020-01-01T00:00:00", "2020-01-01T23:59:00", keogram_type="daily"),
            _record("m1", "2020-01-01T00:00:00", "2020-01-01T23:59:00", kind="movie", movie_type="real-time daily"),
            _record("n1", "2020-01-01T00:00:00", "2020-01-01T23:59:00", kind="montage", montage_type="daily"),
        ]
    )
    filters = [
        MetadataFilterExpression("keogram_type", "=", ("daily_hires",)),
        MetadataFilterExpression("movie_type", "=", ("real-time daily",)),
    ]
    got = _urls(
        catalog,
        start="2020-01-01T00:00:00",
        end="2020-01-01T23:59:59",
        metadata_filters=filters,
        metadata_filters_logical_operator="OR",
    )
    assert got == ["k1", "m1"]


def test_result_file_size_is_the_aurorax_json_size(random_catalog: tuple[CatalogBackend, list[dict[str, Any]]]) -> None:
    catalog, _ = random_catalog
    query = DataProductQuery(start="2020-01-01T00:00:00", end="2020-01-03T00:00:00")
    result = catalog.search(query)
    assert len(result) > 50
    assert result.file_size == len(json.dumps({"result": result.to_api_records()}))
    empty = catalog.search(query.replace(programs=["nope"]))
    assert empty.file_size == len(json.dumps({"result": []}))


def test_search_reports_aurorax_stages_and_logs(catalog: CatalogBackend) -> None:
    catalog.ingest_products(make_records(40, seed=3))
    events = []
    result = catalog.search(
        DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00"), progress=events.append
    )
    assert [e.stage for e in events] == list(SEARCH_STAGES)
    messages = [e.message for e in events]
    assert messages[:2] == ["Search object created", "Request submitted"]
    assert messages[2] == f"Request ID: {result.request_id}"
    assert messages[3:6] == ["Waiting for data ...", "Data is now available", "Retrieving data ..."]
    assert messages[6].startswith("Retrieved ") and messages[6].endswith(f"of data containing {len(result)} records")
    summaries = [entry.summary for entry in result.logs]
    assert summaries[0] == "Search request arrived and saved"
    assert summaries[1] == f"Starting query for {result.request_id}"
    assert summaries[-2] == f"File size is {result.file_size} bytes."
    assert summaries[-1].startswith("Finished search in ") and summaries[-1].endswith(f"found {len(result)} records.")
    assert len(result) == 40 and result.query_duration_ms >= 0


def test_cancel_and_timeout(random_catalog: tuple[CatalogBackend, list[dict[str, Any]]]) -> None:
    catalog, _ = random_catalog
    query = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")
    token = CancelToken()
    token.cancel()
    with pytest.raises(SearchCancelled):
        catalog.search(query, cancel=token)
    with pytest.raises(SearchTimeout, match="did not complete within"):
        catalog.search(query, timeout=0)
    assert len(catalog.search(query, cancel=CancelToken(), timeout=60)) == 3000
    with pytest.raises(SearchCancelled):
        catalog.search_body(query, cancel=token)
    with pytest.raises(SearchTimeout, match="did not complete within"):
        catalog.search_body(query, timeout=0)
    assert catalog.search_body(query, cancel=CancelToken(), timeout=60).count == 3000


class _CountingToken(CancelToken):
    """A cancel token that counts the search's stop checks and cancels at the ``cancel_at``-th."""

    def __init__(self, cancel_at: int | None = None) -> None:
        super().__init__()
        self.checks = 0
        self._cancel_at = cancel_at

    @property
    def cancelled(self) -> bool:
        self.checks += 1
        return self._cancel_at is not None and self.checks >= self._cancel_at


@pytest.mark.parametrize("entry", ["search", "search_body"])
def test_the_heaviest_allowed_filter_checks_for_a_cancel_every_few_hundred_rows(
    random_catalog: tuple[CatalogBackend, list[dict[str, Any]]], entry: str
) -> None:
    """Issue 12: the stop check's cadence follows the filter's per-row cost. With the largest query
    the limits allow (every value of MAX_FILTER_VALUES evaluated on every row: AND-ed ``not in``
    that every record passes) the rows between two checks are a few hundred, not 4,096; a cancel
    seen at the second check ends the search, and a passed deadline stops it."""
    from aurorax_core.query import MAX_FILTER_VALUES, MAX_METADATA_EXPRESSIONS

    catalog, records = random_catalog
    per_expression = MAX_FILTER_VALUES // MAX_METADATA_EXPRESSIONS
    exprs = [
        MetadataFilterExpression("imaging_start_time", "not in", tuple(f"never-{i}-{j}" for j in range(per_expression)))
        for i in range(MAX_METADATA_EXPRESSIONS)
    ]
    query = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00", metadata_filters=exprs)
    from aurorax_core.backends.catalog.deadline import MAX_ROWS_PER_CHECK, rows_per_check

    # the cadence: a cheap query checks every 4,096 rows, the heaviest allowed one every few hundred
    assert rows_per_check(0) == MAX_ROWS_PER_CHECK
    assert rows_per_check(MAX_FILTER_VALUES) <= 1000
    counting = _CountingToken()
    getattr(catalog, entry)(query, cancel=counting)
    assert counting.checks >= 3, f"{counting.checks} stop checks over {len(records)} rows"
    with pytest.raises(SearchCancelled):
        getattr(catalog, entry)(query, cancel=_CountingToken(cancel_at=2))
    with pytest.raises(SearchTimeout):
        getattr(catalog, entry)(query, timeout=0)


def test_concurrent_readers_from_threads(random_catalog: tuple[CatalogBackend, list[dict[str, Any]]]) -> None:
    catalog, records = random_catalog
    rng = random.Random(5)
    payloads = [random_payload(rng) for _ in range(40)]
    expected = [oracle(records, _normalised(p)) for p in payloads]
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(len(payloads)):
                j = (i + offset) % len(payloads)
                got = [p.url for p in catalog.search(DataProductQuery.from_api_payload(payloads[j]))]
                assert got == expected[j]
                catalog.list_sources(include_stats=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k * 5,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_readers_see_a_writer_from_another_connection(tmp_path: Any) -> None:
    path = tmp_path / "shared.sqlite"
    writer = CatalogBackend(path)
    reader = CatalogBackend(path, readonly=True)
    query = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")
    assert len(reader.search(query)) == 0
    writer.ingest_products(make_records(25, seed=8))
    assert len(reader.search(query)) == 25
    assert {s.identifier for s in reader.list_sources()} == {
        r["data_source"]["identifier"] for r in make_records(25, seed=8)
    }
    writer.close()
    reader.close()


def test_connections_of_finished_threads_are_released(catalog: CatalogBackend) -> None:
    """A server's worker threads come and go; their SQLite connections must not pile up."""
    catalog.ingest_products(make_records(20, seed=2))
    query = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    def one_search() -> None:
        assert len(catalog.search(query)) == 20

    for _ in range(3):
        t = threading.Thread(target=one_search)
        t.start()
        t.join()
    baseline = open_files()
    for _ in range(60):
        t = threading.Thread(target=one_search)
        t.start()
        t.join()
    assert open_files() <= baseline + 4


def test_describe_is_the_aurorax_description(catalog: CatalogBackend) -> None:
    query = DataProductQuery(start="2020-02-01T00:00:00", end="2020-02-01T23:59:59", programs=["trex"])
    assert catalog.describe(query) == (
        "Find data_products for ((program in (trex) filtered by metadata ()) AND  data_product_metadata_filters []) "
        "AND data_product start >= 2020-02-01T00:00 UTC AND data_product end <= 2020-02-01T23:59:59 UTC AND"
    )
