"""The demo archive: real sources and layouts, computed nights, reproducible catalog files."""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from aurorax_core import SYNTHETIC_METADATA_KEY, search
from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.demo import (
    DemoBuildProgress,
    build_demo_archive,
    demo_sites,
    demo_sources,
    ensure_demo_catalog,
    generate_demo_records,
    night_conditions,
)
from aurorax_core.demo.sun import solar_elevation
from aurorax_core.errors import CatalogError, QueryValidationError

B = r"^https://data\.phys\.ucalgary\.ca/sort_by_project"
# Regexes written from the real record URLs (REAL_DATA.md §2.1), not from the project's templates.
REAL_URL_LAYOUTS = {
    ("trex", "keogram", "hourly"): B
    + r"/TREx/RGB/stream2/(\d{4})/(\d{2})/(\d{2})/([a-z]{4})_(rgb-\d{2})/ut(\d{2})/\1\2\3_\6_\4_\5_full-keogram\.jpg$",
    ("trex", "montage", "hourly"): B
    + r"/TREx/RGB/stream2/(\d{4})/(\d{2})/(\d{2})/([a-z]{4})_(rgb-\d{2})/ut(\d{2})/\1\2\3_\6_\4_\5_full-montage\.jpg$",
    ("trex", "keogram", "daily"): B
    + r"/TREx/RGB/stream2/(\d{4})/(\d{2})/(\d{2})/([a-z]{4})_(rgb-\d{2})/\1\2\3__\4_\5_full-keogram\.jpg$",
    ("trex", "keogram", "daily_moviederived"): B
    + r"/TREx/RGB/rt-fullres/movie_derived_daily_keograms/(\d{4})/(\d{2})/(\d{2})/\1\2\3__([a-z]{4})_(rgb-\d{2})"
    r"_moviebased-keogram\.jpg$",
    ("themis-asi", "montage", "daily"): B
    + r"/THEMIS/asi/stream2/(\d{4})/(\d{2})/(\d{2})/([a-z]{4})_(themis\d{2})/\1\2\3__\4_\5_full-montage\.pgm\.jpg$",
    ("auroramax", "movie", "real-time daily"): B
    + r"/AuroraMAX/rt-movies/mp4/(\d{4})/(\d{2})/(\d{2})/auroramaxHD_\1\2\3_(480p|720p|1080p)\.mp4$",
}
RGB_IDS = {96, 101, 102, 103, 104}


@lru_cache(maxsize=4)
def _records(start: date, end: date) -> tuple[dict[str, Any], ...]:
    return tuple(generate_demo_records(start, end))


def _winter() -> tuple[dict[str, Any], ...]:
    return _records(date(2020, 1, 28), date(2020, 2, 6))


def _sub_type(record: dict[str, Any]) -> Any:
    return record["metadata"].get(f"{record['data_product_type']}_type")


def _is_daily(record: dict[str, Any]) -> bool:
    return record["start"].endswith("T00:00:00") and record["end"].endswith("T23:59:00")


def _on(records: Any, day: str, ids: set[int] | None = None) -> list[dict[str, Any]]:
    return [r for r in records if r["start"].startswith(day) and (ids is None or r["data_source"]["identifier"] in ids)]


# --- the data sources ------------------------------------------------------------------------


def test_every_real_source_is_in_the_demo_catalog(demo_catalog: CatalogBackend) -> None:
    sources = {s.identifier: s for s in demo_catalog.list_sources()}
    # A sample of the 101 observed production rows, across kinds (spacecraft and ground).
    assert sources[3].key == ("swarm", "swarma", "footprint") and sources[3].source_type == "leo"
    assert sources[37].key == ("themis", "themise", "footprint") and sources[37].display_name == "THEMIS-E"
    assert sources[96].key == ("trex", "fort smith", "RGB ASI") and sources[96].display_name == "TREx RGB FSMI"
    assert sources[93].display_name == "TREx Blue GILL"
    assert sources[175].key == ("auroramax", "yellowknife", "DSLR")
    assert sources[659].key == ("goes", "goes16", "footprint")
    assert sources[44].key == ("themis-asi", "athabasca", "panchromatic ASI")
    assert sources[46].key == ("themis-asi", "gillam", "panchromatic ASI")
    assert 76 in sources  # a placeholder: pyaurorax's CLI tests fetch identifier 76
    assert len(sources) >= 101
    swarm = demo_catalog.list_sources(programs=["swarm"])
    assert sorted(s.identifier for s in swarm) == [3, 29, 30]
    owned = {s.identifier for s in demo_catalog.list_sources(owner="dchaddoc@ucalgary.ca")}
    assert {3, 29, 30, 37} <= owned
    steve = demo_catalog.get_source_by_key("events", "mcgrath", "STEVE")
    assert steve.ephemeris_metadata_schema in ([], None) and steve.data_product_metadata_schema in ([], None)


