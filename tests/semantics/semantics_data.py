"""Small random catalogs and random queries for the semantic suite (seeded: every run is the same).

The values mix what the AuroraX filter semantics must cope with: numbers, numeric strings (with
spaces, exponents, one that overflows), booleans and their spellings, null, empty and SQL-looking
text, lists and objects, keys that some records lack, and keys that a source's metadata schema
types as double, int, bool or string.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from aurorax_core import DataProductQuery, MetadataFilterExpression
from aurorax_core.query import MAX_FILTER_VALUES, MAX_METADATA_EXPRESSIONS

BASE = datetime(2021, 3, 1, tzinfo=UTC)
DAYS = 5
TYPES = ("keogram", "montage", "movie", "summary_plot")
KEYS = ("keogram_type", "montage_type", "cloud", "count", "good", "note")
DATA_TYPES = (None, "double", "int", "bool", "string", "unknown")
VALUES: tuple[Any, ...] = (
    "daily", "hourly", "Daily", "daily_hires", "real-time daily", "5", "5.0", " 7 ", "1e3", "1e999", "-2.5",
    0, 1, 5, 5.0, 7, -2.5, 1000, 12.25, True, False, None, "true", "TRUE", "false", "yes", "", "' OR 1=1 --",
    "été", [1, 2], {"k": "v"},
)  # fmt: skip
FILTER_VALUES: tuple[Any, ...] = (
    "daily", "hourly", "Daily", "5", "5.0", " 7 ", "1e3", "1e999", "-2.5", "true", "FALSE", "", "abc", "été",
    0, 1, 5, 7, -2.5, 1000, 12.25, True, False,
)  # fmt: skip
OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "between", "in", "not in")


def make_sources(rng: random.Random, n: int = 6) -> list[dict[str, Any]]:
    programs = ("trex", "themis-asi", "rego")
    sources = []
    for identifier in range(1, n + 1):
        schema = []
        for key in KEYS:
            data_type = rng.choice(DATA_TYPES)
            if data_type is not None:
                schema.append({"field_name": key, "description": key, "data_type": data_type, "allowed_values": []})
        sources.append(
            {
                "identifier": identifier,
                "program": programs[identifier % 3],
                "platform": f"site{identifier % 4}",
                "instrument_type": "RGB ASI" if identifier % 2 else "panchromatic ASI",
                "source_type": "ground",
                "display_name": f"source {identifier}",
                "data_product_metadata_schema": schema,
            }
        )
    return sources


def make_records(rng: random.Random, sources: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        source = rng.choice(sources)
        kind = rng.choice(TYPES)
        start = BASE + timedelta(seconds=rng.randrange(DAYS * 86400) // 600 * 600)
        end = start + timedelta(seconds=rng.choice((0, 59, 3599, 86399, rng.randrange(150000))))
        metadata = {}
        for key in KEYS:
            if rng.random() < 0.6:
                metadata[key] = rng.choice(VALUES)
        records.append(
            {
                "data_source": {"identifier": source["identifier"]},
                "data_product_type": kind,
                "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%S"),
                "url": f"https://example.org/{source['identifier']}/{kind}/{i:05d}.jpg",
                "metadata": metadata,
            }
        )
    return records


def random_expression(
    rng: random.Random, key: str | None = None, operator: str | None = None
) -> MetadataFilterExpression:
    operator = operator or rng.choice(OPERATORS)
    count = {"between": 2, "in": rng.randint(1, 4), "not in": rng.randint(1, 4)}.get(operator, 1)
    values = tuple(rng.choice(FILTER_VALUES) for _ in range(count))
    return MetadataFilterExpression(key or rng.choice(KEYS), operator, values)


def random_query(rng: random.Random, sources: list[dict[str, Any]]) -> DataProductQuery:
    start = BASE + timedelta(seconds=rng.randrange(-86400, DAYS * 86400))
    end = start + timedelta(seconds=rng.choice((0, 3599, 86399, rng.randrange(DAYS * 86400 * 2))))

    def some(pool: list[str]) -> tuple[str, ...]:
        return tuple(sorted({rng.choice(pool) for _ in range(rng.randint(1, 2))})) if rng.random() < 0.3 else ()

    shape = rng.random()
    if shape < 0.2:
        filters: list[MetadataFilterExpression] = []
    elif shape < 0.6:
        filters = [random_expression(rng) for _ in range(rng.randint(1, 3))]
    else:
        # many alternatives on few keys: what the OR grouping turns into set and interval lookups
        keys = [rng.choice(KEYS) for _ in range(rng.randint(1, 2))]
        ops = ("=", "in", "between", "between", rng.choice(OPERATORS))
        # up to the query limits (aurorax_core.query): the largest query a user may send is covered
        filters = []
        for _ in range(rng.randint(2, MAX_METADATA_EXPRESSIONS)):
            expression = random_expression(rng, rng.choice(keys), rng.choice(ops))
            if sum(len(f.values) for f in filters) + len(expression.values) > MAX_FILTER_VALUES:
                break
            filters.append(expression)
    return DataProductQuery(
        start=start,
        end=end,
        programs=some([s["program"] for s in sources]),
        platforms=some([s["platform"] for s in sources]),
        instrument_types=some([s["instrument_type"] for s in sources]),
        data_product_types=tuple(sorted({rng.choice(TYPES) for _ in range(rng.randint(1, 2))}))
        if rng.random() < 0.3
        else (),
        metadata_filters=tuple(filters),
        metadata_filters_logical_operator="OR" if rng.random() < 0.6 else "AND",
    )
