"""Real servers on 127.0.0.1 for the take-away tests: an AuroraX-compatible server over a small
multi-month catalog (for sync), a programmable proxy in front of it (delays, outages, wrong
answers), and a small file server with every fault a download meets."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.server import serve_in_thread

from .servers import FileServer, Proxy

API_KEY = "takehome-key"

SOURCES: list[dict[str, Any]] = [
    {
        "identifier": 46,
        "program": "themis-asi",
        "platform": "gillam",
        "instrument_type": "panchromatic ASI",
        "source_type": "ground",
        "display_name": "THEMIS-ASI GILL",
    },
    {
        "identifier": 103,
        "program": "trex",
        "platform": "gillam",
        "instrument_type": "RGB ASI",
        "source_type": "ground",
        "display_name": "TREx RGB GILL",
    },
    {
        "identifier": 104,
        "program": "trex",
        "platform": "rabbit lake",
        "instrument_type": "RGB ASI",
        "source_type": "ground",
        "display_name": "TREx RGB RABB",
    },
]
FIRST_DAY = datetime(2020, 1, 1, tzinfo=UTC)
N_DAYS = 75  # 2020-01-01 .. 2020-03-15: three month chunks per source


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def generated_records(n_days: int = N_DAYS, hours: int = 6) -> list[dict[str, Any]]:
    """Per source and day: ``hours`` hourly keograms and a daily keogram (the daily one crosses
    midnight on the last day of each month, as real nights do)."""
    records = []
    for source in SOURCES:
        sid = source["identifier"]
        for offset in range(n_days):
            day = FIRST_DAY + timedelta(days=offset)
            tag = day.strftime("%Y%m%d")
            for hour in range(hours):
                start = day + timedelta(hours=hour)
                records.append(
                    {
                        "data_source": {"identifier": sid},
                        "data_product_type": "keogram",
                        "start": _stamp(start),
                        "end": _stamp(start + timedelta(minutes=59)),
                        "url": f"https://data.phys.ucalgary.ca/{sid}/{tag}/ut{hour:02d}_keogram.jpg",
                        "metadata": {"keogram_type": "hourly"},
                    }
                )
            start = day + timedelta(hours=20)
            records.append(
                {
                    "data_source": {"identifier": sid},
                    "data_product_type": "keogram",
                    "start": _stamp(start),
                    "end": _stamp(start + timedelta(hours=10)),
                    "url": f"https://data.phys.ucalgary.ca/{sid}/{tag}/daily_keogram.jpg",
                    "metadata": {"keogram_type": "daily"},
                }
            )
    return records


@pytest.fixture(scope="session")
def upstream_catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upstream") / "upstream.sqlite"
    catalog = CatalogBackend(path)
    try:
        catalog.ingest_sources(SOURCES)
        catalog.ingest_products(generated_records())
    finally:
        catalog.close()
    return path


@pytest.fixture
def upstream(tmp_path: Path, upstream_catalog_path: Path) -> Iterator[tuple[str, Path]]:
    """A private AuroraX-compatible server over a copy of the upstream catalog: (url, catalog path)."""
    path = tmp_path / "upstream.sqlite"
    shutil.copyfile(upstream_catalog_path, path)
    url, stop = serve_in_thread(path, api_keys=[API_KEY], search_processes=0)
    yield url, path
    stop()


@pytest.fixture
def proxy(upstream: tuple[str, Path]) -> Iterator[Proxy]:
    server = Proxy(upstream[0])
    yield server
    server.close()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def make_dir(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        path = tmp_path / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    return make
