"""The data endpoint's body is exactly the JSON of the records' API dicts (what pyaurorax decodes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core.models import DataProduct, DataSource
from aurorax_core.server import encode_products

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
SOURCES = [
    DataSource(44, "themis-asi", "athabasca", "panchromatic ASI", display_name="THEMIS-ASI ATHA"),
    DataSource(7, 'pr\u00f6gram "q"', "pl\\at", "i\u2603", source_type="ground", display_name="\U0001f600"),
]


def _reference(products: list[DataProduct]) -> bytes:
    return json.dumps({"result": [p.to_api_dict() for p in products]}).encode("ascii")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SOURCES),
            st.sampled_from(["keogram", "montage", "movie", "summary_plot"]),
            st.integers(0, 10**8),
            st.integers(0, 10**6),
            st.text(min_size=1),
            st.dictionaries(st.text(), JSON_VALUES, max_size=4),
        ),
        max_size=8,
    )
)
def test_encoded_body_equals_json_of_api_dicts(items: list[tuple[Any, ...]]) -> None:
    base = datetime(2020, 1, 1, tzinfo=UTC)
    products = [
        DataProduct(source, kind, base + timedelta(seconds=start), base + timedelta(seconds=start + span), url, meta)
        for source, kind, start, span, url, meta in items
    ]
    body, count = encode_products(products)
    assert body == _reference(products)
    assert count == len(products)


def test_shared_sources_and_times_are_written_in_full_for_every_record() -> None:
    start = datetime(2020, 1, 5, tzinfo=UTC)
    products = [
        DataProduct(SOURCES[i % 2], "keogram", start, start + timedelta(hours=1), f"https://x/{i}.jpg", {"i": i})
        for i in range(5)
    ]
    records = json.loads(encode_products(products)[0])["result"]
    assert [r["data_source"]["identifier"] for r in records] == [44, 7, 44, 7, 44]
    assert {r["start"] for r in records} == {"2020-01-05T00:00:00"}
    assert [r["metadata"] for r in records] == [{"i": i} for i in range(5)]
