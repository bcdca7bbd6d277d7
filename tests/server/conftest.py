"""A small real catalog (built through CatalogBackend's ingest API) and real servers on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.server import serve_in_thread

API_KEY = "server-test-key"
DAYS = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC), datetime(2020, 1, 3, tzinfo=UTC))

SOURCES: list[dict[str, Any]] = [
    {
        "identifier": 3,
        "program": "swarm",
        "platform": "swarma",
        "instrument_type": "footprint",
        "source_type": "leo",
        "display_name": "Swarm A",
        "owner": "dchaddoc@ucalgary.ca",
        "metadata": {},
        "maintainers": [],
        "ephemeris_metadata_schema": [],
        "data_product_metadata_schema": [],
    },
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
        "data_product_metadata_schema": [
            {
                "field_name": "keogram_type",
                "description": "Type of keogram",
                "data_type": "string",
                "allowed_values": ["hourly", "daily", "daily_hires"],
                "additional_description": "",
                "searchable": None,
            }
        ],
    },
    {
        "identifier": 175,
        "program": "auroramax",
        "platform": "yellowknife",
        "instrument_type": "DSLR",
        "source_type": "ground",
        "display_name": "AuroraMAX",
    },
    {
        "identifier": 400,
        "program": "test-program",
        "platform": "test-platform",
        "instrument_type": "test-instrument-type",
        "source_type": "ground",
        "display_name": "PyAuroraX testing",
    },
]


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def generated_records() -> list[dict[str, Any]]:
    """Hourly keograms 00-11 UT, a daily keogram, a daily_hires keogram and a movie per ground source per day."""
    records = []
    for source in SOURCES[1:4]:
        sid = source["identifier"]
        for day in DAYS:
            tag = day.strftime("%Y%m%d")
            meta_night = {"imaging_start_time": _stamp(day - timedelta(hours=1)) + ".000000"}
            for hour in range(12):
                start = day + timedelta(hours=hour)
                records.append(
                    {
                        "data_source": {"identifier": sid},
                        "data_product_type": "keogram",
                        "start": _stamp(start),
                        "end": _stamp(start + timedelta(minutes=59)),
                        "url": f"https://example.org/{sid}/{tag}/ut{hour:02d}_keogram.jpg",
                        "metadata": {**meta_night, "keogram_type": "hourly", "cloud_confidence": hour * 8},
                    }
                )
            for kind in ("daily", "daily_hires"):
                records.append(
                    {
                        "data_source": {"identifier": sid},
                        "data_product_type": "keogram",
                        "start": _stamp(day),
                        "end": _stamp(day + timedelta(hours=23, minutes=59)),
                        "url": f"https://example.org/{sid}/{tag}/{kind}_keogram.jpg",
                        "metadata": {**meta_night, "keogram_type": kind},
                    }
                )
            records.append(
                {
                    "data_source": {"identifier": sid},
                    "data_product_type": "movie",
                    "start": _stamp(day),
                    "end": _stamp(day + timedelta(hours=23, minutes=59)),
                    "url": f"https://example.org/{sid}/{tag}/movie.mp4",
                    "metadata": {**meta_night, "movie_type": "real-time daily"},
                }
            )
    return records


RECORDS_PER_SOURCE_DAY = 15


@pytest.fixture(scope="session")
def small_catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("server-catalog") / "catalog.sqlite"
    catalog = CatalogBackend(path)
    try:
        catalog.ingest_sources(SOURCES)
        catalog.ingest_products(generated_records())
    finally:
        catalog.close()
    return path


@pytest.fixture(scope="session")
def catalog(small_catalog_path: Path) -> Iterator[CatalogBackend]:
    """The same catalog opened in-process (read-only use), to compare the server's answers with."""
    backend = CatalogBackend(small_catalog_path)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def server(small_catalog_path: Path) -> Iterator[str]:
    """A read-mostly server shared by the session (writes need API_KEY; tests that write use ``make_server``)."""
    url, stop = serve_in_thread(small_catalog_path, api_keys=[API_KEY])
    yield url
    stop()


@pytest.fixture
def make_server(tmp_path: Path, small_catalog_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start a server over a private copy of the catalog with the given options; returns (url, path)."""
    stops: list[Callable[[], None]] = []

    def start(**options: Any) -> tuple[str, Path]:
        path = tmp_path / f"catalog-{len(stops)}.sqlite"
        shutil.copyfile(small_catalog_path, path)
        options.setdefault("api_keys", [API_KEY])
        url, stop = serve_in_thread(path, **options)
        stops.append(stop)
        return url, path

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


def submit(http: requests.Session, url: str, query: dict[str, Any], **headers: str) -> str:
    """POST a search; its absolute Location."""
    reply = http.post(f"{url}/api/v1/data_products/search", data=json.dumps(query), headers=headers)
    assert reply.status_code == 202, reply.text
    return reply.headers["Location"]


def wait(http: requests.Session, location: str) -> dict[str, Any]:
    """Poll a search's status until data_uri is set; that status."""
    for _ in range(500):
        status = http.get(location, data="{}").json()
        if status["search_result"]["data_uri"] is not None:
            return status
        time.sleep(0.01)
    raise AssertionError("the search never completed")
