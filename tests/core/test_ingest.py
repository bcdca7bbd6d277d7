"""Ingest: file formats, validation, idempotence and atomicity (failures and kills leave no trace)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from catalog_data import SOURCES, make_records

from aurorax_core import (
    CatalogBackend,
    CatalogError,
    ConflictError,
    DataProduct,
    DataProductQuery,
    DataSource,
    DuplicateError,
    NotFound,
    RecordValidationError,
    ingest_file,
    ingest_records,
)

EVERYTHING = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")


def snapshot(path: Path) -> list[str]:
    """Every row of every table, to compare a catalog before and after a failed write."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _urls(catalog: CatalogBackend) -> list[str]:
    return [p.url for p in catalog.search(EVERYTHING)]


# --- formats -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["result", "list", "cli", "jsonl", "indented"])
def test_ingest_file_layouts(tmp_path: Path, catalog: CatalogBackend, layout: str) -> None:
    records = make_records(120, seed=4)
    if layout == "result":
        path = tmp_path / "data.json"
        path.write_text(json.dumps({"result": records}))
    elif layout == "list":
        path = tmp_path / "data.json"
        path.write_text(json.dumps(records))
    elif layout == "cli":
        path = tmp_path / "c698b039-9d97-49d1-92ba-b8576ef0300d_data.json"
        path.write_text(json.dumps(sorted(records, key=lambda r: r["start"]), indent=4))
    elif layout == "jsonl":
        path = tmp_path / "data.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    else:
        path = tmp_path / "data.json"
        path.write_text(json.dumps({"result": records}, indent=2))
    seen: list[int] = []
    summary = ingest_file(path, catalog, batch_size=50, progress=seen.append)
    assert (summary.inserted, summary.updated) == (120, 0)
    assert summary.sources_added == len({r["data_source"]["identifier"] for r in records})
    assert seen == [50, 100, 120]
    assert sorted(_urls(catalog)) == sorted(r["url"] for r in records)


def test_streaming_reader_handles_records_larger_than_its_buffer(tmp_path: Path, catalog: CatalogBackend) -> None:
    records = make_records(30, seed=6)
    for i, record in enumerate(records):
        record["metadata"]["note"] = "x" * (400_000 + i)  # several records span 1 MiB chunk borders
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"result": records}))
    assert ingest_file(path, catalog).inserted == 30
    got = {p.url: p.metadata["note"] for p in catalog.search(EVERYTHING)}
    assert got == {r["url"]: r["metadata"]["note"] for r in records}


def test_ingest_sources_files(tmp_path: Path, catalog: CatalogBackend) -> None:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"records": SOURCES[:3]}))
    assert ingest_file(path, catalog).sources_added == 3
    path.write_text(json.dumps(SOURCES))
    summary = ingest_file(path, catalog)
    assert (summary.sources_added, summary.sources_updated) == (len(SOURCES) - 3, 3)
    schema = catalog.get_source(7).data_product_metadata_schema
    assert schema is not None and {e["field_name"] for e in schema} >= {"cloud", "good"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("not json at all", "must start with"),
        ('[{"url": "a"}, ', "not closed|not valid JSON"),
        ('{"result": [{"url": "a"} {"url": "b"}]}', "expected ',' or ']'"),
        ("42", "must start with"),
        ('{"hello": "world"}', "expected a list of records"),
    ],
)
def test_bad_files(tmp_path: Path, catalog: CatalogBackend, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RecordValidationError, match=message):
        ingest_file(path, catalog)
    assert catalog.stats()["records"] == 0


def test_missing_file(tmp_path: Path, catalog: CatalogBackend) -> None:
    with pytest.raises(RecordValidationError, match="does not exist"):
        ingest_file(tmp_path / "nope.json", catalog)


# --- validation: nothing written ------------------------------------------------------------------


