"""``aurorax_core.availability``: every source on every day, with expected dark hours and a status,
on hand-built catalogs (see conftest.py) and over the project's own AuroraX-compatible server."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

import aurorax_core
from aurorax_core import (
    Availability,
    AvailabilityReport,
    BackendError,
    CatalogBackend,
    DataSource,
    QueryValidationError,
    RemoteBackend,
    SourceDay,
)

from .conftest import GILLAM_DAYS, GILLAM_FULL_NIGHT, GILLAM_MISSING, GILLAM_THIN


def _by_day(report: AvailabilityReport, identifier: int) -> dict[date, SourceDay]:
    return {r.date: r for r in report if r.identifier == identifier}


def test_a_january_night_with_data_is_present_and_one_without_is_missing(
    availability_catalog: CatalogBackend,
) -> None:
    report = aurorax_core.availability(
        GILLAM_DAYS[0], GILLAM_DAYS[-1], program="trex", platform="gillam", backend=availability_catalog
    )
    days = _by_day(report, 103)
    assert sorted(days) == GILLAM_DAYS  # every day, the day without products included
    for day, record in days.items():
        assert 13.0 < record.expected_hours < 14.5  # a January night at 56° N, clipped to the UT day
        if day == GILLAM_MISSING:
            assert (record.count, record.status) == (0, "missing")
        elif day == GILLAM_THIN:
            assert (record.count, record.status) == (3, "partial")
        else:
            assert (record.count, record.status) == (GILLAM_FULL_NIGHT, "present")
    assert days[GILLAM_MISSING].days_by_status == {"missing": 1}
    first = days[GILLAM_DAYS[0]]
    assert (first.display_name, first.program, first.platform, first.instrument_type) == (
        "TREx RGB GILL",
        "trex",
        "gillam",
        "RGB ASI",
    )


def test_a_june_day_at_60_north_is_not_expected(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(
        date(2020, 6, 20), date(2020, 6, 22), platform="fort smith", backend=availability_catalog
    )
    assert [(r.date.day, r.count, r.expected_hours, r.status) for r in report] == [
        (20, 0, 0.0, "not_expected"),
        (21, 0, 0.0, "not_expected"),
        (22, 0, 0.0, "not_expected"),
    ]
    january = aurorax_core.availability(
        date(2020, 1, 14), date(2020, 1, 15), platform="fort smith", backend=availability_catalog
    )
    assert [(r.count, r.status) for r in january] == [(0, "missing"), (14, "present")]


def test_a_polar_night_day_at_78_north_is_expected_all_but_noon(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(
        date(2020, 12, 20), date(2020, 12, 21), platform="longyearbyen", backend=availability_catalog
    )
    with_data, without = list(report)
    assert (with_data.count, with_data.status) == (21, "present")
    assert (without.count, without.status) == (0, "missing")
    # 78° N at the solstice: the sun stays below -6° all day and gets only just above -12° at noon
    assert 20.0 < without.expected_hours < 24.0
    darker = aurorax_core.availability(
        date(2020, 12, 21), date(2020, 12, 21), platform="longyearbyen", threshold=-6, backend=availability_catalog
    )
    assert darker[0].expected_hours == 24.0


def test_spacecraft_and_radars_are_present_or_absent_and_a_siteless_imager_unknown(
    availability_catalog: CatalogBackend,
) -> None:
    report = aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 3), backend=availability_catalog)
    swarm = _by_day(report, 3)
    assert [(swarm[d].count, swarm[d].status, swarm[d].expected_hours) for d in sorted(swarm)] == [
        (0, "absent", None),
        (1, "present", None),
        (0, "absent", None),
    ]
    assert {r.status for r in report if r.identifier == 492} == {"absent"}  # a radar needs no dark sky
    assert {(r.status, r.expected_hours) for r in report if r.identifier == 400} == {("unknown", None)}
    assert any("without site coordinates" in note and "PyAuroraX testing" in note for note in report.notes)
    # every source of the selection on every day, in identifier order, each source's days in order
    assert [r.identifier for r in report] == [i for i in (3, 55, 80, 103, 400, 492) for _ in range(3)]
    assert len(report) == 18 and isinstance(report[0], SourceDay)


def test_partial_needs_comparable_days(availability_catalog: CatalogBackend) -> None:
    # Alone (no other days with products to compare with), a thin night cannot be judged: present.
    alone = aurorax_core.availability(GILLAM_THIN, GILLAM_THIN, platform="gillam", backend=availability_catalog)
    assert (alone[0].count, alone[0].status) == (3, "present")


def test_without_expected_only_counts(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(
        date(2020, 1, 1), date(2020, 1, 2), program="trex", expected=False, backend=availability_catalog
    )
    assert [(r.count, r.status, r.expected_hours) for r in report] == [(14, None, None), (14, None, None)]
    assert report[0].to_dict()["status"] is None


def test_by_month_sums_days_and_says_how_many_had_each_status(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(
        date(2019, 12, 15), date(2020, 2, 10), program="trex", by="month", backend=availability_catalog
    )
    assert [(r.date, r.period) for r in report] == [
        (date(2019, 12, 1), "month"),
        (date(2020, 1, 1), "month"),
        (date(2020, 2, 1), "month"),
    ]
    january = report[1]
    assert january.count == 8 * GILLAM_FULL_NIGHT + 3
    assert january.status == "partial"
    assert january.days_by_status == {"present": 8, "partial": 1, "missing": 22}
    assert report[0].days_by_status == {"missing": 17} and report[0].status == "missing"
    assert january.to_dict()["date"] == "2020-01"
    hours = aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 31), program="trex", backend=availability_catalog)
    assert january.expected_hours == pytest.approx(sum(r.expected_hours for r in hours), abs=0.2)


def test_fifty_years_by_month(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(
        date(1990, 1, 1), date(2039, 12, 31), program="trex", by="auto", backend=availability_catalog
    )
    assert report.period == "month" and len(report) == 600
    assert sum(r.count for r in report) == 8 * GILLAM_FULL_NIGHT + 3
    june = [r for r in report if r.date.month == 6]
    assert all(r.status == "not_expected" for r in june)  # no dark sky at Gillam in any June


def test_to_dataframe(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(
        date(2020, 1, 1), date(2020, 1, 10), program="trex", backend=availability_catalog
    )
    frame = report.to_dataframe()
    assert list(frame.columns) == [
        "identifier",
        "display_name",
        "program",
        "platform",
        "instrument_type",
        "source_type",
        "date",
        "count",
        "counts_by_type",
        "expected_hours",
        "status",
    ]
    assert len(frame) == 10
    assert str(frame["date"].dtype).startswith("datetime64")
    assert frame["count"].sum() == 8 * GILLAM_FULL_NIGHT + 3
    assert frame.set_index("date").loc["2020-01-05", "status"] == "missing"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2020-01-05", "end": "2020-01-01"}, "end date 2020-01-01 is before start date 2020-01-05"),
        ({"program": "no-such-program"}, "no data source matches program='no-such-program'"),
        ({"platform": "atlantis"}, "sources list"),
        ({"start": "1900-01-01", "end": "2099-12-31"}, "too long; at most 100 years"),
        ({"start": "1990-01-01", "end": "2039-12-31", "by": "day"}, "aggregate by month"),
        ({"by": "week"}, "by must be 'day', 'month' or 'auto'"),
        ({"start": "yesterday"}, "start date 'yesterday' is not a date"),
        ({"min_expected_hours": 30}, "min_expected_hours must be between 0 and 24"),
        ({"threshold": 95}, "threshold"),
    ],
)
def test_bad_input_is_a_clear_error(availability_catalog: CatalogBackend, kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"start": "2020-01-01", "end": "2020-01-02", "backend": availability_catalog}
    arguments.update(kwargs)
    with pytest.raises(QueryValidationError, match=message):
        aurorax_core.availability(arguments.pop("start"), arguments.pop("end"), **arguments)


def test_a_backend_that_does_not_count_availability_says_so() -> None:
    class SearchOnly:
        name = "search-only test backend"

        def list_sources(self, **_: Any) -> list[DataSource]:
            return []

        def search(self, *_: Any, **__: Any) -> Any:
            raise NotImplementedError

        def describe(self, *_: Any) -> str:
            return ""

        def close(self) -> None:
            pass

    with pytest.raises(BackendError, match="does not answer availability"):
        aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 2), backend=SearchOnly())  # type: ignore[arg-type]


def test_counts_by_type_come_from_the_backend_breakdown(availability_catalog: CatalogBackend) -> None:
    """Where a backend breaks the day's count down by product type, each record carries it."""

    class WithBreakdown:
        name = "catalog with a per-type breakdown"

        def list_sources(self, **kwargs: Any) -> list[DataSource]:
            return availability_catalog.list_sources(**kwargs)

        def availability(self, start: date, end: date, **kwargs: Any) -> list[Availability]:
            out = []
            for item in availability_catalog.availability(start, end, **kwargs):
                by_type = {}
                for day in item.available_data_products:
                    found = availability_catalog.search(
                        aurorax_core.build_query(
                            f"{day}T00:00:00",
                            f"{day}T23:59:59",
                            programs=[item.data_source.program],
                            platforms=[item.data_source.platform],
                            instrument_types=[item.data_source.instrument_type],
                        )
                    )
                    kinds: dict[str, int] = {}
                    for product in found.data:
                        kinds[product.data_product_type] = kinds.get(product.data_product_type, 0) + 1
                    by_type[day] = kinds
                out.append(Availability(item.data_source, item.available_data_products, by_type))
            return out

        def search(self, *_: Any, **__: Any) -> Any:
            raise NotImplementedError

        def describe(self, *_: Any) -> str:
            return ""

        def close(self) -> None:
            pass

    report = aurorax_core.availability(
        date(2020, 12, 20),
        date(2020, 12, 21),
        platform="longyearbyen",
        backend=WithBreakdown(),  # type: ignore[arg-type]
    )
    assert report[0].counts_by_type == {"keogram": 20, "movie": 1}
    assert report[1].counts_by_type == {}
    monthly = aurorax_core.availability(
        date(2020, 12, 1),
        date(2020, 12, 31),
        platform="longyearbyen",
        by="month",
        backend=WithBreakdown(),  # type: ignore[arg-type]
    )
    assert monthly[0].counts_by_type == {"keogram": 20, "movie": 1}


