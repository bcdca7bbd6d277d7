"""The demo archive: the real AuroraX sources and layouts with generated records (works offline).

``build_demo_archive(path, start, end, full=False, progress=None)`` writes a catalog file;
``ensure_demo_catalog(path)`` builds the default range (2019-12-01 .. 2020-02-29) when the file is
missing; ``generate_demo_records(start, end)`` yields the records themselves;
``night_conditions(site, date)`` is the deterministic sky/instrument state both the generator and
the preview renderer use. Every generated record carries ``metadata["demo_synthetic"] = True``.
"""

from .archive import (
    DEFAULT_END,
    DEFAULT_START,
    FULL_END,
    DemoBuildProgress,
    build_demo_archive,
    ensure_demo_catalog,
    full_range,
    generate_demo_records,
)
from .sources import demo_sites, demo_sources
from .weather import night_conditions

__all__ = [
    "DEFAULT_END",
    "DEFAULT_START",
    "FULL_END",
    "DemoBuildProgress",
    "build_demo_archive",
    "demo_sites",
    "demo_sources",
    "ensure_demo_catalog",
    "full_range",
    "generate_demo_records",
    "night_conditions",
]