def _bad(record: dict[str, Any], change: str) -> None:
    if change == "no url":
        del record["url"]
    elif change == "empty url":
        record["url"] = ""
    elif change == "no data_source":
        del record["data_source"]
    elif change == "bad start":
        record["start"] = "2020-13-45T99:00:00"
    elif change == "no end":
        del record["end"]
    elif change == "unknown type":
        record["data_product_type"] = "photograph"
    elif change == "end before start":
        record["end"] = "2019-01-01T00:00:00"
    elif change == "metadata not object":
        record["metadata"] = ["a", "b"]
    elif change == "source identifier not int":
        record["data_source"] = {**record["data_source"], "identifier": "abc"}
    elif change == "source without triple":
        record["data_source"] = {"identifier": 999}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no url", "record 130: missing 'url'"),
        ("empty url", "record 130: missing 'url'"),
        ("no data_source", r"record 130 \(https://.*\): missing 'data_source'"),
        ("bad start", r"record 130 \(https://.*\): .*start"),
        ("no end", r"record 130 \(https://.*\): missing 'end'"),
        ("unknown type", r"record 130 \(https://.*\): unknown data_product_type 'photograph'"),
        ("end before start", r"record 130 \(https://.*\): end 2019-01-01T00:00:00 is before start"),
        ("metadata not object", r"record 130 \(https://.*\): metadata must be a JSON object"),
        ("source identifier not int", r"record 130 \(https://.*\): data_source identifier 'abc' is not an integer"),
        ("source without triple", r"record 130 \(https://.*\): data_source 999 is not in the catalog"),
    ],
)
@pytest.mark.parametrize("prefilled", [True, False], ids=["incremental", "bulk-into-empty"])
def test_invalid_record_half_way_leaves_no_trace(
    catalog: CatalogBackend, change: str, message: str, prefilled: bool
) -> None:
    if prefilled:
        catalog.ingest_products(make_records(20, seed=1))
    before = snapshot(catalog.path)
    records = make_records(200, seed=2)
    _bad(records[130], change)
    # batch_size 50: batches 0-2 are already written when record 130 is validated
    with pytest.raises(RecordValidationError, match=message):
        catalog.ingest_products(records, batch_size=50)
    assert snapshot(catalog.path) == before  # includes the indexes a bulk load drops and rebuilds


def test_bulk_load_into_an_empty_catalog_rebuilds_the_indexes(catalog: CatalogBackend) -> None:
    def indexes() -> set[str]:
        with sqlite3.connect(catalog.path) as conn:
            return {
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'products'")
            }

    expected = indexes()
    assert {"products_url", "products_source_start", "products_sub_start"} <= expected
    records = make_records(500, seed=3)
    catalog.ingest_products(records, batch_size=100)
    assert indexes() == expected
    again = catalog.ingest_products(records[:10])  # the URL index is back: these are updates
    assert (again.inserted, again.updated) == (0, 10)


def test_a_reader_keeps_reading_during_an_ingest(catalog: CatalogBackend) -> None:
    """With another connection open (a server, a dashboard), the ingest goes through the WAL: the
    reader sees the committed catalog throughout, without waiting, then the new records."""
    first, second = make_records(50, seed=1), make_records(3_000, seed=8)
    catalog.ingest_products(first)
    reader = sqlite3.connect(catalog.path, timeout=0)  # would raise "database is locked" at once
    try:
        counts: list[int] = []

        def progress(done: int) -> None:
            counts.append(reader.execute("SELECT count(*) FROM products").fetchone()[0])

        catalog.ingest_products(second, batch_size=500, progress=progress)
        assert counts == [50] * 6
        assert reader.execute("SELECT count(*) FROM products").fetchone()[0] == len({r["url"] for r in first + second})
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        reader.close()