def test_imager_schemas_describe_the_metadata_the_records_carry(demo_catalog: CatalogBackend) -> None:
    fsmi = demo_catalog.get_source(96)
    schema = {entry["field_name"]: entry for entry in fsmi.data_product_metadata_schema or []}
    # The one real entry, verbatim (its 'daily_moviebased' differs from the records' 'daily_moviederived').
    assert schema["keogram_type"]["allowed_values"] == [
        "hourly",
        "hourly_hires",
        "daily",
        "daily_hires",
        "daily_hires_200px",
        "daily_moviebased",
    ]
    assert {"montage_type", "movie_type", "imaging_start_time", "imaging_end_time", SYNTHETIC_METADATA_KEY} <= set(
        schema
    )
    gill_themis = demo_catalog.get_source_by_key("themis-asi", "gillam", "panchromatic ASI")
    assert isinstance(gill_themis.data_product_metadata_schema, list) and gill_themis.data_product_metadata_schema
    assert demo_catalog.get_source(3).data_product_metadata_schema in ([], None)


def test_only_ground_imagers_have_records() -> None:
    with_records = {r["data_source"]["identifier"] for r in _winter()}
    kinds = {s.identifier: s.source_type for s in demo_sources()}
    assert with_records and all(kinds[i] == "ground" for i in with_records)
    assert {site.source.identifier for site in demo_sites()} >= with_records


# --- the documentation's examples and pyaurorax's tests --------------------------------------


def test_documentation_example_query_returns_the_fort_smith_records(demo_catalog: CatalogBackend) -> None:
    result = search(
        "2020-01-01T00:00:00",
        "2020-01-01T23:59:59",
        programs=["trex"],
        platforms=["fort smith"],
        instrument_types=["RGB ASI"],
        backend=demo_catalog,
    )
    assert 30 <= len(result.data) <= 40
    assert {p.data_source.display_name for p in result.data} == {"TREx RGB FSMI"}
    assert all(p.is_synthetic for p in result.data)
    kinds = Counter((p.data_product_type, p.sub_type) for p in result.data)
    assert kinds[("movie", "real-time daily")] == 1 and kinds[("keogram", "daily_moviederived")] == 1


def test_gillam_has_one_daily_and_fifteen_hourly_keograms_on_new_year(demo_catalog: CatalogBackend) -> None:
    result = search(
        "2020-01-01T00:00:00",
        "2020-01-01T23:59:59",
        programs=["trex"],
        platforms=["gillam"],
        instrument_types=["RGB ASI"],
        data_product_types=["keogram"],
        metadata_filters=[{"key": "keogram_type", "operator": "in", "values": ["daily", "hourly"]}],
        backend=demo_catalog,
    )
    assert Counter(p.sub_type for p in result.data) == {"hourly": 15, "daily": 1}
    daily = next(p for p in result.data if p.sub_type == "daily")
    # The real record is exactly at this URL.
    assert daily.url == (
        "https://data.phys.ucalgary.ca/sort_by_project/TREx/RGB/stream2/2020/01/01/gill_rgb-04/"
        "20200101__gill_rgb-04_full-keogram.jpg"
    )


