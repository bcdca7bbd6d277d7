"""`aurorax-core catalog ingest` refuses a file with a javascript: URL: one clear error naming the
record, exit 1, and nothing written (issue 12)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cli_helpers import CliRunner, sample_records, write_json


def _products(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM products").fetchone()[0])


def test_catalog_ingest_refuses_a_javascript_url(cli: CliRunner, tmp_path: Path) -> None:
    records = sample_records()
    write_json(tmp_path / "good.json", records[:10])
    cli("--catalog", "catalog.sqlite", "catalog", "ingest", "good.json").assert_ok()
    bad = records[10:]
    bad[7]["url"] = "javascript:alert(document.domain)"
    write_json(tmp_path / "bad.json", bad)
    run = cli("--catalog", "catalog.sqlite", "catalog", "ingest", "bad.json")
    run.assert_user_error("record 7 ('javascript:alert(document.domain)'): URL scheme 'javascript' is not allowed")
    assert _products(tmp_path / "catalog.sqlite") == 10