def test_duplicate_urls_in_one_ingest(catalog: CatalogBackend) -> None:
    records = make_records(100, seed=3)
    records[70]["url"] = records[10]["url"]
    with pytest.raises(
        RecordValidationError, match=rf"record 70 \({records[10]['url']}\): duplicate URL, also record 10"
    ):
        catalog.ingest_products(records)
    records[70]["url"] = records[10]["url"]
    with pytest.raises(RecordValidationError, match=r"record 70 .*duplicate URL, already given earlier"):
        catalog.ingest_products(records, batch_size=30)  # the first copy is in an earlier batch
    assert catalog.stats()["records"] == 0
    catalog.ingest_products(make_records(5, seed=9))  # not empty any more: the incremental path
    with pytest.raises(RecordValidationError, match=r"record 70 .*duplicate URL, already given earlier"):
        catalog.ingest_products(records, batch_size=30)
    assert catalog.stats()["records"] == 5


def test_database_failure_mid_way_leaves_no_trace(catalog: CatalogBackend) -> None:
    catalog.ingest_products(make_records(20, seed=1))
    records = make_records(300, seed=2)
    doomed = records[250]["url"]
    # A write that fails inside SQLite (as a full disk would), after earlier batches were written.
    with sqlite3.connect(catalog.path) as conn:
        conn.execute(
            f"CREATE TRIGGER fail_insert BEFORE INSERT ON products WHEN NEW.url = '{doomed}' "
            "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
        )
    before = snapshot(catalog.path)
    with pytest.raises(CatalogError, match=r"simulated disk failure.*nothing was changed"):
        catalog.ingest_products(records, batch_size=100)
    assert snapshot(catalog.path) == before
    assert len(_urls(catalog)) == 20


_KILLED_INGEST = """
import os, signal, sqlite3, sys
sys.path.insert(0, sys.argv[2])
from catalog_data import make_records
from aurorax_core import CatalogBackend
if sys.argv[3] == "wal":
    reader = sqlite3.connect(sys.argv[1])  # another connection open: the ingest goes through the WAL
    reader.execute("SELECT count(*) FROM products").fetchone()
catalog = CatalogBackend(sys.argv[1])
records = make_records(60_000, seed=21)

def progress(done):
    if done == 10_000:
        # As under memory pressure: from here on SQLite spills changed pages before the commit
        # (into the WAL, or with a rollback journal into the database file itself).
        catalog._conn().execute("PRAGMA cache_size=50")
    if done >= 30_000:
        print("KILLING", done, os.path.getsize(sys.argv[1]), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

catalog.ingest_products(records, batch_size=5_000, progress=progress)
print("NOT KILLED")
"""


@pytest.mark.parametrize("journal", ["rollback", "wal"])
def test_kill_during_a_large_ingest_leaves_the_catalog_as_before(tmp_path: Path, journal: str) -> None:
    """Killed mid-ingest, alone with the catalog (rollback journal: changed pages were already
    written into the file) or next to a reader (WAL): the next open finds the catalog as before."""
    path = tmp_path / "catalog.sqlite"
    with CatalogBackend(path) as catalog:
        catalog.ingest_products(make_records(50, seed=1))
    before = snapshot(path)
    size_before = path.stat().st_size
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_INGEST, str(path), str(Path(__file__).parent), journal],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert result.stdout.startswith("KILLING 30000")
    if journal == "rollback":
        assert Path(f"{path}-journal").exists()  # a hot journal: the original pages
        assert int(result.stdout.split()[2]) > size_before  # new pages were in the file already
        with pytest.raises(CatalogError, match=r"left in the middle of a write .* open it once with write access"):
            CatalogBackend(path, readonly=True)  # cannot undo the write without writing
    else:
        assert Path(f"{path}-wal").stat().st_size > 0  # the killed writer left its pages in the WAL
    with CatalogBackend(path) as catalog:
        assert len(_urls(catalog)) == 50
        assert catalog.stats()["records"] == 50
    assert snapshot(path) == before
    with sqlite3.connect(path) as conn:  # back in WAL mode, so that readers never wait for writers
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- idempotence, sources ---------------------------------------------------------------------------