def test_over_the_aurorax_api_the_same_answers_as_the_catalog(
    availability_catalog: CatalogBackend, availability_server: str
) -> None:
    remote = RemoteBackend(availability_server)
    try:
        for start, end in ((date(2020, 1, 1), date(2020, 1, 10)), (date(2020, 12, 19), date(2020, 12, 22))):
            over_http = aurorax_core.availability(start, end, backend=remote)
            local = aurorax_core.availability(start, end, backend=availability_catalog)
            strip = [(r.identifier, r.date, r.count, r.expected_hours, r.status) for r in local]
            assert [(r.identifier, r.date, r.count, r.expected_hours, r.status) for r in over_http] == strip
        statuses = {r.status for r in aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 10), backend=remote)}
        assert {"present", "partial", "missing", "absent", "unknown"} <= statuses
        with pytest.raises(QueryValidationError, match="no data source matches program='nope'"):
            aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 2), program="nope", backend=remote)
    finally:
        remote.close()
    # a URL works as the backend argument too (opened and closed by the call)
    by_url = aurorax_core.availability(date(2020, 1, 5), date(2020, 1, 5), program="trex", backend=availability_server)
    assert [(r.count, r.status) for r in by_url] == [(0, "missing")]


def test_every_day_of_a_year_for_every_source(availability_catalog: CatalogBackend) -> None:
    report = aurorax_core.availability(date(2020, 1, 1), date(2020, 12, 31), backend=availability_catalog)
    assert len(report) == 6 * 366
    gillam = [r.date for r in report if r.identifier == 103]
    assert gillam == [date(2020, 1, 1) + timedelta(days=i) for i in range(366)]


