"""The sun model that decides when imaging is expected, against published sunrise/sunset, polar-night
and midnight-sun dates for real sites.

Reference values and where they come from (published figures, not computed here):

* Tromsø (69.6492° N, 18.9553° E), English Wikipedia article "Tromsø", section "Light and darkness":
  "By 21 February, the sun is above the horizon from 7:45 am to 4:10 pm and, by 1 April, is above
  the horizon from 5:50 am to 7:50 pm (daylight saving time)" (local time: CET = UT+1, CEST = UT+2;
  rounded to 5 minutes, no year given, hence a 10-minute tolerance); "The midnight sun occurs from
  about 18 May to 26 July"; "The sun remains below the horizon during the polar night from about
  26 November to 15 January". arctic.travel ("Midnight sun and polar night"): Tromsø polar night
  November 27 - January 15.
* Longyearbyen (78.2232° N, 15.6267° E), basecampexplorer.com Arctic dictionary, "Polar Night": the
  sun is below the horizon from 26 October and "next time sun reaches above the horizon is on the
  16th of February"; civil polar night (sun 6° or more below the horizon all day) "from approximately
  the 14th of November until the 29th of January"; nautical polar night (12° below) "is limited to
  latitudes above 78° 33′. Longyearbyen is located at 78° 13′, and is just on the border".
  basecampexplorer.com "Midnight Sun": in Longyearbyen "as early as the 19th of April ... On the 23rd
  of August the sun dips below the horizon for the first time". Lonely Planet, "Midnight Sun & Polar
  Night" (Norway): Longyearbyen midnight sun 20 Apr - 21 Aug, polar night 26 Oct - 16 Feb.

Sunrise and sunset are the standard -0.833° (refraction and the sun's radius). Published season
dates differ between sources by a day or two (local horizons, rounding), so the model's first and
last days must fall within 3 days of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aurorax_core import QueryValidationError
from aurorax_core.sky import IMAGING_SUN_ELEVATION, expected_hours, expected_imaging

TROMSO = (69.6492, 18.9553)
LONGYEARBYEN = (78.2232, 15.6267)
SUNRISE = -0.833


def _utc(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def _minutes(a: datetime, b: datetime) -> float:
    return abs((a - b).total_seconds()) / 60.0


@pytest.mark.parametrize(
    ("day", "sunrise_ut", "sunset_ut"),
    [
        (date(2021, 2, 21), (6, 45), (15, 10)),  # 7:45 am / 4:10 pm CET
        (date(2021, 4, 1), (3, 50), (17, 50)),  # 5:50 am / 7:50 pm CEST
    ],
)
def test_tromso_sunrise_and_sunset_match_published_times(
    day: date, sunrise_ut: tuple[int, int], sunset_ut: tuple[int, int]
) -> None:
    window = expected_imaging(day, *TROMSO, threshold=SUNRISE)
    # dark from UT midnight to sunrise, then from sunset to the next UT midnight
    assert len(window.windows) == 2
    (night_end_start, sunrise), (sunset, night_end) = window.windows
    assert night_end_start == _utc(day, 0, 0) and night_end == _utc(day, 0, 0) + timedelta(days=1)
    assert _minutes(sunrise, _utc(day, *sunrise_ut)) <= 10
    assert _minutes(sunset, _utc(day, *sunset_ut)) <= 10
    assert window.hours == pytest.approx(24 - (sunset - sunrise).total_seconds() / 3600)


def _season(site: tuple[float, float], threshold: float, first: date, n_days: int, dark: bool) -> list[date]:
    """The days of [first, first + n_days) that are dark all day (``dark``) or never dark."""
    hours = expected_hours(first, n_days, *site, threshold=threshold)
    return [first + timedelta(days=i) for i in range(n_days) if (hours[i] == 24.0 if dark else hours[i] == 0.0)]


def _within(model: date, published: date, days: int = 3) -> bool:
    return abs((model - published).days) <= days


def test_tromso_polar_night_and_midnight_sun_seasons() -> None:
    polar = _season(TROMSO, SUNRISE, date(2020, 7, 1), 365, dark=True)
    assert _within(polar[0], date(2020, 11, 26)) and _within(polar[0], date(2020, 11, 27))
    assert _within(polar[-1], date(2021, 1, 15))
    assert len(polar) == (polar[-1] - polar[0]).days + 1  # one unbroken season
    midnight_sun = _season(TROMSO, SUNRISE, date(2021, 1, 1), 365, dark=False)
    assert _within(midnight_sun[0], date(2021, 5, 18)) and _within(midnight_sun[-1], date(2021, 7, 26))


def test_longyearbyen_polar_night_civil_polar_night_and_midnight_sun() -> None:
    polar = _season(LONGYEARBYEN, SUNRISE, date(2020, 7, 1), 365, dark=True)
    assert _within(polar[0], date(2020, 10, 26))
    assert _within(polar[-1], date(2021, 2, 15))  # the sun is back above the horizon on 16 February
    civil = _season(LONGYEARBYEN, -6.0, date(2020, 7, 1), 365, dark=True)
    assert _within(civil[0], date(2020, 11, 14)) and _within(civil[-1], date(2021, 1, 29))
    midnight_sun = _season(LONGYEARBYEN, SUNRISE, date(2021, 1, 1), 365, dark=False)
    assert _within(midnight_sun[0], date(2021, 4, 19)) and _within(midnight_sun[0], date(2021, 4, 20))
    assert _within(midnight_sun[-1], date(2021, 8, 22))  # first sunset on 23 August (21 Aug: Lonely Planet)


def test_nautical_polar_night_begins_just_north_of_longyearbyen() -> None:
    # "limited to latitudes above 78° 33′ ... Longyearbyen (78° 13′) is just on the border"
    solstice_year = date(2020, 7, 1)
    at_longyearbyen = expected_hours(solstice_year, 365, *LONGYEARBYEN, threshold=IMAGING_SUN_ELEVATION)
    assert at_longyearbyen.max() < 24.0  # a little light at noon even at the solstice
    assert at_longyearbyen.max() > 20.0
    north = expected_hours(solstice_year, 365, 78.0 + 40 / 60, LONGYEARBYEN[1], threshold=IMAGING_SUN_ELEVATION)
    assert (north == 24.0).sum() > 0


def test_midsummer_at_60_north_has_no_dark_sky_and_midwinter_a_long_night() -> None:
    fort_smith = (60.03, -111.93)
    june = expected_imaging(date(2020, 6, 21), *fort_smith)
    assert june.no_dark_sky and june.hours == 0.0 and june.windows == ()
    january = expected_imaging(date(2020, 1, 15), *fort_smith)
    assert 13.0 < january.hours < 15.0 and not january.dark_all_day


def test_bulk_hours_equal_the_per_day_windows() -> None:
    for site in (TROMSO, LONGYEARBYEN, (56.38, -94.64), (-77.85, 166.67), (64.8, -147.7)):
        first = date(2020, 1, 1)
        bulk = expected_hours(first, 366, *site)
        for i in range(0, 366, 7):
            assert bulk[i] == pytest.approx(expected_imaging(first + timedelta(days=i), *site).hours, abs=0.05)


def test_polar_night_day_is_one_whole_window() -> None:
    day = expected_imaging(date(2020, 12, 21), *LONGYEARBYEN, threshold=SUNRISE)
    assert day.dark_all_day
    assert day.windows == ((_utc(date(2020, 12, 21), 0, 0), _utc(date(2020, 12, 22), 0, 0)),)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((date(2020, 1, 1), 91.0, 0.0), "latitude must be between -90 and 90"),
        ((date(2020, 1, 1), float("nan"), 0.0), "latitude must be a number"),
        ((date(2020, 1, 1), 60.0, "east"), "longitude must be a number"),
        (("2020-01-01", 60.0, 0.0), "day must be a date"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(QueryValidationError, match=message):
        expected_imaging(*args)  # type: ignore[arg-type]
    with pytest.raises(QueryValidationError, match="threshold"):
        expected_imaging(date(2020, 1, 1), 60.0, 0.0, threshold=-120)
    with pytest.raises(QueryValidationError, match="n_days"):
        expected_hours(date(2020, 1, 1), -1, 60.0, 0.0)
