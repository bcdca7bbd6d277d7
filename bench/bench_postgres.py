"""PostgreSQL catalog vs the embedded SQLite catalog: the four catalog searches and ingest rates.

Same records (bench/_synthetic.py, the 20-year 5.9-million-record archive of bench_catalog), same
queries (the same seeded random nights, months and years), same process, same run; the ratio
column is PostgreSQL's time over SQLite's (the issue's target: within 2×). The SQLite catalog is
``.bench-data/catalog-20y.sqlite`` (built by ``python -m bench catalog``; read here, never
rebuilt); the PostgreSQL one is loaded into a throwaway cluster (scripts/pg_throwaway.sh,
durable settings: fsync on) by the backend's own ingest, one transaction per year, or taken from
``AURORAX_BENCH_POSTGRES_URL`` (loaded there once, reused when it holds the records already).
Ingest rates: fresh processes, 500,000 records into an empty catalog, 500,000 new ones into it,
the same again, for both engines (the SQLite catalog in a temporary folder).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aurorax_core import CatalogBackend, DataProductQuery, MetadataFilterExpression

from ._harness import Row, measure
from ._synthetic import generate, ground_sources, imaging_nights

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".bench-data"
FIRST_YEAR = 2005
ENV_URL = "AURORAX_BENCH_POSTGRES_URL"
# a server for a catalog of millions of records: room for the hot indexes, fewer checkpoints
SERVER_OPTIONS = (
    "-c shared_buffers=1GB -c effective_cache_size=8GB -c max_wal_size=8GB -c wal_compression=on "
    "-c random_page_cost=1.1 -c work_mem=32MB -c maintenance_work_mem=512MB"
)


class Server:
    """The PostgreSQL server of this run: a throwaway cluster, or the one named by the environment."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        url = os.environ.get(ENV_URL, "").strip()
        if url:
            self.url = url
            return
        self.folder = Path(tempfile.mkdtemp(prefix="aurorax-pg-bench.", dir="/tmp"))
        env = {**os.environ, "PG_THROWAWAY_DURABLE": "1", "PG_THROWAWAY_OPTS": SERVER_OPTIONS}
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "pg_throwaway.sh"), "start", str(self.folder)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            self.stop()
            raise SystemExit(f"cannot start a PostgreSQL for the bench: {done.stderr.strip()}")
        self.url = done.stdout.strip().splitlines()[-1]

    def database(self, name: str) -> str:
        """A fresh database on a throwaway server (the given URL itself otherwise)."""
        if self.folder is None:
            return self.url
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # fixed names
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self.folder is not None:
            subprocess.run(["bash", str(ROOT / "scripts" / "pg_throwaway.sh"), "stop", str(self.folder)], check=False)


def _load(url: str, years: int, expected: int) -> tuple[Any, float]:
    """The PostgreSQL catalog holding the bench archive; (backend, records/s of the load or 0)."""
    from aurorax_core.backends.postgres import PostgresBackend

    catalog = PostgresBackend(url)
    if catalog.stats()["records"] == expected:
        return catalog, 0.0
    started = time.perf_counter()
    total = 0
    for year in range(FIRST_YEAR, FIRST_YEAR + years):
        summary = catalog.ingest_products(generate(first_year=year, years=1, seed=year))
        total += summary.records
        print(
            f"  loaded {year}: {total:,} records, {total / (time.perf_counter() - started):,.0f} records/s "
            "(incl. generating them)",
            file=sys.stderr,
            flush=True,
        )
    return catalog, total / (time.perf_counter() - started)


def _queries(years: int, repeat: int) -> dict[str, list[DataProductQuery]]:
    """bench_catalog's four searches, drawn from the same seeded sequence."""
    rng = random.Random(42)
    nights = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in imaging_nights(FIRST_YEAR, years, seed=7)]
    winter = [d for d in nights if d.month in (11, 12, 1, 2)]
    sources = ground_sources()

    def night(day: datetime) -> tuple[datetime, datetime]:
        return day, day + timedelta(hours=23, minutes=59, seconds=59)

    site_night = []
    for _ in range(repeat):
        s = rng.choice(sources)
        start, end = night(rng.choice(winter))
        site_night.append(
            DataProductQuery(
                start=start,
                end=end,
                programs=[s["program"]],
                platforms=[s["platform"]],
                instrument_types=[s["instrument_type"]],
            )
        )
    program_night = [DataProductQuery(*night(rng.choice(winter)), programs=["themis-asi"]) for _ in range(repeat)]
    months = []
    for _ in range(repeat):
        first = rng.choice(winter).replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(seconds=1)
        months.append(DataProductQuery(start=first, end=last, programs=["trex"]))
    daily = MetadataFilterExpression("keogram_type", "=", ("daily",))
    years_q = []
    for _ in range(repeat):
        year = rng.randrange(FIRST_YEAR, FIRST_YEAR + years)
        years_q.append(
            DataProductQuery(
                start=datetime(year, 1, 1, tzinfo=UTC),
                end=datetime(year, 12, 31, 23, 59, 59, tzinfo=UTC),
                metadata_filters=[daily],
            )
        )
    return {
        "one site, one night": site_night,
        "one program (themis-asi), one night": program_night,
        "one program (trex), one month": months,
        "all ground sources, one year, keogram_type = daily": years_q,
    }


