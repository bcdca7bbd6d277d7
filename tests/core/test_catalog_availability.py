"""Issue 15: availability() carries the per-type breakdown for every source-day, from counts kept
by every write in its own transaction; they equal a brute-force count over searches, after ingest
(new records and updates that move a record to another day or type) and after delete. A catalog
of the previous schema (version 2) is upgraded in place on its first writable open."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from catalog_data import SOURCES, make_records

from aurorax_core import CatalogBackend, CatalogError, DataProductQuery
from aurorax_core.backends.catalog import SCHEMA_VERSION

# the records are in January 2020 (lasting up to ~2 days); a search is limited to 25 years
EVERYTHING = DataProductQuery(start=datetime(2019, 6, 1, tzinfo=UTC), end=datetime(2021, 6, 1, tzinfo=UTC))


def _brute_force(catalog: CatalogBackend) -> dict[int, Counter[tuple[str, str]]]:
    """source id -> (day, type) -> records, from one search per source over EVERYTHING."""
    out: dict[int, Counter[tuple[str, str]]] = {}
    for source in catalog.list_sources():
        query = EVERYTHING.replace(
            programs=[source.program], platforms=[source.platform], instrument_types=[source.instrument_type]
        )
        counts: Counter[tuple[str, str]] = Counter(
            (p.start.date().isoformat(), p.data_product_type) for p in catalog.search(query).data
        )
        if counts:
            assert source.identifier is not None
            out[source.identifier] = counts
    return out


def _from_availability(catalog: CatalogBackend, first: date, last: date) -> dict[int, Counter[tuple[str, str]]]:
    out: dict[int, Counter[tuple[str, str]]] = {}
    for entry in catalog.availability(first, last):
        assert entry.data_source.identifier is not None
        counts: Counter[tuple[str, str]] = Counter()
        assert set(entry.by_type) == set(entry.available_data_products)  # every source-day has its breakdown
        for day, total in entry.available_data_products.items():
            assert sum(entry.by_type[day].values()) == total
            for kind, n in entry.by_type[day].items():
                assert n > 0
                counts[(day, kind)] = n
        out[entry.data_source.identifier] = counts
    return out


def _check(catalog: CatalogBackend) -> int:
    expected = _brute_force(catalog)
    assert _from_availability(catalog, date(2019, 6, 1), date(2021, 5, 31)) == expected
    return sum(sum(c.values()) for c in expected.values())


def test_counts_by_type_equal_a_brute_force_count_through_ingest_update_and_delete(tmp_path: Path) -> None:
    catalog = CatalogBackend(tmp_path / "catalog.sqlite")
    catalog.ingest_sources(SOURCES)
    records = make_records(1500, seed=21)
    catalog.ingest_products(records[:1000], batch_size=300)  # bulk path (empty catalog)
    assert _check(catalog) == 1000
    rng = random.Random(5)
    moved = []
    for record in rng.sample(records[:1000], 200):  # updates: another day and another type
        changed = dict(record, data_product_type=rng.choice(["keogram", "movie", "average"]))
        changed["start"] = changed["end"] = f"2020-01-{rng.randint(1, 28):02d}T12:00:00"
        moved.append(changed)
    catalog.ingest_products(moved + records[1000:], batch_size=250)  # incremental path
    assert _check(catalog) == 1500
    by_source: dict[int, list[str]] = {}
    for record in rng.sample(records, 400):
        by_source.setdefault(record["data_source"]["identifier"], []).append(record["url"])
    deleted = sum(catalog.delete_products(sid, urls) for sid, urls in by_source.items())
    assert deleted == 400
    assert _check(catalog) == 1100
    catalog.close()


def test_a_partial_range_and_one_program(tmp_path: Path) -> None:
    catalog = CatalogBackend(tmp_path / "catalog.sqlite")
    catalog.ingest_sources(SOURCES)
    catalog.ingest_products(make_records(600, seed=8))
    answer = catalog.availability(date(2020, 1, 2), date(2020, 1, 3), program="trex")
    assert answer and all(e.data_source.program == "trex" for e in answer)
    for entry in answer:
        query = DataProductQuery(
            start=datetime(2020, 1, 2, tzinfo=UTC),
            end=datetime(2021, 1, 1, tzinfo=UTC),
            programs=["trex"],
            platforms=[entry.data_source.platform],
            instrument_types=[entry.data_source.instrument_type],
        )
        found: Counter[tuple[str, str]] = Counter(
            (p.start.date().isoformat(), p.data_product_type)
            for p in catalog.search(query).data
            if p.start.date() <= date(2020, 1, 3)
        )
        assert {(d, k): n for d, types in entry.by_type.items() for k, n in types.items()} == dict(found)
    # the breakdowns are the caller's to change: no other day or source sees it
    answer[0].by_type[next(iter(answer[0].by_type))]["keogram"] = -1
    again = catalog.availability(date(2020, 1, 2), date(2020, 1, 3), program="trex")
    assert all(n > 0 for e in again for types in e.by_type.values() for n in types.values())
    catalog.close()


def _downgrade_to_version_2(path: Path) -> None:
    """Make the catalog exactly what schema version 2 wrote: day_counts without the type columns."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("BEGIN")
        conn.execute(
            "CREATE TABLE old_day_counts (source_id INTEGER NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL, "
            "PRIMARY KEY (source_id, day)) WITHOUT ROWID"
        )
        conn.execute("INSERT INTO old_day_counts SELECT source_id, day, n FROM day_counts")
        conn.execute("DROP TABLE day_counts")
        conn.execute("ALTER TABLE old_day_counts RENAME TO day_counts")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("COMMIT")
    conn.close()


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    conn.close()
    return version


def test_a_version_2_catalog_is_upgraded_in_place_on_a_writable_open(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    records: list[dict[str, Any]] = make_records(800, seed=13)
    records[0]["start"], records[0]["end"] = "1969-12-31T12:00:00", "1969-12-31T13:00:00"  # a negative epoch day
    with CatalogBackend(path) as catalog:
        catalog.ingest_sources(SOURCES)
        catalog.ingest_products(records)
        before = catalog.search(EVERYTHING).data
    _downgrade_to_version_2(path)
    assert SCHEMA_VERSION == 3 and _version(path) == 2
    with pytest.raises(CatalogError, match=r"schema version 2 .*open it once with write access .*upgrade it in place"):
        CatalogBackend(path, readonly=True)
    assert _version(path) == 2  # a read-only open changes nothing
    with CatalogBackend(path) as catalog:
        assert _version(path) == 3
        assert catalog.search(EVERYTHING).data == before
        assert _check(catalog) == 799
        assert catalog.availability(date(1969, 12, 31), date(1969, 12, 31))[0].by_type == {
            "1969-12-31": {records[0]["data_product_type"]: 1}
        }
    with CatalogBackend(path, readonly=True) as catalog:  # and now readable by everyone
        assert _check(catalog) == 799
