"""Availability: counts per source and day, and the expected-imaging classification on top.

On the 5.9-million-record, 20-year benchmark catalog that ``python -m bench catalog`` builds into
./.bench-data/ (this bench only reads it; run the catalog bench first). A year (or 20 years by month)
x all ground sources, in-process, medians. "counts" is the backend's per-source per-day count query
(``CatalogBackend.availability``); "classification" is what ``aurorax_core.availability`` adds:
listing the sources, expected dark hours per site (the sun model, numpy), statuses, one record per
source and day.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from aurorax_core import CatalogBackend, availability
from aurorax_core.availability_status import build_report
from aurorax_core.sky import IMAGING_SUN_ELEVATION

from ._harness import Row, measure

# The machine is shared: besides wall-clock medians, CPU-time medians (time.process_time) say what
# the work itself costs when other processes compete for the cores.


def _cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        t0 = time.process_time()
        fn()
        samples.append((time.process_time() - t0) * 1000.0)
        gc.enable()
    return statistics.median(samples)


CATALOG = Path(".bench-data") / "catalog-20y.sqlite"
YEAR = (date(2015, 1, 1), date(2015, 12, 31))
TWENTY_YEARS = (date(2005, 1, 1), date(2024, 12, 31))


def run(quick: bool = False) -> list[Row]:
    if not (CATALOG.exists() and Path(f"{CATALOG}.complete").exists()):
        print(f"  {CATALOG} is not built yet: run `python -m bench catalog` first", file=sys.stderr)
        return []
    repeat = 5 if quick else 20
    catalog = CatalogBackend(CATALOG)
    try:
        first, last = YEAR
        sources = catalog.list_sources(source_type="ground")
        counted = catalog.availability(first, last, source_type="ground")
        records = len(availability(first, last, source_type="ground", backend=catalog))
        a, b = TWENTY_YEARS
        months = len(availability(a, b, source_type="ground", by="month", backend=catalog))
        work: dict[str, Callable[[], object]] = {
            "counts": lambda: catalog.availability(first, last, source_type="ground"),
            "classify": lambda: build_report(
                first,
                last,
                sources,
                counted,
                expected=True,
                period="day",
                threshold=IMAGING_SUN_ELEVATION,
                min_hours=1.0,
            ),
            "whole": lambda: availability(first, last, source_type="ground", backend=catalog),
            "plain": lambda: availability(first, last, source_type="ground", expected=False, backend=catalog),
            "monthly": lambda: availability(a, b, source_type="ground", by="month", backend=catalog),
        }
        rounds = {name: max(3, repeat // 4) if name == "monthly" else repeat for name in work}
        wall = {name: measure(fn, repeat=rounds[name])["median"] for name, fn in work.items()}
        cpu = {name: _cpu_ms(fn, rounds[name]) for name, fn in work.items()}
    finally:
        catalog.close()
    n = len(sources)
    labels = {
        "counts": f"counts: a year x {n} ground sources ({len(counted)} with products)",
        "classify": f"classification on top of the counts ({records:,} source-days)",
        "whole": "availability(): counts + expected + status, a year",
        "plain": "availability(expected=False): every source-day, counts only, a year",
        "monthly": f"availability(by='month'): 20 years x {n} ground sources ({months:,} source-months)",
    }
    return [
        Row(labels[name], wall[name], "ms", 50.0 if name == "counts" else None, note=f"CPU {cpu[name]:.1f} ms")
        for name in work
    ]
