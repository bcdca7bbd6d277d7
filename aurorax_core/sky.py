"""Where the sun is, and when a site is dark enough to image (NOAA solar-position equations).

One shared piece of the core: the demo archive generates imaging nights from it, and availability
(:mod:`aurorax_core.availability_status`) uses it to tell a missing night from a night on which
nothing was expected.

* ``expected_imaging(day, latitude, longitude, threshold=-12)`` -> :class:`ExpectedImaging`: the
  windows of UT day ``day`` in which the sun is below ``threshold`` (an all-sky imager can run),
  and their hours; 24 h in polar night, none under the midnight sun.
* ``expected_hours(first_day, n_days, latitude, longitude, threshold=-12)``: the same hours for many
  consecutive days at once (numpy), for availability over years.
* ``dark_interval`` / ``dark_minutes``: the night centred on one solar midnight (dusk to dawn).

The equations are the ones of the NOAA Solar Calculator spreadsheet (Meeus, *Astronomical
Algorithms*): accurate to about a minute of time for the twilight times used here. Elevations are
geometric (no refraction): the imaging threshold is -12° (nautical dusk), where refraction is
irrelevant; for sunrise/sunset pass ``threshold=-0.833`` (refraction and the sun's radius).

All functions take and return UTC. Longitudes are degrees east (negative west), latitudes degrees
north.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final

import numpy as np

from .errors import QueryValidationError

# The sun's elevation below which an all-sky imager records: nautical dusk. UCalgary does not
# publish its schedules; -12° reproduces the real example record (TREx RGB GILL 2020-01-01 imaged
# 2019-12-31T23:30 .. 2020-01-01T13:16; this gives 23:26 .. 13:09) and the hour counts of the real
# catalogue (15 hourly keograms at GILL that day).
IMAGING_SUN_ELEVATION: Final = -12.0

_J2000: Final = 2451545.0
_UNIX_EPOCH_JD: Final = 2440587.5
_DEG: Final = math.pi / 180.0


def julian_day(when: datetime) -> float:
    """The Julian day of an aware (or naive = UTC) datetime."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _UNIX_EPOCH_JD + when.timestamp() / 86400.0


def _sun_terms(jd: float) -> tuple[float, float]:
    """(declination in degrees, equation of time in minutes) at Julian day ``jd``."""
    decl, eot = _sun_terms_np(np.asarray(jd, dtype=float))
    return float(decl), float(eot)


def declination(when: datetime) -> float:
    """The sun's apparent declination in degrees."""
    return _sun_terms(julian_day(when))[0]


def equation_of_time(when: datetime) -> float:
    """Apparent minus mean solar time, in minutes (e.g. about -14 in mid February)."""
    return _sun_terms(julian_day(when))[1]


