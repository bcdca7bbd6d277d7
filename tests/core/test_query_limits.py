"""The bounded cost of a query: each limit accepts its value and refuses one more, naming itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aurorax_core import query as q
from aurorax_core.errors import QueryValidationError
from aurorax_core.query import DataProductQuery


def _payload(**sources: Any) -> dict[str, Any]:
    filters = sources.pop("filters", [])
    types = sources.pop("types", [])
    return {
        "start": "2020-01-01T00:00:00",
        "end": "2020-01-01T23:59:59",
        "data_sources": {
            "programs": sources.get("programs", []),
            "platforms": sources.get("platforms", []),
            "instrument_types": sources.get("instrument_types", []),
            "data_product_metadata_filters": {"expressions": filters, "logical_operator": "OR"},
        },
        "data_product_type_filters": types,
    }


def _between(i: int) -> dict[str, Any]:
    return {"key": "cloud_confidence", "operator": "between", "values": [i, i + 1]}


def _cases() -> list[tuple[str, Any, Any, str]]:
    """(name, payload at the limit, payload just past it, the limit's name in the message)."""
    n_exprs = q.MAX_METADATA_EXPRESSIONS
    n_values = q.MAX_VALUES_PER_EXPRESSION
    in_expr = lambda n: {"key": "keogram_type", "operator": "in", "values": [f"t{i}" for i in range(n)]}  # noqa: E731
    names = lambda n: [f"p{i}" for i in range(n)]  # noqa: E731
    per_expr = q.MAX_FILTER_VALUES // n_exprs
    spread = lambda total: [  # noqa: E731
        {"key": f"k{i}", "operator": "in", "values": list(range(total // n_exprs + (i < total % n_exprs)))}
        for i in range(n_exprs)
    ]
    assert per_expr >= 1
    return [
        (
            "expressions",
            _payload(filters=[{"key": f"k{i}", "operator": "=", "values": ["x"]} for i in range(n_exprs)]),
            _payload(filters=[{"key": f"k{i}", "operator": "=", "values": ["x"]} for i in range(n_exprs + 1)]),
            "MAX_METADATA_EXPRESSIONS",
        ),
        (
            "values",
            _payload(filters=[in_expr(n_values)]),
            _payload(filters=[in_expr(n_values + 1)]),
            "MAX_VALUES_PER_EXPRESSION",
        ),
        (
            "all values",
            _payload(filters=spread(q.MAX_FILTER_VALUES)),
            _payload(filters=spread(q.MAX_FILTER_VALUES + 1)),
            "MAX_FILTER_VALUES",
        ),
        (
            "key length",
            _payload(filters=[{"key": "k" * q.MAX_KEY_LENGTH, "operator": "=", "values": ["x"]}]),
            _payload(filters=[{"key": "k" * (q.MAX_KEY_LENGTH + 1), "operator": "=", "values": ["x"]}]),
            "MAX_KEY_LENGTH",
        ),
        (
            "value length",
            _payload(filters=[{"key": "k", "operator": "=", "values": ["v" * q.MAX_VALUE_LENGTH]}]),
            _payload(filters=[{"key": "k", "operator": "=", "values": ["v" * (q.MAX_VALUE_LENGTH + 1)]}]),
            "MAX_VALUE_LENGTH",
        ),
        (
            "programs",
            _payload(programs=names(q.MAX_LIST_ENTRIES)),
            _payload(programs=names(q.MAX_LIST_ENTRIES + 1)),
            "MAX_LIST_ENTRIES",
        ),
        (
            "platforms",
            _payload(platforms=names(q.MAX_LIST_ENTRIES)),
            _payload(platforms=names(q.MAX_LIST_ENTRIES + 1)),
            "MAX_LIST_ENTRIES",
        ),
        (
            "instrument_types",
            _payload(instrument_types=names(q.MAX_LIST_ENTRIES)),
            _payload(instrument_types=names(q.MAX_LIST_ENTRIES + 1)),
            "MAX_LIST_ENTRIES",
        ),
        (
            "types",
            _payload(types=["keogram"] * q.MAX_LIST_ENTRIES),
            _payload(types=["keogram"] * (q.MAX_LIST_ENTRIES + 1)),
            "MAX_LIST_ENTRIES",
        ),
        (
            "name length",
            _payload(platforms=["p" * q.MAX_NAME_LENGTH]),
            _payload(platforms=["p" * (q.MAX_NAME_LENGTH + 1)]),
            "MAX_NAME_LENGTH",
        ),
    ]


CASES = _cases()


@pytest.mark.parametrize(("name", "at", "past", "limit"), CASES, ids=[c[0] for c in CASES])
def test_each_limit_accepts_its_value_and_refuses_one_more_naming_the_limit(
    name: str, at: dict[str, Any], past: dict[str, Any], limit: str
) -> None:
    DataProductQuery.from_api_payload(at)
    with pytest.raises(QueryValidationError) as info:
        DataProductQuery.from_api_payload(past)
    assert limit in str(info.value)
    # the value given is in the message too
    assert str(getattr(q, limit) + 1) in str(info.value)


def test_python_api_constructor_is_bounded_too() -> None:
    with pytest.raises(QueryValidationError, match="MAX_METADATA_EXPRESSIONS"):
        DataProductQuery(
            start="2020-01-01T00:00:00",
            end="2020-01-01T23:59:59",
            metadata_filters=[_between(i) for i in range(20_000)],
        )


def test_query_text_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    text = json.dumps(_payload())
    padded = text[:-1] + " " * (q.MAX_QUERY_BYTES - len(text)) + "}"
    assert len(padded) == q.MAX_QUERY_BYTES
    DataProductQuery.from_json(padded)
    path = tmp_path / "big.json"
    path.write_text(padded[:-1] + " }")
    with pytest.raises(QueryValidationError, match="MAX_QUERY_BYTES") as info:
        DataProductQuery.from_file(path)
    assert f"{q.MAX_QUERY_BYTES + 1:,} bytes" in str(info.value)


def test_the_largest_allowed_query_fits_the_size_limit() -> None:
    long = lambda i: f"{i:03d}".ljust(q.MAX_NAME_LENGTH, "x")  # noqa: E731
    per = q.MAX_FILTER_VALUES // q.MAX_METADATA_EXPRESSIONS
    largest = DataProductQuery.from_api_payload(
        _payload(
            programs=[long(i) for i in range(q.MAX_LIST_ENTRIES)],
            platforms=[long(i) for i in range(q.MAX_LIST_ENTRIES)],
            instrument_types=[long(i) for i in range(q.MAX_LIST_ENTRIES)],
            filters=[
                {
                    "key": "k" * q.MAX_KEY_LENGTH + str(i)[:0],
                    "operator": "in",
                    "values": ["v" * q.MAX_VALUE_LENGTH] * per,
                }
                for i in range(q.MAX_METADATA_EXPRESSIONS)
            ],
        )
    )
    assert len(largest.to_json(indent=None).encode()) < q.MAX_QUERY_BYTES
