"""CLI: wall time of `aurorax-core` commands as a user runs them (a new process each), on the demo archive.

Measures ``python -m aurorax_core`` start-up (``data_products search_template``), ``data_products
search`` of the AuroraX docs' example query (one site, one day) and of all TREx RGB data over the
whole demo range (writing ``<request_id>_data.json``), ``get_data`` of that request, ``catalog
ingest`` of the written file into a new catalog, ``sources list`` and ``availability``.
No targets: report only. ``quick=True`` uses a 3-day demo archive and fewer repeats; the full run
uses the default demo range (2019-12-01 .. 2020-02-29). Files go to ``.bench-data/cli`` (removed
afterwards).

Run: ``python -m bench cli`` or ``python -m bench --quick cli``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from bench._harness import Row, measure

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".bench-data" / "cli"
DOCS_QUERY = ROOT / "examples" / "queries" / "docs_example.json"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURORAX_")}
    proc = subprocess.run(
        [sys.executable, "-m", "aurorax_core", *args],
        cwd=DATA_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"aurorax-core {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def run(quick: bool) -> list[Row]:
    from aurorax_core.demo import build_demo_archive

    shutil.rmtree(DATA_DIR, ignore_errors=True)
    DATA_DIR.mkdir(parents=True)
    repeat = 3 if quick else 10
    try:
        start, end = (date(2019, 12, 31), date(2020, 1, 2)) if quick else (date(2019, 12, 1), date(2020, 2, 29))
        summary = build_demo_archive(DATA_DIR / "demo.sqlite", start, end)
        span = f"{start}..{end}, {summary['records']:,} records"
        big_query = {
            "start": f"{start}T00:00:00",
            "end": f"{end}T23:59:59",
            "data_sources": {"programs": ["trex"], "instrument_types": ["RGB ASI"]},
        }
        (DATA_DIR / "big.json").write_text(json.dumps(big_query))
        cat = ("--catalog", "demo.sqlite")
        rows: list[Row] = []

        t = measure(lambda: _cli("data_products", "search_template"), repeat=repeat, warmup=1)
        rows.append(Row("start-up (search_template)", t["median"], "ms", note=f"p95 {t['p95']:.0f} ms"))

        t = measure(
            lambda: _cli(*cat, "data_products", "search", str(DOCS_QUERY), "--outfile", "docs.json", "--quiet"),
            repeat=repeat,
            warmup=1,
        )
        n_docs = len(json.loads((DATA_DIR / "docs.json").read_text()))
        rows.append(Row("search: docs example (1 site, 1 day)", t["median"], "ms", note=f"{n_docs} records; {span}"))

        t = measure(
            lambda: _cli(*cat, "data_products", "search", "big.json", "--outfile", "big_data.json", "--quiet"),
            repeat=repeat,
            warmup=1,
        )
        big_file = DATA_DIR / "big_data.json"
        n_big = len(json.loads(big_file.read_text()))
        rows.append(
            Row(
                "search: all TREx RGB, whole range, file written",
                t["median"],
                "ms",
                note=f"{n_big:,} records, {big_file.stat().st_size / 1e6:.1f} MB file",
            )
        )

        out = _cli(*cat, "data_products", "search", "big.json", "--outfile", "tracked.json").stdout
        request_id = out.split("Request ID: ", 1)[1].split()[0]
        t = measure(
            lambda: _cli(*cat, "data_products", "get_data", request_id, "--outfile", "again.json"),
            repeat=repeat,
            warmup=1,
        )
        rows.append(Row("get_data of that request", t["median"], "ms", note=f"{n_big:,} records"))

        def ingest() -> None:
            (DATA_DIR / "copy.sqlite").unlink(missing_ok=True)
            _cli("--catalog", "copy.sqlite", "catalog", "ingest", "big_data.json", "--quiet")

        t = measure(ingest, repeat=repeat, warmup=1)
        rows.append(
            Row(
                "catalog ingest of that file (new catalog)",
                n_big / (t["median"] / 1000.0),
                "records/s",
                higher_is_better=True,
                note=f"{t['median']:.0f} ms for {n_big:,} records, process start included",
            )
        )

        t = measure(lambda: _cli(*cat, "sources", "list", "--include-stats"), repeat=repeat, warmup=1)
        rows.append(Row("sources list --include-stats", t["median"], "ms"))
        t = measure(
            lambda: _cli(*cat, "availability", "data_products", start.isoformat(), end.isoformat()),
            repeat=repeat,
            warmup=1,
        )
        rows.append(Row("availability data_products, whole range", t["median"], "ms"))
        return rows
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