def solar_elevation(when: datetime, latitude: float, longitude: float) -> float:
    """The sun's geometric elevation above the horizon in degrees (no refraction)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    decl, eot = _sun_terms(julian_day(when))
    utc = when.astimezone(UTC)
    minutes = utc.hour * 60 + utc.minute + utc.second / 60.0 + utc.microsecond / 6e7
    true_solar_minutes = (minutes + eot + 4.0 * longitude) % 1440.0
    hour_angle = true_solar_minutes / 4.0 - 180.0
    lat, dec, ha = latitude * _DEG, decl * _DEG, hour_angle * _DEG
    cos_zenith = math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(ha)
    return 90.0 - math.acos(max(-1.0, min(1.0, cos_zenith))) / _DEG


def solar_midnight(day: date, longitude: float) -> datetime:
    """The local solar midnight that falls inside UT day ``day`` (there is exactly one, give or take
    a minute at the date line)."""
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    eot = _sun_terms(julian_day(base + timedelta(hours=12)))[1]
    minutes = (-4.0 * longitude - eot) % 1440.0
    return base + timedelta(minutes=minutes)


def _half_night_minutes(decl: float, latitude: float, threshold: float) -> float | None:
    """Minutes from solar midnight to the threshold crossing; None when never dark, 720 when never light."""
    lat, dec = latitude * _DEG, decl * _DEG
    denominator = math.cos(lat) * math.cos(dec)
    if abs(denominator) < 1e-12:  # at a pole: the sun's elevation is constant through the day
        return 720.0 if math.sin(lat) * math.sin(dec) < math.sin(threshold * _DEG) else None
    cos_h0 = (math.sin(threshold * _DEG) - math.sin(lat) * math.sin(dec)) / denominator
    if cos_h0 >= 1.0:  # the sun stays below the threshold all day
        return 720.0
    if cos_h0 <= -1.0:  # the sun never gets that low
        return None
    noon_angle = math.acos(cos_h0) / _DEG  # hour angle from noon, degrees
    return (180.0 - noon_angle) * 4.0


@dataclass(frozen=True, slots=True)
class DarkInterval:
    """The night centred on one solar midnight: from dusk to dawn at the imaging threshold."""

    start: datetime
    end: datetime
    midnight: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


def dark_interval(
    day: date, latitude: float, longitude: float, threshold: float = IMAGING_SUN_ELEVATION
) -> DarkInterval | None:
    """The night whose solar midnight falls in UT day ``day``, or None when it never gets dark.

    Dusk and dawn are found separately (declination and equation of time at each), so a night is
    slightly asymmetric as in reality. When the sun stays below the threshold all day (polar night)
    the night runs from one solar noon to the next, so that consecutive nights abut.
    """
    midnight = solar_midnight(day, longitude)
    decl = _sun_terms(julian_day(midnight))[0]
    half = _half_night_minutes(decl, latitude, threshold)
    if half is None:
        return None
    if half >= 720.0:
        return DarkInterval(midnight - timedelta(minutes=720), midnight + timedelta(minutes=720), midnight)
    edges = []
    for sign in (-1.0, 1.0):
        estimate = midnight + timedelta(minutes=sign * half)
        side_decl, side_eot = _sun_terms(julian_day(estimate))
        side_half = _half_night_minutes(side_decl, latitude, threshold)
        if side_half is None:  # the threshold is only just reached: keep the midnight estimate
            side_half = half
        side_half = min(side_half, 720.0)
        # The solar midnight itself moves with the equation of time between midnight and the edge.
        eot_at_midnight = _sun_terms(julian_day(midnight))[1]
        edges.append(midnight + timedelta(minutes=sign * side_half - (side_eot - eot_at_midnight)))
    return DarkInterval(edges[0], edges[1], midnight)


SunTerms = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def dark_minutes(
    first_day: date,
    n_days: int,
    latitude: float,
    longitude: float,
    threshold: float = IMAGING_SUN_ELEVATION,
    *,
    sun_terms: SunTerms | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dark_interval` for ``n_days`` consecutive days at once (numpy), for bulk generation.

    Returns ``(start, end)``: float arrays of minutes since the Unix epoch (UTC), NaN where it
    never gets dark. Element ``i`` is the night whose solar midnight falls on ``first_day + i``.
    ``sun_terms``: (declination, equation of time) at Julian days; the full equations by default.
    """
    terms = sun_terms or _sun_terms_np
    base_minutes = (first_day - date(1970, 1, 1)).days * 1440.0
    day_minutes = base_minutes + np.arange(n_days, dtype=float) * 1440.0
    eot_noon = terms(_UNIX_EPOCH_JD + (day_minutes + 720.0) / 1440.0)[1]
    midnight = day_minutes + np.mod(-4.0 * longitude - eot_noon, 1440.0)
    decl_mid, eot_mid = terms(_UNIX_EPOCH_JD + midnight / 1440.0)
    half = _half_night_np(decl_mid, latitude, threshold)
    polar = half >= 720.0
    edges = []
    for sign in (-1.0, 1.0):
        estimate = midnight + sign * np.nan_to_num(half, nan=0.0)
        side_decl, side_eot = terms(_UNIX_EPOCH_JD + estimate / 1440.0)
        side_half = _half_night_np(side_decl, latitude, threshold)
        side_half = np.where(np.isnan(side_half), half, np.minimum(side_half, 720.0))
        edges.append(midnight + sign * side_half - (side_eot - eot_mid))
    start = np.where(polar, midnight - 720.0, edges[0])
    end = np.where(polar, midnight + 720.0, edges[1])
    never = np.isnan(half)
    return np.where(never, np.nan, start), np.where(never, np.nan, end)