def test_auroramax_has_exactly_one_daily_hires_keogram_and_daily_movies(demo_catalog: CatalogBackend) -> None:
    hires = search(
        "2020-01-01T00:00:00",
        "2020-01-01T23:59:59",
        programs=["auroramax"],
        data_product_types=["keogram"],
        metadata_filters=[{"key": "keogram_type", "operator": "=", "values": ["daily_hires"]}],
        backend=demo_catalog,
    )
    assert len(hires.data) == 1
    movies = search(
        "2020-01-01T00:00:00",
        "2020-01-02T23:59:59",
        programs=["auroramax"],
        data_product_types=["movie"],
        backend=demo_catalog,
    )
    assert len(movies.data) == 2 and {p.sub_type for p in movies.data} == {"real-time daily"}
    assert list(generate_demo_records(date(1990, 1, 1), date(1990, 1, 2), sources=["auroramax"])) == []


def test_real_trex_counts_are_reproduced() -> None:
    records = _winter()
    assert len(_on(records, "2020-02-01", RGB_IDS)) == 164  # real: 164
    assert 800 <= sum(len(_on(records, f"2020-02-0{d}", RGB_IDS)) for d in range(1, 6)) <= 840  # real: 820
    trex_ids = {s.source.identifier for s in demo_sites() if s.source.program == "trex"}
    assert 265 <= len(_on(records, "2020-02-01", trex_ids)) <= 295  # real: 280
    daily_2021 = [
        r
        for r in generate_demo_records(date(2021, 1, 1), date(2021, 1, 1), sources=sorted(RGB_IDS | {339}))
        if r["metadata"].get("keogram_type") == "daily"
    ]
    assert sorted(r["data_source"]["identifier"] for r in daily_2021) == sorted(RGB_IDS)  # real: these 5


def test_pyaurorax_availability_days_have_trex_rgb_records() -> None:
    for start, end, source in ((date(2019, 1, 1), date(2019, 1, 2), 96), (date(2022, 1, 1), date(2022, 1, 1), 103)):
        assert list(generate_demo_records(start, end, sources=[source]))


# --- operating periods -----------------------------------------------------------------------


def test_no_rainbow_after_decommissioning() -> None:
    records = list(generate_demo_records(date(2019, 4, 20), date(2019, 5, 10), sources=["rainbow"]))
    days = {r["start"][:10] for r in records}
    assert days, "Rainbow ran until the end of April 2019"
    assert max(days) <= "2019-04-30"


def test_no_trex_rgb_before_it_started() -> None:
    records = list(generate_demo_records(date(2018, 11, 20), date(2018, 12, 20), sources=sorted(RGB_IDS)))
    assert records, "TREx RGB FSMI started in December 2018"
    assert min(r["start"] for r in records) >= "2018-12-07"
    assert all(r["data_source"]["identifier"] == 96 for r in records)  # only Fort Smith was running


def test_devices_change_with_the_date() -> None:
    def rabbit_lake_devices(day: date) -> set[str]:
        return {
            m.group(1)
            for r in generate_demo_records(day, day, sources=[104])
            if (m := re.search(r"/rabb_(rgb-\d{2})/", r["url"]))
        }

    assert rabbit_lake_devices(date(2020, 2, 1)) == {"rgb-05"}  # the real montage URL of that day
    assert rabbit_lake_devices(date(2021, 1, 1)) == {"rgb-06"}


# --- nights, hours and imaging times ---------------------------------------------------------


def _imaging_hours(records: list[dict[str, Any]]) -> float:
    daily = [r for r in records if r["metadata"].get("keogram_type") == "daily"]
    assert len(daily) == 1
    md = daily[0]["metadata"]
    start = datetime.fromisoformat(md["imaging_start_time"])
    end = datetime.fromisoformat(md["imaging_end_time"])
    return (end - start).total_seconds() / 3600


