"""The compiled metadata filter (with its set and interval lookups for OR-ed alternatives) decides
exactly what the value-by-value reference decides, in every comparison mode."""

from __future__ import annotations

import random
from typing import Any

from semantics_data import DATA_TYPES, KEYS, VALUES, random_expression

from aurorax_core import MetadataFilterExpression
from aurorax_core.backends.catalog import compile_metadata_filter as from_catalog
from aurorax_core.backends.filters import compile_filter, compile_metadata_filter, metadata_matches


def _metadata(rng: random.Random) -> dict[str, Any]:
    return {key: rng.choice(VALUES) for key in KEYS if rng.random() < 0.7}


def test_compiled_filters_agree_with_the_reference() -> None:
    rng = random.Random(2026)
    records = [_metadata(rng) for _ in range(300)]
    checked = matched = 0
    for _ in range(1500):
        types = {key: t for key in KEYS if (t := rng.choice(DATA_TYPES)) is not None}
        logical = rng.choice(("AND", "OR", "or"))
        if rng.random() < 0.5:
            keys = [rng.choice(KEYS)]
            ops = ("=", "in", "between", "between")
            exprs = [random_expression(rng, keys[0], rng.choice(ops)) for _ in range(rng.randint(2, 30))]
        else:
            exprs = [random_expression(rng) for _ in range(rng.randint(1, 4))]
        predicate = compile_metadata_filter(exprs, logical, types)
        assert predicate is not None
        for md in records:
            expected = metadata_matches(exprs, logical, md, types)
            assert predicate(md) == expected, (exprs, logical, types, md)
            checked += 1
            matched += expected
    assert 0.05 < matched / checked < 0.95


def test_mixed_between_bounds_and_overlapping_intervals() -> None:
    """Overlapping and nested intervals merge; a between with one numeric and one text bound (each
    end compares in its own way) stays exact; an empty interval (low > high) matches nothing."""
    exprs = [
        MetadataFilterExpression("cloud", "between", (1, 5)),
        MetadataFilterExpression("cloud", "between", (3, 8)),
        MetadataFilterExpression("cloud", "between", (4, 4.5)),
        MetadataFilterExpression("cloud", "between", (20, 10)),
        MetadataFilterExpression("cloud", "between", ("5", "abc")),
        MetadataFilterExpression("cloud", "=", ("daily",)),
    ]
    values: list[Any] = [0, 1, 2.5, 5, 8, 8.01, 10, 15, 20, "5", "50", "a", "abd", "daily", True, None, "1e999"]
    for types in ({}, {"cloud": "double"}, {"cloud": "string"}, {"cloud": "bool"}):
        predicate = compile_metadata_filter(exprs, "OR", types)
        assert predicate is not None
        for value in values:
            assert predicate({"cloud": value}) == metadata_matches(exprs, "OR", {"cloud": value}, types), (types, value)
    numeric = compile_metadata_filter(exprs[:4], "OR", {"cloud": "double"})
    assert numeric is not None
    assert [v for v in (0, 1, 8, 8.01, 15, "7") if numeric({"cloud": v})] == [1, 8, "7"]
    assert not numeric({})  # a record without the key never matches


def test_or_alternatives_cost_one_lookup_not_one_comparison_each() -> None:
    """20,000 OR-ed between on one key compile to a constant per-record cost (the stop-check
    cadence and the attack's CPU time both depend on it)."""
    many = [MetadataFilterExpression("cloud", "between", (i, i + 0.5)) for i in range(20_000)]
    compiled = compile_filter(many, "OR", {"cloud": "double"})
    assert compiled is not None and compiled.cost <= 2
    assert compiled.predicate({"cloud": 19_999.25}) and not compiled.predicate({"cloud": 19_999.75})
    anded = compile_filter(many[:100], "AND", {})
    assert anded is not None and anded.cost == 200


def test_the_catalog_still_exports_compile_metadata_filter() -> None:
    assert from_catalog is compile_metadata_filter
