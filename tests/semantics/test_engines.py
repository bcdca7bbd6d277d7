"""Every engine returns exactly what the reference returns, for random queries over random catalogs."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from semantics_data import make_records, make_sources, random_query

from aurorax_core import DataProduct, DataProductQuery, DataSource, MetadataFilterExpression
from aurorax_core.backends.filters import matches, reference_search
from aurorax_core.query import MAX_METADATA_EXPRESSIONS

SEEDS = (3, 17)
# the shapes conftest.py documents (not imported from it: conftest modules of other folders share its name)
Search = Callable[[DataProductQuery], list[dict[str, Any]]]
EngineFactory = Callable[[Path, list[dict[str, Any]], list[dict[str, Any]]], Search]


def _products(sources: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[DataProduct]:
    by_id = {s["identifier"]: DataSource.from_api_dict(s) for s in sources}
    return [DataProduct.from_api_dict(r, data_source=by_id[r["data_source"]["identifier"]]) for r in records]


@pytest.fixture(scope="module")
def loaded(
    engine: EngineFactory, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[Search, list[dict[str, Any]], list[DataProduct]]]:
    """Per seed: (the engine's search, the sources, the reference products) of a 700-record catalog."""
    out = []
    for seed in SEEDS:
        rng = random.Random(seed)
        sources = make_sources(rng)
        records = make_records(rng, sources, 700)
        search = engine(tmp_path_factory.mktemp(f"semantics-{seed}"), sources, records)
        out.append((search, sources, _products(sources, records)))
    return out


def _expected(query: DataProductQuery, products: list[DataProduct]) -> list[dict[str, Any]]:
    return [p.to_api_dict() for p in reference_search(query, products)]


def test_random_queries_return_what_the_reference_returns(
    loaded: list[tuple[Search, list[dict[str, Any]], list[DataProduct]]],
) -> None:
    non_empty = 0
    for index, (search, sources, products) in enumerate(loaded):
        rng = random.Random(1000 + index)
        for _ in range(250):
            query = random_query(rng, sources)
            expected = _expected(query, products)
            got = search(query)
            assert got == expected, query.to_json()
            non_empty += bool(expected)
    assert non_empty > 100  # the queries are not all trivially empty


def test_many_or_alternatives_on_one_key(loaded: list[tuple[Search, list[dict[str, Any]], list[DataProduct]]]) -> None:
    """The shape of the heavy-query attack (OR-ed between / = on one key), at the query limits."""
    search, _, products = loaded[0]
    rng = random.Random(7)
    for key in ("cloud", "count", "note", "keogram_type", "good"):
        for _ in range(40):
            exprs = []
            for _ in range(MAX_METADATA_EXPRESSIONS):
                if rng.random() < 0.5:
                    low = rng.uniform(-5, 1000)
                    exprs.append(
                        MetadataFilterExpression(key, "between", (round(low, 2), round(low + rng.uniform(0, 3), 2)))
                    )
                else:
                    exprs.append(
                        MetadataFilterExpression(key, "=", (rng.choice(["5", 7, "daily", "true", 1000, "x"]),))
                    )
            query = DataProductQuery(
                start=products[0].start.replace(day=1),
                end=products[0].start.replace(day=28),
                metadata_filters=tuple(exprs),
                metadata_filters_logical_operator="OR",
            )
            assert search(query) == _expected(query, products)


def test_the_reference_follows_the_protocol_examples() -> None:
    """PROTOCOL §3.7 in the reference itself: containment at both ends, missing keys never match,
    typed comparison by the source's schema."""
    source = DataSource.from_api_dict(
        {
            "identifier": 1,
            "program": "trex",
            "platform": "gillam",
            "instrument_type": "RGB ASI",
            "source_type": "ground",
            "display_name": "TREx RGB Gillam",
            "data_product_metadata_schema": [{"field_name": "cloud", "data_type": "double", "description": ""}],
        }
    )

    def product(start: str, end: str, **metadata: Any) -> DataProduct:
        record = {
            "data_product_type": "keogram",
            "start": start,
            "end": end,
            "url": f"u{start}{end}",
            "metadata": metadata,
        }
        return DataProduct.from_api_dict(record, data_source=source)

    day = DataProductQuery.from_api_payload(
        {"start": "2020-02-01T00:00:00", "end": "2020-02-01T23:59:59", "data_sources": {"programs": ["trex"]}}
    )
    assert matches(day, product("2020-02-01T00:00:00", "2020-02-01T23:59:59"))
    assert not matches(day, product("2020-01-31T23:00:00", "2020-02-01T00:59:59"))
    assert not matches(day, product("2020-02-01T23:00:00", "2020-02-02T00:00:00"))
    numeric = day.replace(metadata_filters=[MetadataFilterExpression("cloud", ">", ("9",))])
    assert matches(numeric, product("2020-02-01T01:00:00", "2020-02-01T02:00:00", cloud="10"))  # 10 > 9, not "10" < "9"
    assert not matches(numeric, product("2020-02-01T01:00:00", "2020-02-01T02:00:00"))
    negative = day.replace(metadata_filters=[MetadataFilterExpression("note", "!=", ("x",))])
    assert not matches(negative, product("2020-02-01T01:00:00", "2020-02-01T02:00:00"))