def test_reingest_is_idempotent_and_updates(catalog: CatalogBackend) -> None:
    records = make_records(150, seed=5)
    first = ingest_records(records, catalog)
    assert (first.inserted, first.updated) == (150, 0)
    result = [p.to_api_dict() for p in catalog.search(EVERYTHING)]
    again = ingest_records(records, catalog)
    assert (again.inserted, again.updated, again.sources_added) == (0, 150, 0)
    assert [p.to_api_dict() for p in catalog.search(EVERYTHING)] == result
    assert catalog.stats()["records"] == 150
    # A changed record replaces the old one (URL is identity), also across sources and days.
    moved = dict(records[0], metadata={"note": "changed"}, start="2020-03-01T00:00:00", end="2020-03-01T01:00:00")
    moved["data_source"] = {k: v for k, v in SOURCES[7].items() if k != "data_product_metadata_schema"}
    summary = ingest_records([moved], catalog)
    assert (summary.inserted, summary.updated) == (0, 1)
    (product,) = [p for p in catalog.search(EVERYTHING) if p.url == records[0]["url"]]
    assert product.metadata == {"note": "changed"} and product.data_source.identifier == 8
    assert catalog.stats()["records"] == 150
    days = {
        a.data_source.identifier: a.available_data_products for a in catalog.availability("2020-01-01", "2020-12-31")
    }
    assert days[8]["2020-03-01"] == 1
    assert sum(sum(d.values()) for d in days.values()) == 150


def test_unknown_source_is_brought_in_from_the_record(catalog: CatalogBackend) -> None:
    with_id = make_records(1, seed=1)[0]
    without_id = dict(with_id, url="https://example.org/new.jpg")
    without_id["data_source"] = {
        "program": "smile",
        "platform": "fort smith",
        "instrument_type": "ASI",
        "source_type": "ground",
        "display_name": "SMILE FSMI",
    }
    summary = catalog.ingest_products([with_id, without_id])
    assert summary.sources_added == 2
    smile = catalog.get_source_by_key("smile", "fort smith", "ASI")
    assert smile.identifier is not None and smile.identifier > with_id["data_source"]["identifier"]
    # Later records name it by identifier only.
    catalog.ingest_products(
        [dict(with_id, url="https://example.org/x.jpg", data_source={"identifier": smile.identifier})]
    )
    assert catalog.stats()["records"] == 3


def test_source_identifier_clash_is_rejected(catalog: CatalogBackend) -> None:
    catalog.ingest_sources(SOURCES[:2])
    record = make_records(1, seed=1)[0]
    record["data_source"] = {**SOURCES[0], "identifier": 500}  # same triple as source 1, other id
    with pytest.raises(RecordValidationError, match="identifier 500 conflicts with source 1"):
        catalog.ingest_products([record])
    record["data_source"] = {**SOURCES[1], "identifier": 1}  # id 1 with source 2's triple
    with pytest.raises(RecordValidationError, match="data_source 1 is trex/gillam/RGB ASI in the catalog"):
        catalog.ingest_products([record])


def test_source_writes_for_the_server(catalog: CatalogBackend) -> None:
    created = catalog.add_source(DataSource(None, "test-program", "test-platform", "test-instrument", "ground", "T"))
    assert created.identifier == 1
    with pytest.raises(DuplicateError, match="already exists"):
        catalog.add_source(DataSource(None, "test-program", "test-platform", "test-instrument", "ground", "T2"))
    with pytest.raises(DuplicateError, match="identifier 1 already exists"):
        catalog.add_source(DataSource(1, "p", "q", "r"))
    updated = catalog.update_source(1, {"display_name": "Renamed", "owner": None})
    assert updated.display_name == "Renamed" and catalog.get_source(1).display_name == "Renamed"
    record = {
        "data_product_type": "keogram",
        "start": "2020-01-01T00:00:00.000",
        "end": "2020-01-01T23:59:00.000",
        "url": "test.jpg",
        "metadata": {"test_meta1": "testing1"},
        "program": "test-program",
        "platform": "test-platform",
        "instrument_type": "test-instrument",
    }
    assert catalog.upload_products(1, [record]).inserted == 1
    with pytest.raises(RecordValidationError, match="platform 'elsewhere' does not match data source 1"):
        catalog.upload_products(1, [dict(record, url="other.jpg", platform="elsewhere")])
    with pytest.raises(ConflictError, match="still has 1 data products"):
        catalog.delete_source(1)
    assert catalog.delete_products(1, ["test.jpg", "unknown.jpg"]) == 1
    catalog.delete_source(1)
    with pytest.raises(NotFound, match="No Data Source record found in AuroraX for identifier 1"):
        catalog.get_source(1)
    with pytest.raises(NotFound, match="No Data Source record found in AuroraX for identifier 1"):
        catalog.delete_source(1)
    assert catalog.stats()["records"] == 0


