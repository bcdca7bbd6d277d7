"""The SQLite catalog's search expectations, run unchanged against the PostgreSQL catalog.

The test functions are the ones in tests/core/test_catalog_search.py (their independent
plain-Python oracle included); this package's conftest gives them a PostgreSQL ``catalog`` and
``random_catalog``. On top: the same random queries give the same records, JSON and sizes as the
SQLite engine over the same records.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from catalog_data import SOURCES
from test_catalog_search import (  # the SQLite catalog's own semantic tests, reused as they are
    random_payload,
    test_cancel_and_timeout,
    test_concurrent_readers_from_threads,
    test_describe_is_the_aurorax_description,
    test_missing_key_never_matches_even_negative_operators,
    test_numeric_schema_compares_numbers_and_between_is_inclusive,
    test_or_over_sub_type_keys_returns_only_matching_records,
    test_random_queries_match_brute_force,
    test_result_file_size_is_the_aurorax_json_size,
    test_search_body_is_the_json_of_the_search,
    test_search_reports_aurorax_stages_and_logs,
    test_source_lists_or_inside_and_across_case_sensitive,
    test_sql_looking_values_match_literally,
    test_sub_type_filters_match_brute_force,
    test_time_is_containment_inclusive_at_both_ends,
)

from aurorax_core import CatalogBackend, DataProductQuery
from aurorax_core.backends.postgres import PostgresBackend

REUSED = (
    test_cancel_and_timeout,
    test_concurrent_readers_from_threads,
    test_describe_is_the_aurorax_description,
    test_missing_key_never_matches_even_negative_operators,
    test_numeric_schema_compares_numbers_and_between_is_inclusive,
    test_or_over_sub_type_keys_returns_only_matching_records,
    test_random_queries_match_brute_force,
    test_result_file_size_is_the_aurorax_json_size,
    test_search_body_is_the_json_of_the_search,
    test_search_reports_aurorax_stages_and_logs,
    test_source_lists_or_inside_and_across_case_sensitive,
    test_sql_looking_values_match_literally,
    test_sub_type_filters_match_brute_force,
    test_time_is_containment_inclusive_at_both_ends,
)


@pytest.fixture(scope="module")
def sqlite_twin(
    random_catalog: tuple[PostgresBackend, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogBackend]:
    """The SQLite engine over exactly the records of the PostgreSQL random catalog."""
    _, records = random_catalog
    backend = CatalogBackend(Path(tmp_path_factory.mktemp("twin")) / "twin.sqlite")
    backend.ingest_sources(SOURCES)
    backend.ingest_products(records, batch_size=700)
    yield backend
    backend.close()


def test_random_queries_give_what_the_sqlite_engine_gives(
    random_catalog: tuple[PostgresBackend, list[dict[str, Any]]], sqlite_twin: CatalogBackend
) -> None:
    catalog, _ = random_catalog
    rng = random.Random(4242)
    nonempty = 0
    for _ in range(600):
        query = DataProductQuery.from_api_payload(random_payload(rng))
        ours, theirs = catalog.search(query), sqlite_twin.search(query)
        assert ours.to_api_records() == theirs.to_api_records(), json.dumps(query.to_api_payload())
        assert ours.file_size == theirs.file_size
        nonempty += bool(len(ours))
    assert nonempty > 150


def test_derived_views_equal_the_sqlite_engine(
    random_catalog: tuple[PostgresBackend, list[dict[str, Any]]], sqlite_twin: CatalogBackend
) -> None:
    catalog, _ = random_catalog
    assert catalog.list_sources(include_stats=True) == sqlite_twin.list_sources(include_stats=True)
    assert catalog.time_span() == sqlite_twin.time_span()
    assert catalog.metadata_values() == sqlite_twin.metadata_values()
    ours = catalog.availability("2019-12-31", "2020-01-10")
    theirs = sqlite_twin.availability("2019-12-31", "2020-01-10")
    assert [(a.data_source, a.available_data_products) for a in ours] == [
        (a.data_source, a.available_data_products) for a in theirs
    ]
    # the per-type breakdown adds up to each day's total
    for item in ours:
        assert item.by_type and {d: sum(t.values()) for d, t in item.by_type.items()} == item.available_data_products
    stats, twin = catalog.stats(), sqlite_twin.stats()
    for key in ("records", "sources", "sources_with_products", "per_type", "earliest", "latest"):
        assert stats[key] == twin[key], key