def _sun_terms_np(jd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NOAA's low-precision solar position (declination, equation of time), for arrays of Julian days."""
    t = (jd - _J2000) / 36525.0
    l0 = np.mod(280.46646 + t * (36000.76983 + t * 0.0003032), 360.0)
    m = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    m_rad = m * _DEG
    c = (
        np.sin(m_rad) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + np.sin(2 * m_rad) * (0.019993 - 0.000101 * t)
        + np.sin(3 * m_rad) * 0.000289
    )
    omega = (125.04 - 1934.136 * t) * _DEG
    apparent_long = (l0 + c - 0.00569 - 0.00478 * np.sin(omega)) * _DEG
    eps0 = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    eps = (eps0 + 0.00256 * np.cos(omega)) * _DEG
    decl = np.arcsin(np.sin(eps) * np.sin(apparent_long)) / _DEG
    y = np.tan(eps / 2.0) ** 2
    l0_rad = l0 * _DEG
    eot = (
        4.0
        * (
            y * np.sin(2 * l0_rad)
            - 2 * e * np.sin(m_rad)
            + 4 * e * y * np.sin(m_rad) * np.cos(2 * l0_rad)
            - 0.5 * y * y * np.sin(4 * l0_rad)
            - 1.25 * e * e * np.sin(2 * m_rad)
        )
        / _DEG
    )
    return decl, eot


def _half_night_np(decl: np.ndarray, latitude: float, threshold: float) -> np.ndarray:
    lat, dec = latitude * _DEG, decl * _DEG
    denominator = math.cos(lat) * np.cos(dec)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_h0 = (math.sin(threshold * _DEG) - math.sin(lat) * np.sin(dec)) / denominator
    half = (180.0 - np.arccos(np.clip(cos_h0, -1.0, 1.0)) / _DEG) * 4.0
    half = np.where(cos_h0 >= 1.0, 720.0, half)
    return np.where(cos_h0 <= -1.0, np.nan, half)


@dataclass(frozen=True, slots=True)
class ExpectedImaging:
    """When an all-sky imager at a site could image during one UT day.

    ``windows`` are the parts of ``[day 00:00, day+1 00:00)`` UT with the sun below ``threshold``, in
    time order: usually the end of one night and the start of the next (or one night, for sites near
    UT-midnight's meridian); the whole day in polar night; none under the midnight sun.
    """

    day: date
    latitude: float
    longitude: float
    threshold: float
    windows: tuple[tuple[datetime, datetime], ...]

    @property
    def hours(self) -> float:
        return sum((end - start).total_seconds() for start, end in self.windows) / 3600.0

    @property
    def dark_all_day(self) -> bool:
        """Polar night at this threshold: the sun never rises above it during the day."""
        return self.hours >= 24.0 - 1e-6

    @property
    def no_dark_sky(self) -> bool:
        """The sun never gets below the threshold during the day (midnight sun or bright summer)."""
        return not self.windows


def check_site(latitude: float, longitude: float) -> tuple[float, float]:
    """The coordinates as floats, longitude wrapped to [-180, 180).

    Raises:
        QueryValidationError: a coordinate is not a finite number, or the latitude is outside ±90°.
    """
    for name, value in (("latitude", latitude), ("longitude", longitude)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise QueryValidationError(f"{name} must be a number of degrees, got {value!r}")
    if not -90.0 <= latitude <= 90.0:
        raise QueryValidationError(f"latitude must be between -90 and 90 degrees north, got {latitude!r}")
    return float(latitude), ((float(longitude) + 180.0) % 360.0) - 180.0


def check_threshold(threshold: float) -> float:
    """The sun-elevation threshold as a float.

    Raises:
        QueryValidationError: not a number of degrees strictly between -90 and 90.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not -90.0 < threshold < 90.0:
        raise QueryValidationError(
            f"the sun-elevation threshold must be degrees between -90 and 90 (e.g. -12), got {threshold!r}"
        )
    return float(threshold)


def expected_imaging(
    day: date, latitude: float, longitude: float, threshold: float = IMAGING_SUN_ELEVATION
) -> ExpectedImaging:
    """The windows of UT day ``day`` in which the sun is below ``threshold`` degrees at the site.

    Raises:
        QueryValidationError: bad coordinates or threshold, or ``day`` is not a date.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise QueryValidationError(f"day must be a date like date(2020, 1, 1), got {day!r}")
    latitude, longitude = check_site(latitude, longitude)
    threshold = check_threshold(threshold)
    begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
    finish = begin + timedelta(days=1)
    pieces: list[tuple[datetime, datetime]] = []
    # The nights whose solar midnights fall on the day before, the day, and the day after can reach
    # into this UT day (a night is at most 24 h long, centred on its solar midnight).
    for offset in (-1, 0, 1):
        night = dark_interval(day + timedelta(days=offset), latitude, longitude, threshold)
        if night is None:
            continue
        start, end = max(night.start, begin), min(night.end, finish)
        if end > start:
            pieces.append((start, end))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(pieces):
        # Polar nights abut at solar noon (give or take the equation of time's drift): join them.
        if merged and start <= merged[-1][1] + timedelta(minutes=2):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    if merged and merged[0][0] - begin <= timedelta(minutes=2):
        merged[0] = (begin, merged[0][1])
    if merged and finish - merged[-1][1] <= timedelta(minutes=2):
        merged[-1] = (merged[-1][0], finish)
    return ExpectedImaging(day, latitude, longitude, threshold, tuple(merged))


def expected_hours(
    first_day: date, n_days: int, latitude: float, longitude: float, threshold: float = IMAGING_SUN_ELEVATION
) -> np.ndarray:
    """Hours of UT day ``first_day + i`` with the sun below ``threshold``, for ``i < n_days`` (numpy).

    The same hours as :func:`expected_imaging` (within a minute), computed for all days at once.

    Raises:
        QueryValidationError: bad coordinates, threshold or day count.
    """
    if isinstance(n_days, bool) or not isinstance(n_days, int) or n_days < 0:
        raise QueryValidationError(f"n_days must be a whole number >= 0, got {n_days!r}")
    latitude, longitude = check_site(latitude, longitude)
    threshold = check_threshold(threshold)
    if n_days == 0:
        return np.zeros(0)
    # night k (k = 0 .. n_days + 1) is the one whose solar midnight falls on first_day - 1 + k
    starts, ends = dark_minutes(
        first_day - timedelta(days=1),
        n_days + 2,
        latitude,
        longitude,
        threshold,
        sun_terms=_sun_table(first_day, n_days),
    )
    day0 = (first_day - date(1970, 1, 1)).days * 1440.0
    begins = day0 + np.arange(n_days, dtype=float) * 1440.0
    total = np.zeros(n_days)
    for shift in (0, 1, 2):  # the nights of the day before, the day, the day after
        s, e = starts[shift : shift + n_days], ends[shift : shift + n_days]
        overlap = np.minimum(e, begins + 1440.0) - np.maximum(s, begins)
        total += np.where(np.isnan(overlap), 0.0, np.clip(overlap, 0.0, 1440.0))
    # Polar nights abut at solar noon give or take the equation of time's drift (under a minute a
    # day): a gap that small is an artefact of centring each night on its own midnight, not daylight.
    return np.where(total >= 1438.0, 1440.0, total) / 60.0


@lru_cache(maxsize=8)
def _sun_table(first_day: date, n_days: int) -> SunTerms:
    """The sun's declination and equation of time for a range of days, sampled every 3 hours and
    interpolated: shared by every site of one availability question (dozens of sites over 20 years
    would otherwise evaluate the full equations ~30,000 times each). Both quantities are smooth
    enough that the interpolation is off by under 0.0001° and 0.01 s, far below the equations' own
    accuracy."""
    jd0 = _UNIX_EPOCH_JD + (first_day - date(1970, 1, 1)).days - 3.0
    samples = jd0 + np.arange(0.0, n_days + 7.0, 0.125)
    decl, eot = _sun_terms_np(samples)

    def terms(jd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.interp(jd, samples, decl), np.interp(jd, samples, eot)

    return terms