# --- derived views ------------------------------------------------------------------------------------


def test_availability_stats_and_metadata_values(catalog: CatalogBackend) -> None:
    catalog.ingest_sources(SOURCES)
    records = make_records(400, seed=12)
    catalog.ingest_products(records)
    expected: dict[int, dict[str, int]] = {}
    for r in records:
        if "2020-01-02" <= r["start"][:10] <= "2020-01-04":
            days = expected.setdefault(r["data_source"]["identifier"], {})
            days[r["start"][:10]] = days.get(r["start"][:10], 0) + 1
    got = catalog.availability("2020-01-02", "2020-01-04")
    assert {a.data_source.identifier: a.available_data_products for a in got} == expected
    assert [list(a.available_data_products) for a in got] == [sorted(a.available_data_products) for a in got]
    trex = catalog.availability("2020-01-02", "2020-01-04", program="trex")
    assert {a.data_source.program for a in trex} == {"trex"}
    assert catalog.availability("2030-01-01", "2030-01-02") == []  # sources without products are omitted

    sources = catalog.list_sources(include_stats=True)
    for source in sources:
        stats = source.stats
        assert stats is not None and set(stats) == {
            "ephemeris_count",
            "data_product_count",
            "earliest_ephemeris_loaded",
            "latest_ephemeris_loaded",
            "earliest_data_product_loaded",
            "latest_data_product_loaded",
        }
        mine = [r for r in records if r["data_source"]["identifier"] == source.identifier]
        assert stats["data_product_count"] == len(mine)
        assert stats["earliest_data_product_loaded"] == min(r["start"] for r in mine)
        assert stats["latest_data_product_loaded"] == max(r["start"] for r in mine)
    assert catalog.list_sources()[0].stats is None
    assert [s.identifier for s in catalog.list_sources(programs=["trex"], platforms=["gillam"])] == [1, 3]

    stats = catalog.stats()
    assert stats["records"] == 400 and stats["sources"] == len(SOURCES)
    assert sum(stats["per_type"].values()) == 400
    assert stats["earliest"] == min(r["start"] for r in records)
    assert stats["file_size_bytes"] > 0 and stats["bytes_per_record"] > 0

    values = catalog.metadata_values()
    keogram_types = sorted({r["metadata"]["keogram_type"] for r in records if "keogram_type" in r["metadata"]})
    assert values["keogram_type"] == keogram_types
    assert values["imaging_start_time"] == []  # too many distinct values to list
    assert set(catalog.metadata_values(["note"])) == {"note"}


