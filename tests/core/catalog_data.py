"""Test data for the catalog and ingest tests: sources and a varied random archive.

The random archive mixes what the search semantics must cope with: sources that share platform
names across programs, case variants of instrument types, a source whose metadata schema types
keys as double/int/bool, metadata values that are strings, numbers, numeric strings, booleans,
null, SQL-looking text and unicode, and keys that some records lack.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aurorax_core import CatalogBackend

SCHEMA_SOURCE_ID = 7
BASE_TIME = datetime(2020, 1, 1, tzinfo=UTC)

SOURCES: list[dict[str, Any]] = [
    {"identifier": 1, "program": "trex", "platform": "gillam", "instrument_type": "RGB ASI"},
    {"identifier": 2, "program": "trex", "platform": "fort smith", "instrument_type": "RGB ASI"},
    {"identifier": 3, "program": "trex", "platform": "gillam", "instrument_type": "near-infrared ASI"},
    {"identifier": 4, "program": "themis-asi", "platform": "gillam", "instrument_type": "panchromatic ASI"},
    {"identifier": 5, "program": "themis-asi", "platform": "athabasca", "instrument_type": "panchromatic ASI"},
    {"identifier": 6, "program": "rego", "platform": "gillam", "instrument_type": "redline ASI"},
    {"identifier": SCHEMA_SOURCE_ID, "program": "TREX", "platform": "Gillam", "instrument_type": "rgb asi"},
    {"identifier": 8, "program": "auroramax", "platform": "yellowknife", "instrument_type": "DSLR"},
]
for _s in SOURCES:
    _s.update(source_type="ground", display_name=f"{_s['program']} {_s['platform']}"[:50])
SOURCES[SCHEMA_SOURCE_ID - 1]["data_product_metadata_schema"] = [
    {"field_name": "cloud", "description": "cloud confidence", "data_type": "double", "allowed_values": []},
    {"field_name": "count", "description": "frames", "data_type": "int", "allowed_values": []},
    {"field_name": "good", "description": "usable", "data_type": "bool", "allowed_values": []},
    {"field_name": "keogram_type", "description": "type", "data_type": "string", "allowed_values": []},
    {"field_name": "note", "description": "free text", "data_type": "string", "allowed_values": []},
]

TYPES = ("keogram", "montage", "movie", "summary_plot")
SUB_TYPES = ("daily", "hourly", "daily_hires", "real-time daily", "5", "5.0", "Daily")
NUMBERS: tuple[Any, ...] = (0, 5, 5.0, -3, 12.5, 75, 90, 100, "5", "12.5", "75", "-3", "abc", "", True, None)
BOOLS: tuple[Any, ...] = (True, False, "true", "True", "false", "FALSE", 1, "yes")
NOTES: tuple[Any, ...] = (
    "clear",
    "cloudy",
    "' OR 1=1 --",
    "x'); DROP TABLE products; --",
    "%",
    "_",
    "Clear",
    "été",
    'a"b',
    "",
    7,
    [1, 2],
    {"k": "v"},
)


def _metadata(rng: random.Random, kind: str, cross: bool) -> dict[str, Any]:
    md: dict[str, Any] = {}
    if rng.random() < 0.85:
        md[f"{kind}_type"] = rng.choice(SUB_TYPES)
    if cross and rng.random() < 0.1:
        md[f"{rng.choice(TYPES)}_type"] = rng.choice(SUB_TYPES)
    if rng.random() < 0.6:
        md["cloud"] = rng.choice(NUMBERS)
    if rng.random() < 0.5:
        md["count"] = rng.choice((0, 1, 2, 10, 100, "10", "x"))
    if rng.random() < 0.5:
        md["good"] = rng.choice(BOOLS)
    if rng.random() < 0.5:
        md["note"] = rng.choice(NOTES)
    if rng.random() < 0.3:
        md["imaging_start_time"] = f"2020-01-01T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000000"
    return md


def make_records(n: int, *, seed: int = 1, cross: bool = False, days: int = 6) -> list[dict[str, Any]]:
    """``n`` AuroraX data-product records over ``days`` days from 2020-01-01, deterministic."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        source = rng.choice(SOURCES)
        kind = rng.choice(TYPES)
        if rng.random() < 0.5:
            # whole hours and days, so that query boundaries often coincide with record times
            start = BASE_TIME + timedelta(hours=rng.randrange(days * 24))
        else:
            start = BASE_TIME + timedelta(seconds=rng.randrange(days * 86400))
        duration = rng.choice((0, 59, 3540, 3599, 86340, 86399, 172800, rng.randrange(200000)))
        end = start + timedelta(seconds=duration)
        records.append(
            {
                "data_source": {k: v for k, v in source.items() if k != "data_product_metadata_schema"},
                "data_product_type": kind,
                "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%S"),
                "url": f"https://example.org/{source['identifier']}/{kind}/{i:05d}.jpg",
                "metadata": _metadata(rng, kind, cross),
            }
        )
    return records


def build_random_catalog(path: Path, *, cross: bool, n: int = 3000) -> tuple[CatalogBackend, list[dict[str, Any]]]:
    backend = CatalogBackend(path)
    backend.ingest_sources(SOURCES)
    records = make_records(n, seed=11 if cross else 5, cross=cross)
    backend.ingest_products(records, batch_size=700)
    return backend, records
