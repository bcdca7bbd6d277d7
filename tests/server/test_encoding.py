"""The data endpoint's body is exactly the JSON of the records' API dicts (what pyaurorax decodes).

The server sends ``CatalogBackend.search_body``, which writes the body from catalog rows with the
metadata text as stored; these check it against ``json.dumps`` of the same search's DataProducts for
arbitrary metadata, URLs and source names.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core import CatalogBackend, DataProductQuery
from aurorax_core.models import DataProduct, DataSource

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
SOURCES = [
    DataSource(44, "themis-asi", "athabasca", "panchromatic ASI", display_name="THEMIS-ASI ATHA"),
    DataSource(7, 'pr\u00f6gram "q"', "pl\\at", "i\u2603", source_type="ground", display_name="\U0001f600"),
]
BASE = datetime(2020, 1, 1, tzinfo=UTC)
EVERYTHING = DataProductQuery(start=BASE - timedelta(days=1), end=BASE + timedelta(days=1200))


def _body_and_reference(products: list[DataProduct]) -> tuple[Any, bytes, int]:
    with tempfile.TemporaryDirectory() as folder:
        catalog = CatalogBackend(Path(folder) / "catalog.sqlite")
        try:
            catalog.ingest_sources(SOURCES)
            if products:
                catalog.ingest_products(products)
            result = catalog.search(EVERYTHING)
            reference = json.dumps({"result": result.to_api_records()}).encode("ascii")
            return catalog.search_body(EVERYTHING), reference, len(result)
        finally:
            catalog.close()


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
    products = [
        # a distinct URL per record: the catalog keeps one record per URL
        DataProduct(
            source, kind, BASE + timedelta(seconds=start), BASE + timedelta(seconds=start + span), f"{i}{url}", meta
        )
        for i, (source, kind, start, span, url, meta) in enumerate(items)
    ]
    body, reference, found = _body_and_reference(products)
    assert body.body == reference
    assert body.count == found == len(products)


def test_shared_sources_and_times_are_written_in_full_for_every_record() -> None:
    products = [
        DataProduct(SOURCES[i % 2], "keogram", BASE, BASE + timedelta(hours=1), f"https://x/{i}.jpg", {"i": i})
        for i in range(5)
    ]
    body, _, _ = _body_and_reference(products)
    records = json.loads(body.body)["result"]
    assert [r["data_source"]["identifier"] for r in records] == [44, 7, 44, 7, 44]
    assert {r["start"] for r in records} == {"2020-01-01T00:00:00"}
    assert [r["metadata"] for r in records] == [{"i": i} for i in range(5)]
