"""Hand-built catalogs for availability: real sources at real sites, products on chosen days only.

* TREx RGB GILL (103, Gillam 56.4° N): January 2020, 1-10. A full night is 13 hourly keograms
  (00-12 UT, inside the dark window 23:29-13:15 UT) and one daily keogram = 14 products; 5 January has
  none (camera down: ``missing``); 7 January has 3 (``partial``: under half the usual 14).
* THEMIS-ASI FSMI (55, Fort Smith 60.0° N): nothing on 21 June 2020 (no dark sky: ``not_expected``),
  a full night on 15 January 2020.
* REGO LYRN (80, Longyearbyen 78.2° N): polar night; products on 20 December 2020, none on the 21st.
* Swarm A (3, spacecraft) products on 2 January 2020 only; PFISR (492, a radar) none; a ground source
  without a known site (400) none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aurorax_core.backends.catalog import CatalogBackend

SOURCES: list[dict[str, Any]] = [
    {"identifier": 3, "program": "swarm", "platform": "swarma", "instrument_type": "footprint", "source_type": "leo",
     "display_name": "Swarm A"},
    {"identifier": 55, "program": "themis-asi", "platform": "fort smith", "instrument_type": "panchromatic ASI",
     "source_type": "ground", "display_name": "THEMIS-ASI FSMI"},
    {"identifier": 80, "program": "rego", "platform": "longyearbyen", "instrument_type": "redline ASI",
     "source_type": "ground", "display_name": "REGO LYRN"},
    {"identifier": 103, "program": "trex", "platform": "gillam", "instrument_type": "RGB ASI",
     "source_type": "ground", "display_name": "TREx RGB GILL"},
    {"identifier": 400, "program": "test-program", "platform": "test-platform",
     "instrument_type": "test-instrument-type", "source_type": "ground", "display_name": "PyAuroraX testing"},
    {"identifier": 492, "program": "amisr", "platform": "poker flat", "instrument_type": "ISR",
     "source_type": "ground", "display_name": "PFISR"},
]  # fmt: skip

GILLAM_FULL_NIGHT = 14
GILLAM_DAYS = [date(2020, 1, d) for d in range(1, 11)]
GILLAM_MISSING = date(2020, 1, 5)
GILLAM_THIN = date(2020, 1, 7)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _hourly(sid: int, day: date, hours: list[int]) -> list[dict[str, Any]]:
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [
        {
            "data_source": {"identifier": sid},
            "data_product_type": "keogram",
            "start": _stamp(base + timedelta(hours=h)),
            "end": _stamp(base + timedelta(hours=h, minutes=59)),
            "url": f"https://example.org/{sid}/{day:%Y%m%d}/ut{h:02d}_keogram.jpg",
            "metadata": {"keogram_type": "hourly"},
        }
        for h in hours
    ]


def _daily(sid: int, day: date, kind: str = "keogram") -> dict[str, Any]:
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "data_source": {"identifier": sid},
        "data_product_type": kind,
        "start": _stamp(base),
        "end": _stamp(base + timedelta(hours=23, minutes=59)),
        "url": f"https://example.org/{sid}/{day:%Y%m%d}/daily_{kind}.jpg",
        "metadata": {f"{kind}_type": "daily"},
    }


def records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for day in GILLAM_DAYS:
        if day == GILLAM_MISSING:
            continue
        hours = [0, 1] if day == GILLAM_THIN else list(range(13))
        out += [*_hourly(103, day, hours), _daily(103, day)]
    out += [*_hourly(55, date(2020, 1, 15), list(range(1, 14))), _daily(55, date(2020, 1, 15))]
    out += [*_hourly(80, date(2020, 12, 20), [*range(9), *range(13, 24)]), _daily(80, date(2020, 12, 20), "movie")]
    out.append(_daily(3, date(2020, 1, 2), "summary_plot"))
    return out


@pytest.fixture(scope="session")
def availability_catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("availability") / "catalog.sqlite"
    catalog = CatalogBackend(path)
    try:
        catalog.ingest_sources(SOURCES)
        catalog.ingest_products(records())
    finally:
        catalog.close()
    return path


@pytest.fixture(scope="session")
def availability_catalog(availability_catalog_path: Path) -> Iterator[CatalogBackend]:
    backend = CatalogBackend(availability_catalog_path)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def availability_server(availability_catalog_path: Path) -> Iterator[str]:
    """``aurorax-core serve``'s server on 127.0.0.1 over the same catalog."""
    from aurorax_core.server import serve_in_thread

    url, stop = serve_in_thread(availability_catalog_path)
    yield url
    stop()