def test_site_coordinates_from_metadata_then_the_bundled_sites() -> None:
    own = DataSource(80, "rego", "longyearbyen", "redline ASI", metadata={"latitude": "70.5", "longitude": 200.0})
    assert aurorax_core.site_coordinates(own) == (70.5, -160.0)  # the source's own record wins, wrapped to ±180
    assert aurorax_core.site_coordinates(DataSource(80, "rego", "longyearbyen", "redline ASI")) == (78.15, 16.04)
    # an instrument the bundled table does not list, at a known platform: the platform's site
    assert aurorax_core.site_coordinates(DataSource(9999, "new-program", "gillam", "RGB ASI")) == (56.38, -94.64)
    assert aurorax_core.site_coordinates(DataSource(400, "test-program", "test-platform", "x")) is None


def test_the_demo_archive_images_only_when_the_shared_sun_model_says_it_is_dark(tmp_path: Any) -> None:
    """The demo archive generates its nights from aurorax_core.sky: around the June solstice no ground
    imager has products on a day without dark sky, and the high-latitude sites have none at all."""
    from aurorax_core.demo import build_demo_archive

    path = tmp_path / "june.sqlite"
    build_demo_archive(path, date(2020, 6, 18), date(2020, 6, 24))
    report = aurorax_core.availability(date(2020, 6, 18), date(2020, 6, 24), source_type="ground", backend=str(path))
    with_products = [r for r in report if r.count and r.expected_hours is not None]
    assert with_products  # the southern sites still get a short night
    assert all(r.expected_hours > 0 for r in with_products)
    assert all(r.status in ("present", "partial") for r in with_products)
    high = [r for r in report if r.platform in ("fort smith", "inuvik", "resolute bay", "longyearbyen")]
    imagers = [r for r in high if r.instrument_type != "ISR"]
    assert imagers and all((r.count, r.status) == (0, "not_expected") for r in imagers)
    assert {r.status for r in high if r.instrument_type == "ISR"} == {"absent"}  # RISR-N needs no dark sky