@pytest.mark.parametrize("batch_size", [1, 4, 50_000])
def test_metadata_values_that_compare_equal_keep_their_own_json(catalog: CatalogBackend, batch_size: int) -> None:
    """1 == True == 1.0 and 0.0 == -0.0 in Python, but they are different JSON: every record must
    come back (and be listed, and match a filter) with exactly the value it was ingested with,
    however the records share their metadata and whatever the batching."""
    catalog.ingest_sources(SOURCES)
    source = {"identifier": SOURCES[0]["identifier"]}
    values: list[Any] = [True, 1, 1.0, "1", -0.0, 0.0, 0, False, None, "x", [1, 2], {"a": 1}, 2.5, True, 1]
    values += [(1,), (True,), (-0.0,), (0.0,)]  # tuples (from Python callers) are JSON arrays
    records = []
    for index, value in enumerate(values * 2):
        minute = index % 60
        records.append(
            {
                "data_source": source,
                "data_product_type": "keogram",
                "start": f"2020-01-01T{index // 60:02d}:{minute:02d}:00",
                "end": f"2020-01-01T{index // 60:02d}:{minute:02d}:00",
                "url": f"https://example.org/k/{index}.jpg",
                "metadata": {"keogram_type": value, "n": value, "fixed": "same"},
            }
        )
    # Keys that compare equal but are written differently (Python callers only: JSON keys are strings).
    for index, odd_key in enumerate([1, True, 1.0, "1"]):
        records.append({**records[0], "url": f"https://example.org/k/key-{index}.jpg", "metadata": {odd_key: "v"}})
    catalog.ingest_products(records, batch_size=batch_size)
    got = {p.url: p.metadata for p in catalog.search(EVERYTHING)}
    for record in records:
        back = got[record["url"]]
        assert json.dumps(back) == json.dumps(record["metadata"]), record["url"]
        as_json = json.loads(json.dumps(record["metadata"]))
        assert [type(v) for v in back.values()] == [type(v) for v in as_json.values()]
    listed = catalog.metadata_values(["n"])["n"]
    assert sorted(json.dumps(v) for v in listed) == sorted({json.dumps(v, sort_keys=True) for v in values})
    # The record's own <type>_type value is indexed by its text: true is not 1 (which, as a
    # number, equals 1.0 and "1" in a filter).
    for wanted, expected in (("true", True), ("false", False)):
        query = DataProductQuery(
            start="2020-01-01T00:00:00",
            end="2020-01-02T00:00:00",
            metadata_filters=[{"key": "keogram_type", "operator": "=", "values": [wanted]}],
        )
        found = [p.metadata["keogram_type"] for p in catalog.search(query)]
        assert found and all(type(v) is type(expected) and v == expected for v in found), (wanted, found)


def test_ingest_dataproduct_objects_keeps_each_source(catalog: CatalogBackend) -> None:
    """DataProduct inputs are converted one by one; every record must keep its own source."""
    catalog.ingest_sources(SOURCES)
    records = make_records(300, seed=17)
    products = [DataProduct.from_api_dict(r) for r in records]
    catalog.ingest_products(products, batch_size=64)
    got = {p.url: p.data_source.identifier for p in catalog.search(EVERYTHING)}
    assert got == {r["url"]: r["data_source"]["identifier"] for r in records}


def test_concurrent_writers_from_threads(catalog: CatalogBackend) -> None:
    """The server uploads from several threads at once: every write lands, counts stay right."""
    source = catalog.add_source(DataSource(None, "test-program", "test-platform", "test-instrument", "ground", "T"))
    errors: list[BaseException] = []

    def upload(worker: int) -> None:
        try:
            for chunk in range(5):
                records = [
                    {
                        "data_product_type": "keogram",
                        "start": f"2020-01-0{1 + worker}T{chunk:02d}:00:00",
                        "end": f"2020-01-0{1 + worker}T{chunk:02d}:59:00",
                        "url": f"w{worker}-c{chunk}-{i}.jpg",
                        "metadata": {"keogram_type": "hourly"},
                    }
                    for i in range(20)
                ]
                catalog.upload_products(source.identifier, records)
                assert len(catalog.search(EVERYTHING)) >= 20
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(_urls(catalog)) == 400 and catalog.stats()["records"] == 400
    days = catalog.availability("2020-01-01", "2020-01-09")[0].available_data_products
    assert days == {f"2020-01-0{d}": 100 for d in range(1, 5)}
