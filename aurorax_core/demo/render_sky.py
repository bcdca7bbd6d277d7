"""The synthetic night sky behind every demo preview: one auroral "story" per night, seen from any site.

Everything here is a pure, vectorised function of (night, site, time, look direction). The aurora is
defined on a global magnetic grid (magnetic latitude, magnetic longitude, UT), so that the keogram, the
montage and the movie of one site agree with each other, and neighbouring sites see the same arcs, the
same substorm (onset at one UT per date) and the same weather.

The model, in the words an auroral physicist would use (and deliberately simple):

* Geometry. A centred dipole (IGRF-2020 pole 80.65 N, 72.68 W) gives magnetic latitude/longitude;
  magnetic local time is ``12 + (mlon - mlon_subsolar)/15``. For central Canada this puts magnetic
  midnight near 06:30-07:00 UT (Gillam), 05:30 UT further east and 10:30 UT in Alaska, which is what the
  real keograms show. Emission is mapped at 110 km altitude; an equidistant fisheye (zenith angle ∝
  radius) with van Rhijn brightening and extinction towards the horizon.
* The oval. Its equatorward edge sits at about 67° mlat at magnetic midnight on a quiet night, moves
  about 1.25° equatorward per unit of activity and rises towards dusk and dawn, so that evening arcs
  drift equatorward as the site rotates towards midnight; a growth phase pushes them further
  equatorward in the hour before onset.
* The substorm. One onset UT per date (all sites agree), located near 23 MLT at one magnetic longitude;
  a site sees it with an amplitude falling off with its MLT distance from the onset meridian and a
  delay (westward travelling surge). Onset is a sudden brightening of the most equatorward arc, then
  poleward expansion of a bright, structured bulge over 20-40 min, with a pink (N2 1PG) lower border in
  bright events, a red-topped poleward border arc that outlives the bulge, and recovery over ~1 h.
* After midnight: diffuse aurora with patchy, pulsating patches (blinking every few seconds, so the
  daily keogram shows them as speckle) that fade towards dawn.
* Emissions: 557.7 nm (green, discrete aurora), 630.0 nm (red, soft precipitation: broader, dimmer,
  poleward-weighted), 427.8 nm N2+ (blue, about a third of the green, relatively stronger in
  pulsating aurora), N2 1PG (pink lower border), plus airglow, twilight (sun elevation above about
  -18°), the moon (phase and position from low-precision ephemerides) and clouds (a regional cloud
  field seeded by date, so nearby sites have the same weather).

Units are roughly kilo-Rayleighs; only the ratios and the tone mapping in ``render.py`` matter.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

# Centred-dipole pole (IGRF-2020): close enough for "magnetic midnight is ~06:30 UT at Gillam".
_POLE_LAT = math.radians(80.65)
_POLE_LON = math.radians(-72.68)
_RE = 6371.0
_H_AURORA = 110.0  # km, the altitude the keograms and frames are mapped at
_NOISE_N = 256  # periodic value-noise lattice (power of two; 257² float32 stays in the L2 cache)
_KM_PER_DEG = 111.2

F = np.float32


# ---------------------------------------------------------------------------------------------------
# Seeds, noise
# ---------------------------------------------------------------------------------------------------


def seed_of(*parts: object) -> int:
    """A 64-bit seed from the sha256 of the given parts (stable across runs and machines)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def _smooth(x: np.ndarray) -> np.ndarray:
    """x²(3 - 2x) with two temporaries instead of four (same operations, same float32 result)."""
    step = np.multiply(x, -2.0)
    step += 3.0
    out = x * x
    out *= step
    return out


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 (x <= e0) to 1 (x >= e1)."""
    return _smooth(np.clip((x - e0) / (e1 - e0), 0.0, 1.0))


class Noise:
    """Periodic 2-D value noise on a seeded lattice (values in [0, 1], smooth, deterministic)."""

    __slots__ = ("quad",)

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        table = rng.random((_NOISE_N, _NOISE_N), dtype=np.float32)
        # Per lattice cell, the four corners as (v00, v01 - v00, v10, v11 - v10), packed in 16 bytes:
        # one gather per sample instead of four (and no wrap-around arithmetic for the +1 corners).
        right = np.roll(table, -1, axis=1)
        below = np.roll(table, -1, axis=0)
        below_right = np.roll(below, -1, axis=1)
        quad = np.stack([table, right - table, below, below_right - below], axis=-1)
        self.quad = np.ascontiguousarray(quad.reshape(_NOISE_N * _NOISE_N, 4)).view(np.complex128).ravel()

    def __call__(self, u: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
        # float32 keeps 1e-3 lattice precision up to ~1e4 cells, which is all the callers use
        u = np.asarray(u, dtype=F)
        v = np.asarray(v, dtype=F)
        fu = np.floor(u)
        fv = np.floor(v)
        su = _smooth(u - fu)
        sv = _smooth(v - fv)
        mask = _NOISE_N - 1
        # intp indices: np.take would otherwise convert them (a copy) on every call
        row = fv.astype(np.intp)
        row &= mask
        row *= _NOISE_N
        col = fu.astype(np.intp)
        col &= mask
        cell = row + col  # u and v may broadcast against each other
        q = self.quad.take(cell.ravel()).view(np.float32).reshape(-1, 4)
        shape = cell.shape
        top = q[:, 1].reshape(shape) * su
        top += q[:, 0].reshape(shape)
        bot = q[:, 3].reshape(shape) * su
        bot += q[:, 2].reshape(shape)
        bot -= top
        bot *= sv
        bot += top
        return bot

    def fbm(self, u: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
        """Two octaves: enough texture for auroral fine structure and clouds."""
        u = np.asarray(u, dtype=F)
        v = np.asarray(v, dtype=F)
        return 0.64 * self(u, v) + 0.36 * self(u * 2.07 + 71.3, v * 2.07 + 29.9)


# ---------------------------------------------------------------------------------------------------
# Astronomy and geomagnetism (low precision on purpose)
# ---------------------------------------------------------------------------------------------------


def geo_to_mag(lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """Centred-dipole magnetic latitude and longitude (degrees) of a geographic point."""
    lat = math.radians(lat_deg)
    lon = math.radians(lon_deg) - _POLE_LON
    x, y, z = math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)
    # rotate about y so the dipole pole becomes +z
    tilt = math.pi / 2 - _POLE_LAT
    xr = x * math.cos(tilt) - z * math.sin(tilt)
    zr = x * math.sin(tilt) + z * math.cos(tilt)
    return math.degrees(math.asin(max(-1.0, min(1.0, zr)))), math.degrees(math.atan2(y, xr))


def _geo_to_mag_lon(lat: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat_r = np.radians(lat)
    lon = np.radians(lon_deg) - _POLE_LON
    x, y, z = np.cos(lat_r) * np.cos(lon), np.cos(lat_r) * np.sin(lon), np.sin(lat_r)
    tilt = math.pi / 2 - _POLE_LAT
    xr = x * math.cos(tilt) - z * math.sin(tilt)
    return np.degrees(np.arctan2(y, xr))


def _days_j2000(when: datetime) -> float:
    return (when - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() / 86400.0


_OBLIQ = math.radians(23.439)


def _radec_to_altaz(
    ra: np.ndarray, dec: np.ndarray, d: np.ndarray, lat: float, lon: float
) -> tuple[np.ndarray, np.ndarray]:
    gmst = np.radians((280.46061837 + 360.98564736629 * d) % 360.0)
    ha = gmst + math.radians(lon) - ra
    phi = math.radians(lat)
    sin_alt = math.sin(phi) * np.sin(dec) + math.cos(phi) * np.cos(dec) * np.cos(ha)
    alt = np.arcsin(np.clip(sin_alt, -1, 1))
    az = np.arctan2(-np.sin(ha) * np.cos(dec), np.cos(phi) * np.sin(dec) - math.sin(phi) * np.cos(dec) * np.cos(ha))
    return np.degrees(alt), np.degrees(az) % 360.0


def sun_moon(d: np.ndarray, lat: float, lon: float) -> dict[str, np.ndarray]:
    """Sun and moon elevation/azimuth (deg) and moon illuminated fraction at days-since-J2000 ``d``.

    Mean-element ephemerides (errors of a few degrees): enough for twilight and moonlight.
    """
    g = np.radians(357.528 + 0.9856003 * d)
    lam_s = np.radians(280.460 + 0.9856474 * d + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    # moon: mean longitude plus the largest periodic term (evection-free, ~1-2° good)
    mm = np.radians(134.963 + 13.064993 * d)
    lam_m = np.radians(218.316 + 13.176396 * d) + np.radians(6.289) * np.sin(mm)
    beta_m = np.radians(5.128) * np.sin(np.radians(93.272 + 13.229350 * d))
    out: dict[str, np.ndarray] = {}
    for name, lam, beta in (("sun", lam_s, np.zeros_like(lam_s)), ("moon", lam_m, beta_m)):
        ra = np.arctan2(
            np.sin(lam) * math.cos(_OBLIQ) - np.tan(beta) * math.sin(_OBLIQ),
            np.cos(lam),
        )
        dec = np.arcsin(np.sin(beta) * math.cos(_OBLIQ) + np.cos(beta) * math.sin(_OBLIQ) * np.sin(lam))
        alt, az = _radec_to_altaz(ra, dec, d, lat, lon)
        out[f"{name}_alt"], out[f"{name}_az"] = alt, az
    out["moon_illum"] = (1.0 - np.cos(lam_m - lam_s)) / 2.0
    return out


def _subsolar_mlon(d: np.ndarray) -> np.ndarray:
    """Magnetic longitude of the subsolar point (for MLT)."""
    g = np.radians(357.528 + 0.9856003 * d)
    lam = np.radians(280.460 + 0.9856474 * d + 1.915 * np.sin(g))
    dec = np.degrees(np.arcsin(math.sin(_OBLIQ) * np.sin(lam)))
    ut_h = ((d + 0.5) % 1.0) * 24.0
    return _geo_to_mag_lon(dec, 15.0 * (12.0 - ut_h))


# ---------------------------------------------------------------------------------------------------
# Sites and nights
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """An observing site: geographic and centred-dipole magnetic coordinates."""

    name: str
    lat: float
    lon: float
    mlat: float
    mlon: float
    platform: str = ""  # the AuroraX platform ("gillam"): the key of the demo archive's weather

    @classmethod
    def at(cls, name: str, lat: float, lon: float, platform: str = "") -> Site:
        mlat, mlon = geo_to_mag(lat, lon)
        # A centred dipole puts Canadian sites ~1.5° lower than the corrected geomagnetic (CGM) latitudes
        # auroral physicists quote (Gillam: 64.8 dipole vs ~66.3 CGM); shift so the oval sits right.
        return cls(name, lat, lon, mlat + 1.5, mlon, platform)


@dataclass(frozen=True, slots=True)
class Substorm:
    onset_h: float  # hours after the night's date 00 UT; one value for every site on that date
    onset_mlt: float
    amplitude: float  # 0..1.5
    expansion_deg: float  # how far poleward the bulge expands


@dataclass(frozen=True, slots=True)
class Night:
    """Everything random about one night (keyed by the UT date of the night's local evening+morning).

    ``day`` is the UT date whose 00-18 UT part is the night over North America; the evening before
    (18-24 UT of the previous date) belongs to the same night (see :func:`night_of`).
    """

    day: date
    activity: float  # a Kp-like 0..7
    boundary0: float  # equatorward edge of the oval at magnetic midnight, mlat degrees
    arc_offsets: tuple[float, ...]
    arc_widths: tuple[float, ...]
    arc_amps: tuple[float, ...]
    substorms: tuple[Substorm, ...]
    pulsating: float
    cloudiness: float  # regional mean cloud cover scale 0..1 (weather varies by region and hour)
    wind: tuple[float, float]  # cloud drift, km/h east and north
    noise: Noise

    @property
    def midnight(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)


def night_of(when: datetime) -> date:
    """The night a UT instant belongs to: 18 UT (about local noon in Canada) starts the next night."""
    return (when + timedelta(hours=6)).date()


def make_night(day: date, activity_levels: list[float] | None = None) -> Night:
    """The deterministic auroral and weather conditions of one night (the same for every site).

    ``activity_levels`` (24 hourly 0-1 values, the demo archive's ``auroral_activity(day)``) sets the
    activity and the substorm onset hour, so previews agree with the catalogue; without it both are
    drawn from the date's seed.
    """
    rng = np.random.default_rng(seed_of("aurorax-demo-night", day.isoformat()))
    # Kp-like activity: mostly quiet-to-moderate nights, a few storms, some nearly empty nights.
    activity = float(7.0 * rng.beta(1.6, 3.2))
    onset_centre = 6.3
    if activity_levels:
        peak = max(activity_levels)
        activity = 7.0 * max(0.0, peak - 0.05) ** 1.2
        onset_centre = float(int(np.argmax(activity_levels))) + 0.5
    boundary0 = 67.3 - 1.25 * activity + float(rng.normal(0.0, 0.4))
    n_arcs = int(rng.integers(1, 4))
    offsets = [0.25]
    for _ in range(n_arcs - 1):
        offsets.append(offsets[-1] + float(rng.uniform(0.7, 2.0)))
    widths = tuple(float(rng.uniform(0.03, 0.08)) for _ in range(n_arcs))
    amps = tuple(float(rng.uniform(0.5, 1.0)) * (1.0 if i == 0 else 0.7) for i in range(n_arcs))
    substorms: list[Substorm] = []
    if activity > 0.7:
        # Onset UT: magnetic midnight of central Canada ± scatter, so the main show is over Canada.
        onset = float(np.clip(rng.normal(onset_centre, 1.1 if not activity_levels else 0.3), 3.5, 10.5))
        amp = float(np.clip(0.25 + activity / 5.0 + rng.normal(0, 0.15), 0.15, 1.5))
        substorms.append(Substorm(onset, float(rng.normal(23.3, 0.5)), amp, 2.5 + 1.1 * activity))
        if activity > 2.0 and rng.random() < 0.5:
            second = onset + float(rng.uniform(1.5, 3.0))
            substorms.append(Substorm(second, float(rng.normal(0.5, 0.6)), 0.55 * amp, 2.0 + 0.7 * activity))
    # Weather: about half of the nights are clear over a given region; cloud fields move with wind.
    cloudiness = float(np.clip(rng.normal(0.25, 0.45), 0.0, 1.0))
    wind = (float(rng.normal(25.0, 15.0)), float(rng.normal(0.0, 15.0)))
    return Night(
        day=day,
        activity=activity,
        boundary0=boundary0,
        arc_offsets=tuple(offsets),
        arc_widths=widths,
        arc_amps=amps,
        substorms=tuple(substorms),
        pulsating=float(rng.uniform(0.4, 1.0)),
        cloudiness=cloudiness,
        wind=wind,
        noise=Noise(seed_of("aurorax-demo-noise", day.isoformat())),
    )


# ---------------------------------------------------------------------------------------------------
# Viewing geometry
# ---------------------------------------------------------------------------------------------------


def ground_offset_deg(zenith_deg: np.ndarray, height_km: float = _H_AURORA) -> np.ndarray:
    """Great-circle distance (deg) from the site to where a ray at this zenith angle meets the layer."""
    z = np.radians(np.clip(zenith_deg, 0.0, 89.9))
    k = _RE / (_RE + height_km)
    return np.degrees(z - np.arcsin(k * np.sin(z)))


def van_rhijn(zenith_deg: np.ndarray, height_km: float) -> np.ndarray:
    """Path-length brightening of a thin emitting layer seen at a zenith angle."""
    k = _RE / (_RE + height_km)
    s = np.sin(np.radians(np.clip(zenith_deg, 0.0, 89.9)))
    return 1.0 / np.sqrt(1.0 - (k * s) ** 2)


def extinction(zenith_deg: np.ndarray) -> np.ndarray:
    """Atmospheric extinction and the camera's vignetting: the horizon goes dark."""
    z = np.clip(zenith_deg, 0.0, 89.9)
    airmass = 1.0 / (np.cos(np.radians(z)) + 0.025 * np.exp(-11.0 * np.cos(np.radians(z))))
    return np.exp(-0.12 * (airmass - 1.0)) * (1.0 - 0.35 * smoothstep(60.0, 90.0, z))


@dataclass(frozen=True, slots=True)
class View:
    """Look directions (zenith angle, azimuth from north towards east, degrees), any broadcast shape."""

    zenith: np.ndarray
    azimuth: np.ndarray


# ---------------------------------------------------------------------------------------------------
# The aurora
# ---------------------------------------------------------------------------------------------------


def _wrap_h(x: np.ndarray) -> np.ndarray:
    return (x + 12.0) % 24.0 - 12.0


class _Region:
    """Evaluate a term only at the time steps where its gate is non-negligible (a speed-up, not physics).

    Keograms pass time along axis 1 (shape (1, W)), frames along axis 0 (shape (F, 1, 1)); most terms
    (the substorm bulge, pulsating aurora) live in a fraction of the night, so compacting the time
    axis before the per-pixel work roughly halves the cost of a daily keogram.
    """

    __slots__ = ("axis", "shape")

    def __init__(self, shape: tuple[int, ...], t_shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.axis = next((i for i, n in enumerate(t_shape) if n > 1), None)

    def select(self, gate: np.ndarray) -> np.ndarray | slice | bool | None:
        """Indices along the time axis to evaluate; None = all; False = nothing.

        A contiguous run (the usual case: a substorm, the morning sector) comes back as a slice, so
        that ``take`` is a view and ``add`` works in place instead of copying through fancy indexing.
        """
        g = np.asarray(gate)
        if self.axis is None or g.ndim == 0 or g.shape[self.axis] == 1:
            return None if float(g.max()) > 1e-4 else False
        other = tuple(i for i in range(g.ndim) if i != self.axis)
        idx = np.nonzero((g.max(axis=other) if other else g) > 1e-4)[0]
        if idx.size == 0:
            return False
        if idx.size == g.shape[self.axis]:
            return None
        first, last = int(idx[0]), int(idx[-1])
        return slice(first, last + 1) if last - first + 1 == idx.size else idx

    def take(self, a: np.ndarray | float, idx: np.ndarray | slice | None) -> np.ndarray | float:
        if idx is None or self.axis is None or np.ndim(a) == 0 or np.shape(a)[self.axis] == 1:
            return a
        if isinstance(idx, slice):
            return np.asarray(a)[(slice(None),) * self.axis + (idx,)]
        return np.take(a, idx, axis=self.axis)

    def add(self, out: np.ndarray, idx: np.ndarray | slice | None, term: np.ndarray) -> None:
        if idx is None or self.axis is None:
            out += term
        elif isinstance(idx, slice):
            out[(slice(None),) * self.axis + (idx,)] += term
        else:
            ix = (slice(None),) * self.axis + (idx,)
            out[ix] += np.broadcast_to(term, out[ix].shape)


def aurora(
    night: Night,
    t_h: np.ndarray,
    mlat: np.ndarray,
    mlon: np.ndarray,
    spread: np.ndarray | float = 0.0,
    hbeta: bool = True,
) -> dict[str, np.ndarray]:
    """Auroral volume emission rates at (hours after the night's 00 UT, mlat, mlon), broadcast.

    Returns ``green`` (557.7), ``red`` (630.0), ``blue`` (427.8), ``pink`` (N2 1PG lower border),
    ``hbeta`` (proton aurora, for the spectrograph), all in roughly kR. ``spread`` is the north-south
    component of tan(zenith angle) of the look direction (+ poleward of zenith): an arc's 100-150 km tall curtain
    looks thin overhead and tall towards the horizon, its top away from zenith.
    """
    nz = night.noise
    t64 = np.asarray(t_h, dtype=np.float64)
    d = _days_j2000(night.midnight) + t64 / 24.0
    mlt = (12.0 + (mlon - _subsolar_mlon(d).astype(F)) / 15.0) % 24.0
    m = _wrap_h(mlt - 24.0)  # hours from magnetic midnight, negative in the evening
    t_h = t64.astype(F)  # float32 from here on: 10 ms resolution is plenty, and twice as fast
    east_km = mlon * F(_KM_PER_DEG * 0.42)  # ~cos(65°): along-arc distance for structure scales
    k = night.activity
    shape = np.broadcast_shapes(t_h.shape, np.shape(mlat), np.shape(mlon))
    reg = _Region(shape, t_h.shape)
    take = reg.take

    # Equatorward edge of the oval: higher towards dusk/dawn, so evening arcs drift equatorward.
    boundary = night.boundary0 + 3.2 * (1.0 - np.cos(np.pi * m / 12.0))
    night_gate = smoothstep(-8.0, -5.5, m) * (1.0 - smoothstep(5.5, 8.5, m))

    green = np.zeros(shape, dtype=F)
    red = np.zeros_like(green)
    blue_extra = np.zeros_like(green)
    pink = np.zeros_like(green)
    post = np.zeros(np.broadcast_shapes(t_h.shape, np.shape(mlon)), dtype=F)  # 1 well after the main onset
    puls_boost = np.zeros_like(post)
    base = _days_j2000(night.midnight)

    for i, s in enumerate(night.substorms):
        onset_mlon = float(_subsolar_mlon(np.asarray(base + s.onset_h / 24.0))) + (s.onset_mlt - 12.0) * 15.0
        dmlt = _wrap_h((mlon - onset_mlon) / 15.0)
        amp = s.amplitude * np.exp(-0.5 * (dmlt / 2.6) ** 2)
        ts = s.onset_h + 0.13 * np.abs(dmlt)  # westward travelling surge reaches other meridians later
        dt = t_h - ts
        # growth phase: the oval creeps equatorward in the hour before onset, recovers afterwards
        growth = np.where(dt < 0, np.clip((dt + 0.9) / 0.9, 0.0, 1.0), np.exp(-np.clip(dt, 0, None) / 1.4))
        boundary = boundary - 1.6 * amp * growth
        if i == 0:
            post = smoothstep(0.15, 0.8, dt).astype(F)
        puls_boost = puls_boost + amp * smoothstep(0.3, 1.2, dt)
        idx = reg.select((dt > 0) & (dt < 3.8))  # the bulge and its border arc have faded by then
        if idx is False:
            continue
        dtp, a_s, bnd, la, ek = take(dt, idx), take(amp, idx), take(boundary, idx), take(mlat, idx), take(east_km, idx)
        tt = take(t_h, idx)
        env = (1.0 - np.exp(-dtp / 0.025)) * np.exp(-np.clip(dtp - 0.2, 0.0, None) / 0.35)
        env_border = (1.0 - np.exp(-dtp / 0.1)) * np.exp(-np.clip(dtp - 0.4, 0.0, None) / 0.8)
        expansion = s.expansion_deg * (1.0 - np.exp(-dtp / 0.22))
        lo = bnd - 0.6 * a_s * (1.0 - np.exp(-dtp / 0.1))
        hi = bnd + 0.4 + expansion
        inside = (0.5 + 0.5 * np.tanh((la - lo) / 0.24)) * (0.5 + 0.5 * np.tanh((hi - la) / 0.5))
        # folds, rays and surges inside the bulge: fast, fine structure
        # Arcs and folds inside the bulge: east-west elongated (coherent over ~400 km), spread across the
        # bulge so that they fan out poleward as it expands (diagonal streaks in hourly keograms), with
        # rays running along them (flicker in keograms).
        q = np.clip((la - lo) / (hi - lo + 0.1), -0.2, 1.3)
        folds = smoothstep(0.4, 0.8, nz.fbm(tt / 0.25 + ek / 400.0 + 37.0 * i, q * 12.0 + 11.0))
        rays = 0.55 + 0.6 * nz(ek / 25.0 + tt / 0.004 + 3.0 * i, 77.0)
        edge = np.exp(-0.5 * ((la - lo - 0.15) / 0.3) ** 2)
        structure = 0.3 + 1.3 * folds * rays + 0.7 * edge
        peak = 28.0 * a_s * (0.6 + k / 7.0)
        bulge = peak * env * inside * structure
        # onset: the most equatorward arc flares first
        flare = peak * 0.9 * np.exp(-dtp / 0.08) * np.exp(-0.5 * ((la - lo - 0.2) / 0.18) ** 2)
        border = 0.25 * peak * env_border * np.exp(-0.5 * ((la - hi) / 0.22) ** 2)
        reg.add(green, idx, bulge + flare + border)
        # 630.0 nm: long radiative lifetime (~110 s) smears the fine structure: smooth, dimmer
        reg.add(
            red,
            idx,
            0.035 * peak * env * inside + 0.1 * peak * env_border * np.exp(-0.5 * ((la - hi - 0.3) / 0.6) ** 2),
        )
        # pink lower border only in bright events (energetic electrons reach ~90 km)
        lower = np.exp(-0.5 * ((la - lo + 0.05) / 0.12) ** 2)
        reg.add(pink, idx, 0.35 * peak * env * smoothstep(0.4, 0.9, a_s) * lower)

    # Quiet discrete arcs: evening sector until the substorm engulfs them.
    arc_gate = night_gate * (1.0 - smoothstep(0.5, 2.5, m)) * (1.0 - 0.85 * post)
    idx = reg.select(arc_gate)
    if idx is not False:
        arc_scale = 1.2 + 0.9 * k
        tt, ek, bnd, la, gate = (
            take(t_h, idx),
            take(east_km, idx),
            take(boundary, idx),
            take(mlat, idx),
            take(arc_gate, idx),
        )
        sp = take(spread, idx)
        for j, (off, w, a) in enumerate(zip(night.arc_offsets, night.arc_widths, night.arc_amps, strict=True)):
            wobble = 0.35 * (nz(tt / 0.4 + ek / 500.0 + 91.0 * j, 3.0 + 5.0 * j) - 0.5)
            bright = gate * a * arc_scale * (0.45 + 0.8 * nz(tt / 0.2 + ek / 180.0, 40.0 + 7.0 * j))
            x = la - (bnd + off + wobble)
            # sharp lower border towards zenith, the curtain's top spread away from it (by ~40 km x tan z)
            top_side = x * sp > 0
            prof = np.exp(-0.5 * (x / np.where(top_side, w + 0.3 * np.abs(sp), w)) ** 2)
            reg.add(green, idx, bright * prof)
            redness = 0.10 + 0.10 * min(off / 2.0, 1.0)  # poleward arcs: softer electrons, redder tops
            reg.add(red, idx, bright * redness * np.exp(-0.5 * ((x - 0.4 * sp) / (0.25 + 0.4 * np.abs(sp))) ** 2))

    # Diffuse aurora equatorward of the arcs, all night; proton aurora (H-beta) a little further south.
    diffuse = (0.15 + 0.1 * k) * night_gate * np.exp(-0.5 * ((mlat - boundary + 0.5) / 1.0) ** 2)
    green += diffuse
    red += 0.12 * diffuse
    h_beta = (
        0.25 * (0.5 + 0.2 * k) * night_gate * np.exp(-0.5 * ((mlat - boundary + 1.8) / 1.3) ** 2)
        if hbeta
        else np.zeros((1,) * green.ndim, dtype=F)
    )

    # Patchy, pulsating aurora after midnight, stronger after a substorm, fading towards dawn.
    morning = smoothstep(0.0, 1.5, m) * (1.0 - smoothstep(4.5, 7.5, m))
    strength = night.pulsating * (0.4 + 0.25 * k) * (0.3 + puls_boost) * morning
    idx = reg.select(strength)
    if idx is not False:
        tt, ek, bnd, la = take(t_h, idx), take(east_km, idx), take(boundary, idx), take(mlat, idx)
        mm = take(m, idx)
        band = np.exp(-0.5 * ((la - (bnd + 1.6 + 0.25 * np.clip(mm, 0, None))) / 1.0) ** 2)
        patch_field = nz(ek / 70.0 - tt * 6.0, la / 0.45 + 200.0)
        patches = smoothstep(0.42, 0.7, patch_field)
        # Each patch blinks with its own quasi-period (~5-15 s): the blink phase is a smooth field on the
        # patches' own scale, so a patch blinks as a whole; 2-min daily columns are uncorrelated (speckle).
        phase = nz(ek / 70.0 - tt * 6.0 + 50.0, la / 0.45 + 250.0)
        rhythm = tt * F(3600.0 / 8.0) + 9.0 * phase
        blink = smoothstep(0.3, 0.6, nz(rhythm, 5.0 + 6.0 * phase))
        puls = take(strength, idx) * band * (0.12 + 1.1 * patches * (0.4 + 0.6 * blink))
        reg.add(green, idx, puls)
        reg.add(blue_extra, idx, 0.15 * puls)
        reg.add(red, idx, 0.02 * puls)

    blue = 0.3 * green + blue_extra + 0.5 * pink
    return {"green": green, "red": red, "blue": blue.astype(F, copy=False), "pink": pink, "hbeta": h_beta.astype(F)}


# ---------------------------------------------------------------------------------------------------
# The whole sky seen from a site: aurora + airglow + twilight + moon + clouds
# ---------------------------------------------------------------------------------------------------


def sky(
    night: Night,
    site: Site,
    t_h: np.ndarray,
    view: View,
    cloud_cover: np.ndarray | None = None,
    hbeta: bool = False,
) -> dict[str, np.ndarray]:
    """Brightness per emission seen from ``site`` at hours ``t_h`` (after the night's 00 UT) along ``view``.

    Shapes broadcast (e.g. t (1, W) with view (H, 1) for a keogram; t (F, 1, 1) with view (1, S, S) for
    frames). Returns the auroral emissions (``green``, ``red``, ``blue``, ``pink``, ``hbeta``) plus
    ``airglow`` (a multiplier map), ``twilight``, ``moon`` (scattered light), ``cloud`` (cover 0..1) and
    ``cloud_light`` (what the clouds reflect). ``cloud_cover`` (0-1, shaped like ``t_h``) is the
    site's cloud fraction at those times (the demo archive's weather); None uses the night's own
    regional cloud field. ``hbeta`` also computes the proton aurora (only the spectrograph needs it).
    """
    t_h = np.asarray(t_h, dtype=np.float64)
    zen = view.zenith
    az_r = np.radians(view.azimuth)
    alpha = ground_offset_deg(zen)
    dlat = alpha * np.cos(az_r)
    dlon = alpha * np.sin(az_r) / max(0.2, math.cos(math.radians(site.mlat + 0.0)))
    # Magnetic north is taken along geographic north (declination ignored: a few degrees here).
    mlat = (site.mlat + dlat).astype(F)
    # along the meridian (keograms) the magnetic longitude is one value: keep it scalar-shaped so the
    # time-only terms (arc brightness, wobble) are computed per column, not per pixel
    mlon = (
        (site.mlon + dlon).astype(F)
        if np.any(np.abs(dlon) > 1e-6)
        else np.full((1,) * np.ndim(dlon), site.mlon, dtype=F)
    )
    # north-south component of the look direction's tan(zenith): continuous across the sky
    spread = (np.tan(np.radians(np.minimum(zen, 84.0))) * np.cos(az_r)).astype(F)
    out = aurora(night, t_h, mlat, mlon, spread, hbeta)
    geom = (van_rhijn(zen, _H_AURORA) * extinction(zen)).astype(F)
    for key in ("green", "red", "blue", "pink", "hbeta"):
        out[key] = out[key] * geom
    out["airglow"] = (van_rhijn(zen, 95.0) * extinction(zen)).astype(F)

    d = _days_j2000(night.midnight) + t_h / 24.0
    ephem = {k: v.astype(F) for k, v in sun_moon(d, site.lat, site.lon).items()}
    zen_r = np.radians(zen).astype(F)
    az_r = az_r.astype(F)
    ext = extinction(zen).astype(F)
    shape = np.broadcast_shapes(t_h.shape, np.shape(zen))
    reg = _Region(shape, t_h.shape)
    take = reg.take
    # Twilight: ~100x brighter from -18° to -8° sun elevation, brightest low towards the sun. Only the
    # time steps near the ends of the night need the per-pixel work.
    tw_level = 0.1 * np.power(F(10.0), np.clip((ephem["sun_alt"] + 12.0) / 2.6, -6.0, 3.0))
    out["twilight"] = np.zeros((1,) * len(shape), dtype=F)
    idx = reg.select(np.where(tw_level > 1e-3, tw_level, 0.0))
    if idx is not False:
        out["twilight"] = np.zeros(shape, dtype=F)
        towards_sun = np.clip(np.cos(az_r - np.radians(take(ephem["sun_az"], idx))), 0.0, None)
        shape_tw = 0.5 + np.sin(zen_r) ** 2 * (0.6 + 2.2 * towards_sun)
        reg.add(out["twilight"], idx, take(tw_level, idx) * shape_tw * ext)
    # Moonlight: scattered sky glow plus glare around the moon itself, while it is up.
    out["moon"] = np.zeros((1,) * len(shape), dtype=F)
    idx = reg.select((ephem["moon_alt"] > -1.0).astype(F))
    if idx is not False:
        out["moon"] = np.zeros(shape, dtype=F)
        moon_alt = take(ephem["moon_alt"], idx)
        illum = take(ephem["moon_illum"], idx)
        malt = np.radians(moon_alt)
        cos_sep = np.sin(malt) * np.cos(zen_r) + np.cos(malt) * np.sin(zen_r) * np.cos(
            az_r - np.radians(take(ephem["moon_az"], idx))
        )
        # angular distance from the chord (2 sin(sep/2)): no arccos, good to a few % where the glare matters
        sep = np.sqrt(np.maximum(2.0 - 2.0 * cos_sep, 0.0)) * F(57.2958)
        above = (moon_alt > -0.5).astype(F)
        glare = above * (400.0 * np.exp(-sep / 0.6) + 6.0 * np.exp(-sep / 7.0))
        up = np.clip(np.sin(malt), 0.0, None)
        scatter = 1.6 * up**0.6 * (0.6 + 0.8 * np.sin(zen_r) ** 2)
        reg.add(out["moon"], idx, illum**1.5 * (scatter + glare) * ext)
    return _clouds(night, site, t_h, view, out, cloud_cover)


def _clouds(
    night: Night, site: Site, t_h: np.ndarray, view: View, out: dict[str, np.ndarray], cloud_cover: np.ndarray | None
) -> dict[str, np.ndarray]:
    zen, az_r = view.zenith, np.radians(view.azimuth)
    # Clouds at ~4 km: project the look direction onto the cloud deck, advect with the wind.
    out["cloud"] = np.zeros((1,) * max(np.ndim(zen), np.ndim(t_h)), dtype=F)
    if night.cloudiness <= 0.0 and cloud_cover is None:
        return out
    nz = night.noise
    t32 = np.asarray(t_h, dtype=F)
    # regional cover: a slowly varying field over ~1000 km and a few hours, scaled by the night
    if cloud_cover is not None:
        cover = np.asarray(cloud_cover, dtype=F)
    else:
        region = nz(site.lon / 9.0 + t32 / 7.0 + 300.0, site.lat / 6.0 + 300.0)
        cover = np.clip(night.cloudiness * (0.2 + 1.7 * region) - 0.35, 0.0, 1.0)
    if float(np.max(cover)) < 0.15:  # a clear night: the odd wisp is not worth a per-pixel field
        return out
    reach = np.minimum(4.0 * np.tan(np.radians(np.clip(zen, 0, 88.0))), 80.0).astype(F)
    cx = F(site.lon * 111.2 * math.cos(math.radians(site.lat))) + reach * np.sin(az_r).astype(F) - night.wind[0] * t32
    cy = F(site.lat * 111.2) + reach * np.cos(az_r).astype(F) - night.wind[1] * t32
    field = nz.fbm(cx / 30.0 + 500.0, cy / 30.0 + 500.0)
    out["cloud"] = (smoothstep(0.0, 0.22, field - (1.0 - cover) + 0.08) * (cover > 0.01)).astype(F, copy=False)
    return out