class _FixedCounts:
    """A backend whose availability answer is given: for the shapes a third-party backend may send."""

    name = "fixed-answer test backend"

    def __init__(self, per_day: dict[str, int]) -> None:
        self.source = DataSource(103, "trex", "gillam", "RGB ASI", "ground", "TREx RGB GILL")
        self.per_day = per_day

    def list_sources(self, **_: Any) -> list[DataSource]:
        return [self.source]

    def availability(self, *_: Any, **__: Any) -> list[Availability]:
        return [Availability(self.source, self.per_day)]

    def search(self, *_: Any, **__: Any) -> Any:
        raise NotImplementedError

    def describe(self, *_: Any) -> str:
        return ""

    def close(self) -> None:
        pass


def test_day_labels_with_times_are_read_and_non_dates_are_a_clear_backend_error() -> None:
    backend = _FixedCounts({"2020-01-01T00:00:00": 5, "2020-01-03T00:00:00.000": 7, "2019-12-31": 9})
    report = aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 3), backend=backend)  # type: ignore[arg-type]
    assert [(r.count, r.status) for r in report] == [(5, "present"), (0, "missing"), (7, "present")]
    with pytest.raises(BackendError, match="names a day 'Jan 5' that is not a YYYY-MM-DD date"):
        aurorax_core.availability(date(2020, 1, 1), date(2020, 1, 3), backend=_FixedCounts({"Jan 5": 1}))  # type: ignore[arg-type]
