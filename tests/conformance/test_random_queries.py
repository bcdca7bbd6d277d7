"""Seeded random queries: our RemoteBackend and pyaurorax, through the server, equal the in-process catalog."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyaurorax

from aurorax_core import DataProductQuery
from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.backends.remote import RemoteBackend

from ._compare import row_of_product, row_of_pyaurorax
from .conftest import POLL

DAYS = [datetime(2019, 1, 1), datetime(2019, 12, 31), datetime(2020, 1, 1), datetime(2020, 1, 2), datetime(2022, 1, 1)]
TYPES = ["keogram", "montage", "movie", "summary_plot"]
FILTERS: list[tuple[str, list[str]]] = [
    ("keogram_type", ["daily", "daily_hires", "daily_hires_200px", "daily_moviederived", "hourly"]),
    ("montage_type", ["daily", "hourly"]),
    ("movie_type", ["real-time daily"]),
]


def random_query(rng: random.Random, sources: list[Any]) -> DataProductQuery:
    day = rng.choice(DAYS)
    if rng.random() < 0.05:
        day = datetime(1990, 1, 1)  # nothing there
    start = day + timedelta(hours=rng.choice([0, 0, 0, 3, 6, 12, 20]))
    end = start + rng.choice([timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=2)])
    end -= timedelta(seconds=rng.choice([0, 1]))
    source = rng.choice(sources)
    other = rng.choice(sources)
    programs = rng.choice([[], [source.program], [source.program, other.program]])
    platforms = rng.choice([[], [], [source.platform], [source.platform, other.platform]])
    instruments = rng.choice([[], [], [source.instrument_type]])
    types = rng.sample(TYPES, rng.choice([0, 0, 1, 2]))
    expressions = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        key, values = rng.choice(FILTERS)
        operator = rng.choice(["=", "!=", "in", "not in"])
        chosen = rng.sample(values, 1 if operator in ("=", "!=") else rng.randint(1, len(values)))
        expressions.append({"key": key, "operator": operator, "values": chosen})
    return DataProductQuery(
        start=start.replace(tzinfo=UTC),
        end=end.replace(tzinfo=UTC),
        programs=programs,
        platforms=platforms,
        instrument_types=instruments,
        data_product_types=types,
        metadata_filters=expressions,
        metadata_filters_logical_operator=rng.choice(["AND", "OR"]),
    )


def _sources_with_data(catalog: CatalogBackend) -> list[Any]:
    return [s for s in catalog.list_sources(include_stats=True) if s.stats and s.stats["data_product_count"] > 0]


def test_remote_backend_equals_the_catalog_for_300_random_queries(server_url: str, catalog: CatalogBackend) -> None:
    rng = random.Random(20240229)
    sources = _sources_with_data(catalog)
    non_empty = 0
    with RemoteBackend(server_url) as remote:
        for index in range(300):
            query = random_query(rng, sources)
            expected = catalog.search(query).to_api_records()
            got = remote.search(query, timeout=30)
            assert got.to_api_records() == expected, f"query {index}: {query.to_json(indent=None)}"
            assert got.result_count == len(expected)
            non_empty += bool(expected)
    # the generator must exercise real matches, not only empty answers
    assert non_empty > 100


def test_pyaurorax_equals_the_catalog_for_60_random_queries(
    aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend
) -> None:
    rng = random.Random(1859)
    sources = _sources_with_data(catalog)
    non_empty = 0
    for index in range(60):
        query = random_query(rng, sources)
        payload = query.to_api_payload()
        filters = payload["data_sources"]["data_product_metadata_filters"]
        search = aurorax.search.data_products.search(
            query.start.replace(tzinfo=None),
            query.end.replace(tzinfo=None),
            programs=list(query.programs),
            platforms=list(query.platforms),
            instrument_types=list(query.instrument_types),
            data_product_types=list(query.data_product_types) or None,
            metadata_filters=filters.get("expressions") or None,
            metadata_filters_logical_operator=filters.get("logical_operator"),
            poll_interval=POLL,
        )
        expected = [row_of_product(p) for p in catalog.search(query).data]
        assert [row_of_pyaurorax(r) for r in search.data] == expected, f"query {index}: {query.to_json(indent=None)}"
        non_empty += bool(expected)
    assert non_empty > 20


def at_the_limits(query: DataProductQuery) -> DataProductQuery:
    """The same query grown to the largest allowed filter without changing its answer: OR gains
    alternatives that match nothing, AND gains conditions every record passes (``!=`` a value no
    record has holds only where the key exists, so only on the keys already required)."""
    from aurorax_core import query as limits

    expressions = [e.to_api_dict() for e in query.metadata_filters]
    if query.metadata_filters_logical_operator == "OR" or not expressions:
        if not expressions:  # OR of nothing would filter everything out: keep it unfiltered
            return query
        filler = {"key": "keogram_type", "operator": "in", "values": []}
    else:
        filler = {"key": expressions[0]["key"], "operator": "not in", "values": []}
    while len(expressions) < limits.MAX_METADATA_EXPRESSIONS:
        expressions.append({**filler, "values": []})
    room = limits.MAX_FILTER_VALUES - sum(len(e["values"]) for e in expressions if e["values"])
    empties = [e for e in expressions if not e["values"]]
    for i, expression in enumerate(empties):
        share = room // len(empties) + (i < room % len(empties))
        expression["values"] = [f"no-such-{i}-{k}".ljust(limits.MAX_VALUE_LENGTH, "x") for k in range(max(1, share))]
    return query.replace(metadata_filters=expressions)


def test_remote_backend_equals_the_catalog_for_queries_grown_to_the_limits(
    server_url: str, catalog: CatalogBackend
) -> None:
    rng = random.Random(20261205)
    sources = _sources_with_data(catalog)
    grown = 0
    with RemoteBackend(server_url) as remote:
        for index in range(80):
            query = random_query(rng, sources)
            big = at_the_limits(query)
            grown += big != query
            expected = catalog.search(query).to_api_records()
            assert catalog.search(big).to_api_records() == expected, f"query {index}: {big.to_json(indent=None)}"
            assert remote.search(big, timeout=30).to_api_records() == expected, f"query {index}"
    assert grown > 30