def _search_time(search: Callable[[DataProductQuery], Any], queries: list[DataProductQuery], repeat: int) -> tuple:
    counts: list[int] = []
    cycle = iter(queries * (repeat + 5))

    def one() -> None:
        counts.append(len(search(next(cycle)).data))

    timing = measure(one, repeat=repeat, warmup=2)
    counts.sort()
    return timing["median"], timing["p95"], counts[len(counts) // 2]


def _rates_once(engine: str, url: str, n: int) -> list[float]:
    """Records/s of n records into an empty catalog, n new ones into it, the same n again."""
    generated = generate(first_year=2020, years=5, seed=1)
    first = [next(generated) for _ in range(n)]
    second = [next(generated) for _ in range(n)]
    with tempfile.TemporaryDirectory(prefix="aurorax-rate.") as folder:
        if engine == "sqlite":
            catalog: Any = CatalogBackend(Path(folder) / "rate.sqlite")
        else:
            from aurorax_core.backends.postgres import PostgresBackend

            catalog = PostgresBackend(url)
        try:
            return [catalog.ingest_products(records).rate for records in (first, second, second)]
        finally:
            catalog.close()


def _rates(engine: str, server: Server, n: int, runs: int) -> list[float]:
    samples = []
    for run in range(runs):
        url = server.database(f"bench_rate_{run}") if engine == "postgresql" else ""
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_postgres", "--rates", engine, url, str(n)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    return [statistics.median(s[i] for s in samples) for i in range(3)]


def run(quick: bool) -> list[Row]:
    years = 20
    repeat = 7 if quick else 25
    sqlite_path = DATA_DIR / f"catalog-{years}y.sqlite"
    if not Path(f"{sqlite_path}.complete").exists():
        raise SystemExit(f"{sqlite_path} is missing: build it first with `python -m bench catalog`")
    sqlite = CatalogBackend(sqlite_path, readonly=True)
    expected = sqlite.stats()["records"]
    server = Server()
    rows: list[Row] = []
    try:
        n = 100_000 if quick else 500_000
        pg_rates = _rates("postgresql", server, n, 1 if quick else 3)
        sqlite_rates = _rates("sqlite", server, n, 1 if quick else 3)
        catalog, load_rate = _load(server.database("bench_20y"), years, expected)
        with open(sqlite_path, "rb") as handle:  # a warm page cache for SQLite too
            while handle.read(1 << 24):
                pass
        for name, queries in _queries(years, repeat).items():
            pg_ms, pg_p95, count = _search_time(catalog.search, queries, repeat)
            lite_ms, lite_p95, _ = _search_time(sqlite.search, queries, repeat)
            rows.append(
                Row(
                    f"search: {name} (PostgreSQL / SQLite)",
                    pg_ms / lite_ms,
                    "×",
                    2.0,
                    note=f"PostgreSQL {pg_ms:.3g} ms (p95 {pg_p95:.3g}), SQLite {lite_ms:.3g} ms (p95 {lite_p95:.3g}); "
                    f"median {count:,} records",
                )
            )
        for label, pg, lite, target in (
            (f"ingest {n:,} records into an empty catalog", pg_rates[0], sqlite_rates[0], 150_000),
            (f"ingest {n:,} new records into a non-empty one", pg_rates[1], sqlite_rates[1], 150_000),
            (f"re-ingest the same {n:,} (nothing changes)", pg_rates[2], sqlite_rates[2], None),
        ):
            rows.append(
                Row(f"PostgreSQL {label}", pg, "records/s", target, higher_is_better=True, note=f"SQLite {lite:,.0f}")
            )
        if load_rate:
            rows.append(
                Row(
                    f"PostgreSQL: load the {expected:,}-record archive (20 yearly ingests)",
                    load_rate,
                    "records/s",
                    higher_is_better=True,
                    note="includes generating the records",
                )
            )
        stats = catalog.stats()
        rows.append(
            Row(
                "PostgreSQL catalog size per record",
                stats["bytes_per_record"] or 0,
                "bytes",
                note=f"{stats['records']:,} records, {stats['file_size_bytes'] / 1e9:.2f} GB (tables + indexes)",
            )
        )
        catalog.close()
    finally:
        sqlite.close()
        server.stop()
    return rows


if __name__ == "__main__":  # python -m bench.bench_postgres --rates ENGINE URL N (one sample, as JSON)
    if sys.argv[1:2] == ["--rates"]:
        print(json.dumps(_rates_once(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
