"""The solar-position code that decides when a site is dark enough to image."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from aurorax_core.demo.sun import (
    IMAGING_SUN_ELEVATION,
    dark_interval,
    dark_minutes,
    declination,
    equation_of_time,
    solar_elevation,
    solar_midnight,
)

GILLAM = (56.38, -94.64)
FORT_SMITH = (60.03, -111.93)
LONGYEARBYEN = (78.15, 16.04)
RESOLUTE_BAY = (74.7, -94.83)
EUREKA = (79.99, -85.93)  # the sun stays below -12° there around the December solstice
GREENWICH = (51.4769, -0.0005)


def _minutes_apart(a: datetime, b: datetime) -> float:
    return abs((a - b).total_seconds()) / 60.0


@pytest.mark.parametrize(
    ("when", "expected_minutes"),
    [
        # Published extremes of the equation of time (almanac values).
        (datetime(2020, 2, 11, 12, tzinfo=UTC), -14.2),
        (datetime(2020, 5, 14, 12, tzinfo=UTC), 3.65),
        (datetime(2020, 7, 26, 12, tzinfo=UTC), -6.5),
        (datetime(2020, 11, 3, 12, tzinfo=UTC), 16.4),
    ],
)
def test_equation_of_time_matches_almanac_extremes(when: datetime, expected_minutes: float) -> None:
    assert equation_of_time(when) == pytest.approx(expected_minutes, abs=0.2)


def test_declination_at_solstices_and_equinox() -> None:
    assert declination(datetime(2020, 6, 20, 21, 44, tzinfo=UTC)) == pytest.approx(23.44, abs=0.01)
    assert declination(datetime(2020, 12, 21, 10, 2, tzinfo=UTC)) == pytest.approx(-23.44, abs=0.01)
    assert declination(datetime(2020, 3, 20, 3, 50, tzinfo=UTC)) == pytest.approx(0.0, abs=0.02)


def test_noon_elevation_is_ninety_minus_latitude_plus_declination() -> None:
    lat, lon = FORT_SMITH
    noon = solar_midnight(date(2020, 6, 21), lon) + timedelta(hours=12)
    assert solar_elevation(noon, lat, lon) == pytest.approx(90.0 - lat + 23.44, abs=0.05)


def test_greenwich_sunrise_and_sunset_match_published_times() -> None:
    # London, 2020-06-21: sunset (20 June) 21:21 BST = 20:21 UT, sunrise 04:43 BST = 03:43 UT.
    # Sunrise/sunset use the standard -0.833° (refraction + the sun's radius).
    night = dark_interval(date(2020, 6, 21), *GREENWICH, threshold=-0.833)
    assert night is not None
    assert _minutes_apart(night.start, datetime(2020, 6, 20, 20, 21, tzinfo=UTC)) < 2
    assert _minutes_apart(night.end, datetime(2020, 6, 21, 3, 43, tzinfo=UTC)) < 2


def test_gillam_night_matches_the_real_trex_rgb_record() -> None:
    # The real TREx RGB GILL daily keogram of 2020-01-01 imaged 2019-12-31T23:30 .. 2020-01-01T13:16.
    night = dark_interval(date(2020, 1, 1), *GILLAM)
    assert night is not None
    assert _minutes_apart(night.start, datetime(2019, 12, 31, 23, 30, tzinfo=UTC)) < 5
    assert _minutes_apart(night.end, datetime(2020, 1, 1, 13, 16, tzinfo=UTC)) < 5


def test_fort_smith_night_matches_the_real_movie_derived_keogram() -> None:
    # Real FSMI daily_moviederived keogram of 2020-01-01: 00:27 .. 14:38.
    night = dark_interval(date(2020, 1, 1), *FORT_SMITH)
    assert night is not None
    assert _minutes_apart(night.start, datetime(2020, 1, 1, 0, 27, tzinfo=UTC)) < 5
    assert _minutes_apart(night.end, datetime(2020, 1, 1, 14, 38, tzinfo=UTC)) < 5


@pytest.mark.parametrize("site", [GILLAM, FORT_SMITH, LONGYEARBYEN, GREENWICH])
@pytest.mark.parametrize("day", [date(2020, 1, 1), date(2020, 3, 1), date(2020, 10, 15), date(2020, 11, 20)])
def test_the_sun_is_at_the_threshold_at_dusk_and_dawn(site: tuple[float, float], day: date) -> None:
    night = dark_interval(day, *site)
    assert night is not None
    assert solar_elevation(night.start, *site) == pytest.approx(IMAGING_SUN_ELEVATION, abs=0.05)
    assert solar_elevation(night.end, *site) == pytest.approx(IMAGING_SUN_ELEVATION, abs=0.05)
    assert solar_elevation(night.midnight, *site) < IMAGING_SUN_ELEVATION
    assert night.midnight.date() == day


def test_high_latitude_summer_has_no_night_and_polar_winter_is_all_night() -> None:
    assert dark_interval(date(2020, 6, 21), *LONGYEARBYEN) is None
    assert dark_interval(date(2020, 6, 21), 62.52, -114.31) is None  # Yellowknife: too bright at -12°
    polar = dark_interval(date(2019, 12, 21), *EUREKA)
    assert polar is not None and polar.hours == pytest.approx(24.0)
    winter = dark_interval(date(2019, 12, 21), *GILLAM)
    august = dark_interval(date(2020, 8, 21), *GILLAM)
    assert winter is not None and august is not None and august.hours < winter.hours - 6


def test_vectorised_nights_equal_the_scalar_ones() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = date(2019, 6, 1)
    for site in (GILLAM, LONGYEARBYEN, RESOLUTE_BAY, EUREKA):
        starts, ends = dark_minutes(first, 400, *site)
        for i in range(0, 400, 7):
            night = dark_interval(first + timedelta(days=i), *site)
            if night is None:
                assert math.isnan(starts[i]) and math.isnan(ends[i])
            else:
                assert starts[i] == pytest.approx((night.start - epoch).total_seconds() / 60, abs=1e-3)
                assert ends[i] == pytest.approx((night.end - epoch).total_seconds() / 60, abs=1e-3)