def test_high_latitude_summer_nights_are_empty_and_spring_nights_short() -> None:
    inuvik = 47  # THEMIS-ASI INUV, 68.4 N
    assert list(generate_demo_records(date(2020, 6, 10), date(2020, 6, 30), sources=[inuvik])) == []
    winter = [list(generate_demo_records(d, d, sources=[inuvik])) for d in (date(2019, 12, 20), date(2019, 12, 22))]
    spring = [list(generate_demo_records(d, d, sources=[inuvik])) for d in (date(2020, 4, 10), date(2020, 4, 12))]
    winter_hours = max(_imaging_hours(r) for r in winter if r)
    spring_hours = max(_imaging_hours(r) for r in spring if r)
    assert winter_hours > 15 and spring_hours < 8
    assert max(len(r) for r in spring) < min(len(r) for r in winter if r)


def test_imaging_times_lie_in_the_dark_and_inside_hourly_records() -> None:
    sites = {s.source.identifier: s for s in demo_sites()}
    fmt = "%Y-%m-%dT%H:%M:%S.%f"
    for record in _winter()[::37]:
        md = record["metadata"]
        first = datetime.strptime(md["imaging_start_time"], fmt).replace(tzinfo=UTC)
        last = datetime.strptime(md["imaging_end_time"], fmt).replace(tzinfo=UTC)
        assert first <= last
        site = sites[record["data_source"]["identifier"]]
        # Images are taken on whole minutes inside the dark interval (sun below -12°).
        assert solar_elevation(first, site.latitude, site.longitude) < -11.9
        assert solar_elevation(last, site.latitude, site.longitude) < -11.9
        start = datetime.fromisoformat(record["start"]).replace(tzinfo=UTC)
        end = datetime.fromisoformat(record["end"]).replace(tzinfo=UTC)
        if not _is_daily(record):
            assert start <= first and last <= end
            assert record["start"][14:] == "00:00" and record["end"][14:] == "59:00"
        else:
            # the night may start the evening before but is centred on this UT date
            assert (first + (last - first) / 2).date() == start.date()


def test_counts_per_site_night_follow_each_networks_scheme() -> None:
    per_night: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for record in _winter():
        per_night[(record["data_source"]["identifier"], record["start"][:10])].append(record)
    sites = {s.source.identifier: s for s in demo_sites()}
    for (ident, _day), records in per_night.items():
        site = sites[ident]
        hourly_kinds = sum(1 for p in site.products if p.cadence == "hourly")
        daily_kinds = sum(1 for p in site.products if p.cadence == "daily")
        hours = {r["start"][11:13] for r in records if not _is_daily(r)}
        daily = [r for r in records if _is_daily(r)]
        assert len(daily) in (0, daily_kinds)
        assert len(records) == len(daily) + hourly_kinds * len(hours)
        if site.network == "trex_rgb" and daily:
            assert 28 <= len(records) <= 40  # ~33 per site-night in winter (real: 164 / 5)


def test_lost_nights_have_no_daily_products_and_agree_with_night_conditions() -> None:
    sites = [s for s in demo_sites() if s.network == "themis_asi"]
    days = [date(2020, 1, d) for d in range(1, 32)]
    records = list(generate_demo_records(days[0], days[-1], sources=[s.source.identifier for s in sites]))
    with_daily = {(r["data_source"]["identifier"], r["start"][:10]) for r in records if _is_daily(r)}
    lost = 0
    for site in sites:
        for day in days:
            conditions = night_conditions(site.source, day)
            assert conditions == night_conditions(site.source, day)  # deterministic
            lost += conditions["lost"] is not None
            # In January every THEMIS site has a night, so a night has products exactly when not lost.
            assert ((site.source.identifier, day.isoformat()) in with_daily) == (conditions["lost"] is None)
    assert 0.02 < lost / (len(sites) * len(days)) < 0.25
    # Nights with real records are never lost (TREx RGB FSMI 2020-01-01, AuroraMAX 2020-01-01/02).
    sources = {s.identifier: s for s in demo_sources()}
    for ident, day in ((96, date(2020, 1, 1)), (175, date(2020, 1, 1)), (175, date(2020, 1, 2))):
        assert night_conditions(sources[ident], day)["lost"] is None
    sky = night_conditions("Gillam", date(2020, 1, 5))
    assert sky == night_conditions("gillam", date(2020, 1, 5)) and len(sky["cloud_cover"]) == 24
    with pytest.raises(ValueError, match="platform"):
        night_conditions("", date(2020, 1, 5))


