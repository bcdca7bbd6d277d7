"""The demo archive built into a PostgreSQL catalog (``aurorax-core --catalog postgresql://... catalog demo``).

The same data sources and generated records as the SQLite demo archive (``aurorax_core.demo``),
streamed into the database in ONE transaction: readers see the old catalog until the new one is
complete, and a failure leaves the old one as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

from ...errors import CatalogError
from .store import PostgresBackend


def build_demo_into(
    backend: PostgresBackend,
    start: date | None,
    end: date | None,
    *,
    full: bool = False,
    replace: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Build the demo archive into ``backend``; returns the summary ``build_demo_archive`` returns
    (without the generation/ingest split: here the two run interleaved, streaming).

    Raises:
        CatalogError: the catalog already holds records and ``replace`` is False, or the write failed.
        QueryValidationError: the range is reversed.
    """
    from ...demo import DEFAULT_END, DEFAULT_START, DemoBuildProgress, demo_sites, demo_sources, full_range
    from ...demo import generate_demo_records as generate

    started = time.perf_counter()
    if full:
        start, end = full_range()
    first = DEFAULT_START if start is None else start
    last = DEFAULT_END if end is None else end
    held = backend.stats()["records"]
    if held and not replace:
        raise CatalogError(
            f"catalog {backend.url} already holds {held:,} records and the demo archive would replace them; pass "
            "--replace to replace them, or choose another database with --catalog"
        )
    sources = demo_sources()
    total = (last - first).days + 1 if last >= first else 0
    seen = {"day": first, "records": 0}

    def records() -> Iterator[dict[str, Any]]:
        for record in generate(first, last):
            seen["day"] = record["start"][:10]
            yield record

    def report(done: int) -> None:
        if progress is None:
            return
        day = date.fromisoformat(seen["day"]) if isinstance(seen["day"], str) else first
        progress(DemoBuildProgress("records", (day - first).days, total, done, f"{day}: {done:,} records"))

    summary = backend.replace_catalog(sources, records(), progress=report)
    seconds = time.perf_counter() - started
    stats = backend.stats()
    if progress is not None:
        progress(DemoBuildProgress("done", total, total, summary.records, f"{summary.records:,} records"))
    return {
        "path": backend.url,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "full": full,
        "records": summary.records,
        "sources": len(sources),
        "sites": len(demo_sites()),
        "days": total,
        "seconds": round(seconds, 3),
        "ingest_seconds": round(summary.seconds, 3),
        "records_per_second": round(summary.rate, 1),
        "bytes": stats["file_size_bytes"],
    }
