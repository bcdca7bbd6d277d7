"""``aurorax-core --catalog postgresql://...`` and ``AURORAX_CATALOG=postgresql://...`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from catalog_data import make_records


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurorax_core", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def test_ingest_stats_search_and_demo_through_the_cli(pg_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    records = make_records(150, seed=7)
    data.write_text(json.dumps(records))
    done = run("--catalog", pg_url, "catalog", "ingest", "--quiet", str(data))
    assert done.returncode == 0, done.stderr
    stats = run("--catalog", pg_url, "catalog", "stats")
    assert stats.returncode == 0 and "Records:            150" in stats.stdout
    assert "***" in stats.stdout and pg_url.split(":")[2].split("@")[0] not in stats.stdout  # no password
    again = run("--catalog", pg_url, "catalog", "ingest", str(data))
    assert again.returncode == 0 and "updated:         150 records" in again.stdout

    query = tmp_path / "q.json"
    query.write_text(
        json.dumps(
            {
                "start": "2020-01-01T00:00:00",
                "end": "2020-01-02T23:59:59",
                "data_sources": {"programs": ["trex"]},
                "data_product_type_filters": [],
            }
        )
    )
    search = run("data_products", "search", str(query), env={"AURORAX_CATALOG": pg_url}, cwd=tmp_path)
    assert search.returncode == 0, search.stderr
    (written,) = tmp_path.glob("*_data.json")
    expected = sorted(
        r["url"]
        for r in records
        if r["data_source"]["program"] == "trex" and r["start"] >= "2020-01-01" and r["end"] <= "2020-01-02T23:59:59"
    )
    assert sorted(r["url"] for r in json.loads(written.read_text())) == expected and expected

    demo = run("--catalog", pg_url, "catalog", "demo", "--start", "2020-01-01", "--end", "2020-01-01", "--quiet")
    assert demo.returncode == 1 and "already holds 150 records" in demo.stderr and "Traceback" not in demo.stderr
    demo = run("--catalog", pg_url, "catalog", "demo", "--start", "2020-01-01", "--end", "2020-01-01", "--replace")
    assert demo.returncode == 0, demo.stderr
    assert "Demo archive built at postgresql://" in demo.stdout
    sources = run("--catalog", pg_url, "sources", "list", "--program", "trex")
    assert sources.returncode == 0 and "TREx" in sources.stdout


def test_cli_faults_are_one_line_errors(pg_url: str) -> None:
    bad = pg_url.replace(pg_url.split("@")[0].split(":")[2], "wrong")
    for url, message in (
        (bad, "refused the user or password"),
        ("postgresql://[bad", "is not a PostgreSQL URL"),
        ("postgresql://me@127.0.0.1:1/x", "not reachable"),
    ):
        done = run("--catalog", url, "catalog", "stats")
        assert done.returncode == 1, done
        assert done.stderr.startswith("Error: ") and message in done.stderr and "Traceback" not in done.stderr