# --- URLs ------------------------------------------------------------------------------------


def test_urls_follow_the_real_layouts_and_are_unique() -> None:
    records = _winter()
    urls = [r["url"] for r in records]
    assert len(set(urls)) == len(urls)
    checked: Counter[tuple[str, str, str]] = Counter()
    for record in records:
        key = (record["data_source"]["program"], record["data_product_type"], _sub_type(record))
        pattern = REAL_URL_LAYOUTS.get(key)
        if pattern is None or (key[0] == "trex" and record["data_source"]["instrument_type"] != "RGB ASI"):
            continue
        match = re.match(pattern, record["url"])
        assert match, record["url"]
        assert "-".join(match.group(1, 2, 3)) == record["start"][:10]
        if key[0] != "auroramax":
            assert record["data_source"]["display_name"].lower().endswith(match.group(4))
        checked[key] += 1
    assert set(checked) == set(REAL_URL_LAYOUTS)
    real = {
        "https://data.phys.ucalgary.ca/sort_by_project/TREx/RGB/stream2/2020/02/01/gill_rgb-04/ut00/"
        "20200201_00_gill_rgb-04_full-keogram.jpg",
        "https://data.phys.ucalgary.ca/sort_by_project/TREx/RGB/stream2/2020/02/01/rabb_rgb-05/ut00/"
        "20200201_00_rabb_rgb-05_full-montage.jpg",
    }
    assert real <= set(urls)


def test_every_record_is_marked_synthetic() -> None:
    assert all(r["metadata"][SYNTHETIC_METADATA_KEY] is True for r in _winter())


# --- building catalog files ------------------------------------------------------------------


def test_same_range_gives_the_same_catalog_bytes(tmp_path: Path) -> None:
    events: list[DemoBuildProgress] = []
    first = build_demo_archive(tmp_path / "a.sqlite", date(2020, 1, 1), date(2020, 1, 2), progress=events.append)
    second = build_demo_archive(tmp_path / "b.sqlite", date(2020, 1, 1), date(2020, 1, 2))
    assert first["records"] == second["records"] > 0
    assert (tmp_path / "a.sqlite").read_bytes() == (tmp_path / "b.sqlite").read_bytes()
    assert events[0].stage == "sources" and events[-1].stage == "done"
    assert events[-1].records == first["records"] and events[-1].fraction == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sqlite", "b.sqlite"]  # no temporary files left


def test_build_replaces_an_existing_catalog(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    build_demo_archive(path, date(2020, 1, 1), date(2020, 1, 1))
    summary = build_demo_archive(path, date(2020, 1, 2), date(2020, 1, 3))
    with CatalogBackend(path) as catalog:
        assert catalog.stats()["records"] == summary["records"]
        assert not search("2020-01-01", "2020-01-01T23:59:59", programs=["trex"], backend=catalog).data


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(QueryValidationError, match="before"):
        build_demo_archive(tmp_path / "x.sqlite", date(2020, 1, 2), date(2020, 1, 1))
    with pytest.raises(CatalogError, match="directory"):
        build_demo_archive(tmp_path, date(2020, 1, 1), date(2020, 1, 1))
    with pytest.raises(QueryValidationError, match="sources"):
        list(generate_demo_records(date(2020, 1, 1), date(2020, 1, 1), sources=[1.5]))  # type: ignore[list-item]


def test_ensure_demo_catalog_builds_once_even_when_raced(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "catalog.sqlite"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ensure_demo_catalog(path)
        except BaseException as exc:  # collected: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    built = path.read_bytes()
    with CatalogBackend(path) as catalog:
        result = search(
            "2020-02-01", "2020-02-01T23:59:59", programs=["trex"], instrument_types=["RGB ASI"], backend=catalog
        )
        assert len(result.data) == 164
    assert ensure_demo_catalog(path) == path
    assert path.read_bytes() == built  # an existing catalog is left alone
    assert [p.name for p in path.parent.iterdir()] == ["catalog.sqlite"]  # no temporary or lock files left
