"""Bad records files and bad catalog paths: one-line errors, exit 1, and nothing written half-way."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from cli_helpers import CliRunner, sample_records, write_json


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "home")


def _records() -> list[dict]:
    return sample_records()[:5]


def _without(key: str) -> list[dict]:
    records = _records()
    del records[3][key]
    return records


BAD_RECORD_FILES = [
    pytest.param(_without("url"), "bad.json: record 3 has no 'url'", id="missing-url"),
    pytest.param(_without("data_source"), "bad.json: record 3 (https://", id="missing-data-source"),
    pytest.param([*_records(), _records()[1]], "bad.json: record 5: duplicate URL", id="duplicate-url"),
    pytest.param(
        [*_records()[:2], {**_records()[2], "data_product_type": "photo"}],
        "bad.json: record 2 (https://",
        id="unknown-type",
    ),
    pytest.param(
        [*_records()[:1], {**_records()[1], "end": "2000-01-01T00:00:00"}],
        "is before start",
        id="end-before-start",
    ),
    pytest.param([*_records()[:1], "not a record"], "bad.json: record 1 is not a JSON object", id="not-object"),
    pytest.param({"records_": []}, "bad.json: expected a list of records", id="object"),
    pytest.param("", "bad.json is empty", id="empty"),
    pytest.param("[{", "bad.json: not valid JSON", id="invalid-json"),
]


@pytest.mark.parametrize(("content", "fragment"), BAD_RECORD_FILES)
def test_bad_records_files_write_nothing(cli: CliRunner, tmp_path: Path, content, fragment):
    """A bad record anywhere: exit 1, one line naming file and record, and no catalog is left behind."""
    good = write_json(tmp_path / "good.json", sample_records()[10:20])
    bad = tmp_path / "bad.json"
    if isinstance(content, str):
        bad.write_text(content)
    else:
        write_json(bad, content)
    cli("--catalog", "new.sqlite", "catalog", "ingest", good.name, bad.name).assert_user_error(fragment)
    assert _files(tmp_path) == ["bad.json", "good.json"]


def test_a_failed_ingest_leaves_an_existing_catalog_unchanged(cli: CliRunner, tmp_path: Path):
    """Ingesting a good file and a bad one into an existing catalog changes nothing (one transaction)."""
    write_json(tmp_path / "first.json", sample_records()[:10])
    cli("--catalog", "c.sqlite", "catalog", "ingest", "first.json", "--quiet").assert_ok()
    before = cli("--catalog", "c.sqlite", "catalog", "stats").assert_ok().stdout
    write_json(tmp_path / "more.json", sample_records()[10:30])
    write_json(tmp_path / "bad.json", [{**sample_records()[40], "start": "not a time"}])
    cli("--catalog", "c.sqlite", "catalog", "ingest", "more.json", "bad.json").assert_user_error("bad.json: record 0")
    assert cli("--catalog", "c.sqlite", "catalog", "stats").assert_ok().stdout == before
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        # The catalog is still a healthy SQLite file.
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_duplicate_urls_across_files(cli: CliRunner, tmp_path: Path):
    """The same URL in two files of one ingest is a duplicate in the batch: the error names both files."""
    records = sample_records()
    write_json(tmp_path / "a.json", records[:3])
    write_json(tmp_path / "b.json", records[2:4])
    cli("--catalog", "c.sqlite", "catalog", "ingest", "a.json", "b.json").assert_user_error(
        "b.json: record 0: duplicate URL"
    )
    assert not (tmp_path / "c.sqlite").exists()


def test_missing_records_file(cli: CliRunner, tmp_path: Path):
    """A records file that does not exist is named in the error, and the files before it are not ingested."""
    write_json(tmp_path / "good.json", sample_records()[:3])
    cli("--catalog", "c.sqlite", "catalog", "ingest", "good.json", "nope.json").assert_user_error(
        "records file 'nope.json' does not exist"
    )
    assert not (tmp_path / "c.sqlite").exists()


def test_catalog_in_a_missing_or_read_only_directory(cli: CliRunner, tmp_path: Path):
    """A catalog path whose directory is missing or not writable is refused before any work."""
    write_json(tmp_path / "r.json", sample_records()[:3])
    cli("--catalog", "no/such/dir/c.sqlite", "catalog", "ingest", "r.json").assert_user_error(
        "directory 'no/such/dir' does not exist"
    )
    assert not (tmp_path / "no").exists()
    if os.geteuid() == 0:
        # root ignores directory permissions; sysfs refuses new files even to root.
        locked = Path("/sys")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
    try:
        cli("--catalog", str(locked / "c.sqlite"), "catalog", "ingest", "r.json").assert_user_error("is not writable")
    finally:
        if locked != Path("/sys"):
            locked.chmod(0o755)
    assert not (locked / "c.sqlite").exists()


def test_not_sqlite_and_missing_catalogs(cli: CliRunner, tmp_path: Path):
    """A catalog file that is not SQLite, or a --catalog that does not exist, is a one-line error everywhere."""
    (tmp_path / "notes.sqlite").write_text("these are my notes, not a database\n" * 10)
    write_json(tmp_path / "q.json", {"start": "2020-01-01", "end": "2020-01-02", "data_sources": {}})
    write_json(tmp_path / "r.json", sample_records()[:3])
    for args in (
        ("data_products", "search", "q.json"),
        ("availability", "data_products", "2020-01-01", "2020-01-02"),
        ("catalog", "ingest", "r.json"),
    ):
        cli("--catalog", "notes.sqlite", *args).assert_user_error("not an SQLite database")
    assert (tmp_path / "notes.sqlite").read_text().startswith("these are my notes")
    cli("--catalog", "missing.sqlite", "sources", "list").assert_user_error("catalog 'missing.sqlite' does not exist")
    cli("--catalog", "missing.sqlite", "data_products", "search", "q.json").assert_user_error("does not exist")
    assert not (tmp_path / "missing.sqlite").exists()
    assert not list(tmp_path.glob("*_data.json"))
    cli("--catalog", str(tmp_path), "sources", "list").assert_user_error("is a directory")


def test_catalog_commands_refuse_an_api_url(cli: CliRunner, tmp_path: Path):
    """catalog ingest/stats work on a catalog file: with --api-url they say so instead of guessing."""
    cli("--api-url", "http://127.0.0.1:9", "catalog", "stats").assert_user_error("drop --api-url")


def test_ingest_data_sources_file_and_envelope(cli: CliRunner, tmp_path: Path):
    """A data-source list and the data endpoint's {"result": [...]} envelope are both accepted."""
    write_json(
        tmp_path / "sources.json",
        [{"identifier": 500, "program": "test-program", "platform": "test-platform", "instrument_type": "x"}],
    )
    write_json(tmp_path / "envelope.json", {"result": sample_records()[:4]})
    run = cli("--catalog", "c.sqlite", "catalog", "ingest", "sources.json", "envelope.json").assert_ok()
    assert "inserted:        4 records" in run.stdout
    listing = cli("--catalog", "c.sqlite", "sources", "list").assert_ok().stdout
    assert "test-program" in listing
    assert json.loads((tmp_path / "envelope.json").read_text())["result"][0]["url"].startswith("https://")
