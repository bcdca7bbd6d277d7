"""Demo archive: default build time, record generation rate, and the --full archive (ingest rate, size).

Targets (issue 3): the default demo build (2019-12-01 .. 2020-02-29) in <= 20 s; ``--full``
ingest >= 100,000 records/s. ``quick=True`` builds a 10-day range only and skips the full archive
(the full build writes ~4.9 million records, ~2.6 GB, and takes minutes: run it once, at the end).
Files go to ``.bench-data/`` (git-ignored) and are removed afterwards.

Run: ``python -m bench demo`` (full) or ``python -m bench --quick demo``.
"""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

from bench._harness import Row

DATA_DIR = Path(__file__).resolve().parents[1] / ".bench-data" / "demo"


def _build(name: str, **kwargs: object) -> dict[str, object]:
    from aurorax_core.demo import build_demo_archive

    path = DATA_DIR / name
    return build_demo_archive(path, **kwargs)  # type: ignore[arg-type]


def _generation_rate(start: date, end: date) -> tuple[float, int]:
    from aurorax_core.demo import generate_demo_records

    t0 = time.perf_counter()
    n = sum(1 for _ in generate_demo_records(start, end))
    return n / (time.perf_counter() - t0), n


def run(quick: bool) -> list[Row]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    try:
        if quick:
            summary = _build("quick.sqlite", start=date(2020, 1, 1), end=date(2020, 1, 10))
            rows.append(
                Row(
                    "demo build, 10 days",
                    float(summary["seconds"]),  # type: ignore[arg-type]
                    "s",
                    note=f"{summary['records']:,} records, {summary['bytes']:,} bytes",
                )
            )
            rate, n = _generation_rate(date(2020, 1, 1), date(2020, 1, 10))
            rows.append(Row("record generation (no catalog)", rate, "records/s", note=f"{n:,} records"))
            return rows

        summary = _build("default.sqlite")
        rows.append(
            Row(
                "default demo build (2019-12-01..2020-02-29)",
                float(summary["seconds"]),  # type: ignore[arg-type]
                "s",
                target=20.0,
                note=f"{summary['records']:,} records, {summary['bytes']:,} bytes; "
                f"generate {summary['generate_seconds']} s, ingest {summary['ingest_seconds']} s",
            )
        )
        rate, n = _generation_rate(date(2019, 12, 1), date(2020, 2, 29))
        rows.append(Row("record generation (no catalog)", rate, "records/s", higher_is_better=True, note=f"{n:,}"))

        full = _build("full.sqlite", full=True)
        rows.append(
            Row(
                "--full ingest rate (catalog ingest only)",
                float(full["records_per_second"]),  # type: ignore[arg-type]
                "records/s",
                target=100_000.0,
                higher_is_better=True,
                note=f"ingest {full['ingest_seconds']} s, generate {full['generate_seconds']} s",
            )
        )
        rows.append(
            Row(
                "--full ingest rate per CPU-second (this process)",
                int(full["records"]) / float(full["ingest_cpu_seconds"]),  # type: ignore[call-overload,arg-type]
                "records/s",
                target=100_000.0,
                higher_is_better=True,
                note=f"ingest CPU {full['ingest_cpu_seconds']} s: the rate on an otherwise idle core",
            )
        )
        end_to_end = int(full["records"]) / float(full["seconds"])  # type: ignore[call-overload,arg-type]
        rows.append(
            Row(
                "--full end-to-end build rate",
                end_to_end,
                "records/s",
                higher_is_better=True,
                note=f"total {full['seconds']} s incl. compaction",
            )
        )
        rows.append(
            Row(
                "--full archive records",
                float(full["records"]),  # type: ignore[arg-type]
                "records",
                note=f"{full['start']}..{full['end']}",
            )
        )
        rows.append(
            Row(
                "--full archive size",
                float(full["bytes"]) / 1e6,  # type: ignore[arg-type]
                "MB",
                note=f"{int(full['bytes']) / int(full['records']):.0f} bytes/record",  # type: ignore[call-overload]
            )
        )
        return rows
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
