"""Data sources, availability and the connectivity check over real HTTP (PROTOCOL §5, §6, §12)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import requests

from aurorax_core.backends.catalog import CatalogBackend

BASIC = ["identifier", "program", "platform", "instrument_type", "source_type", "display_name"]
FULL = [*BASIC, "metadata", "owner", "maintainers", "ephemeris_metadata_schema", "data_product_metadata_schema"]
STATS = {
    "ephemeris_count",
    "data_product_count",
    "earliest_ephemeris_loaded",
    "latest_ephemeris_loaded",
    "earliest_data_product_loaded",
    "latest_data_product_loaded",
}


def test_root_answers_200_json_for_the_connectivity_check(server: str, http: requests.Session) -> None:
    for path in ("", "/", "//"):
        reply = http.get(server + path, data="{}")
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/json"
    assert http.head(server + "/").status_code == 200


@pytest.mark.parametrize(
    "fmt,keys",
    [
        ("identifier_only", ["identifier"]),
        ("basic_info", BASIC),
        ("with_metadata", [*BASIC, "metadata"]),
        ("full_record", FULL),
    ],
)
def test_list_formats_carry_exactly_their_keys(server: str, http: requests.Session, fmt: str, keys: list[str]) -> None:
    reply = http.get(f"{server}/api/v1/data_sources?format={fmt}&include_stats=False", data="{}")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    sources = reply.json()
    assert [s["identifier"] for s in sources] == [3, 46, 103, 175, 400]
    assert all(set(s) == set(keys) for s in sources)


@pytest.mark.parametrize("flag", ["True", "true", "1", "TRUE"])
def test_include_stats_gives_every_source_the_six_key_stats_object(
    server: str, http: requests.Session, catalog: CatalogBackend, flag: str
) -> None:
    sources = http.get(f"{server}/api/v1/data_sources?format=basic_info&include_stats={flag}").json()
    assert all(set(s["stats"]) == STATS for s in sources)
    by_id = {s["identifier"]: s["stats"] for s in sources}
    assert by_id[175]["data_product_count"] == 45
    assert by_id[3]["data_product_count"] == 0
    datetime.fromisoformat(by_id[175]["earliest_data_product_loaded"])
    assert by_id[175] == catalog.get_source(175, include_stats=True).stats


def test_list_filters_are_exact_matches(server: str, http: requests.Session) -> None:
    def ids(query: str) -> list[int]:
        return [s["identifier"] for s in http.get(f"{server}/api/v1/data_sources?{query}").json()]

    assert ids("program=swarm") == [3]
    assert ids("platform=gillam") == [46, 103]
    assert ids("instrument_type=RGB+ASI") == [103]
    assert ids("source_type=leo") == [3]
    assert ids("owner=dchaddoc%40ucalgary.ca") == [3]
    assert ids("program=SWARM") == []


def test_search_takes_lists(server: str, http: requests.Session) -> None:
    reply = http.post(
        f"{server}/api/v1/data_sources/search?format=full_record&include_stats=True",
        json={"programs": ["swarm", "trex"], "platforms": [], "instrument_types": []},
    )
    assert reply.status_code == 200
    assert [s["identifier"] for s in reply.json()] == [3, 103]
    assert all(set(s) == {*FULL, "stats"} for s in reply.json())
    empty = http.post(f"{server}/api/v1/data_sources/search", json={"programs": ["nothing"]})
    assert empty.json() == []


def test_get_by_identifier(server: str, http: requests.Session) -> None:
    reply = http.get(f"{server}/api/v1/data_sources/103?format=full_record&include_stats=False")
    assert reply.status_code == 200
    source = reply.json()
    assert set(source) == set(FULL)
    assert source["data_product_metadata_schema"][0]["field_name"] == "keogram_type"
    assert "stats" not in source


def test_availability_counts_per_source_per_day(server: str, http: requests.Session, catalog: CatalogBackend) -> None:
    reply = http.get(
        f"{server}/api/v1/availability/data_products?start=2020-01-01&end=2020-01-02&program=trex"
        "&platform=gillam&instrument_type=RGB+ASI&format=basic_info&slow=False",
        data="{}",
    )
    assert reply.status_code == 200
    items = reply.json()
    assert items == [
        {
            "data_source": {
                "identifier": 103,
                "program": "trex",
                "platform": "gillam",
                "instrument_type": "RGB ASI",
                "source_type": "ground",
                "display_name": "TREx RGB GILL",
            },
            "available_data_products": {"2020-01-01": 15, "2020-01-02": 15},
        }
    ]
    everything = http.get(f"{server}/api/v1/availability/data_products?start=2019-12-01&end=2020-01-31").json()
    expected = [a.to_api_dict() for a in catalog.availability(date(2019, 12, 1), date(2020, 1, 31))]
    assert everything == expected
    assert all(set(item) == {"data_source", "available_data_products"} for item in everything)
