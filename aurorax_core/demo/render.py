"""Deterministic preview images and movies for records of the generated demo archive.

Every demo record (``metadata["demo_synthetic"] is True``) points at a URL that does not exist; its
preview is rendered here instead, from the record alone: same record -> same bytes, no network, safe
to call from many threads. The only state kept between calls is a small memo of per-night models
(deterministic, immutable, at most 16 nights of ~1 MB), which every product of a night shares.

* ``render_preview(product, size="full"|"thumbnail") -> RenderedImage`` (JPEG, or PNG for summary plots).
  Thumbnails (240 px wide) are computed at thumbnail resolution, not shrunk from the full image:
  the same picture for a fraction of the work (a cold dashboard page of 24 needs them fast).
* ``render_movie(product) -> RenderedMovie`` (WebM/VP8 through imageio-ffmpeg's bundled ffmpeg; animated
  WebP through Pillow when ffmpeg is unavailable)
* ``render_movie_frames(product, count=48) -> list[RenderedImage]``

What the images show (see ``render_sky`` for the physics): keograms at the real UCalgary sizes
(daily 720x256, hourly 600x256; time on x, north at the top, full-bleed, white columns where there is
no data, i.e. outside the record's imaging window); montages of circular all-sky frames with UT labels;
summary plots of the network's stacked keograms with axes; movies of the all-sky camera with a time
stamp. Colour follows the instrument: true colour for RGB cameras and DSLRs, greyscale for THEMIS
panchromatic and TREx near-infrared, red for REGO (630.0 nm), blue for TREx Blueline (427.8 nm), and a
greyscale spectrogram (wavelength up the y axis) for the TREx spectrograph.

Montages, summary plots and movie frames carry a small "SYNTHETIC DEMO" mark in a corner. Keograms do
not: the UCalgary keogram standard is full-bleed with no annotation, and the dashboard labels every
demo preview as synthetic wherever it shows one.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import AuroraXCoreError
from ..models import DataProduct, parse_time
from . import render_sky as sky_model
from .render_sky import F, Night, Site, View, make_night, night_of, seed_of
from .weather import auroral_activity, night_conditions

__all__ = [
    "RenderError",
    "RenderedImage",
    "RenderedMovie",
    "render_movie",
    "render_movie_frames",
    "render_preview",
]

THUMBNAIL_WIDTH = 240
SYNTHETIC_MARK = "SYNTHETIC DEMO"

# glibc malloc settings applied at the first render; see _keep_scratch_memory().
_MALLOC_TOP_PAD = 16 * 1024 * 1024
_MALLOC_MMAP_THRESHOLD = 8 * 1024 * 1024
_MALLOC_TRIM_THRESHOLD = 32 * 1024 * 1024
_MALLOC_ENV = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")


class RenderError(AuroraXCoreError):
    """A demo preview could not be rendered (bad record fields, or the movie encoder failed)."""


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """Encoded image bytes with their MIME type and pixel size."""

    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class RenderedMovie:
    """Encoded movie bytes (WebM/VP8, or animated WebP as a fallback) with their geometry."""

    data: bytes
    content_type: str
    width: int
    height: int
    frame_count: int
    fps: int


# ---------------------------------------------------------------------------------------------------
# Record -> rendering context
# ---------------------------------------------------------------------------------------------------

# Site coordinates when neither the record nor the demo assets carry them: the UCalgary observatory
# values (geodetic lat/lon) collected in the team's REAL_DATA.md §1.2 (pyaurorax notebooks, asilib's
# asi_locations.csv, the stored TREx page). Keyed by AuroraX platform name.
_SITES: dict[str, tuple[str, float, float]] = {
    "athabasca": ("ATHA", 54.60, -113.64),
    "chibougamau": ("CHBG", 49.81, -74.42),
    "ekati": ("EKAT", 64.73, -110.67),
    "fort simpson": ("FSIM", 61.76, -121.27),
    "fort smith": ("FSMI", 60.03, -111.93),
    "fort yukon": ("FYKN", 66.56, -145.21),
    "gakona": ("GAKO", 62.41, -145.16),
    "goose bay": ("GBAY", 53.32, -60.46),
    "gillam": ("GILL", 56.38, -94.64),
    "inuvik": ("INUV", 68.41, -133.77),
    "kapuskasing": ("KAPU", 49.39, -82.32),
    "kiana": ("KIAN", 66.97, -160.44),
    "kuujjuaq": ("KUUJ", 58.11, -68.41),
    "mcgrath": ("MCGR", 62.95, -155.60),
    "narsarsuaq": ("NRSQ", 61.16, -45.44),
    "prince george": ("PGEO", 53.76, -122.85),
    "pinawa": ("PINA", 50.26, -95.87),
    "rankin inlet": ("RANK", 62.82, -92.11),
    "snap lake": ("SNAP", 63.56, -110.87),
    "sanikiluaq": ("SNKQ", 56.54, -79.23),
    "taloyoak": ("TALO", 69.54, -93.56),
    "the pas": ("TPAS", 53.99, -100.94),
    "whitehorse": ("WHIT", 60.62, -135.01),
    "yellowknife": ("YKNF", 62.52, -114.31),
    "kaktovik": ("KAKT", 70.13, -143.62),
    "lucky lake": ("LUCK", 51.15, -107.26),
    "longyearbyen": ("LYRN", 78.15, 16.04),
    "resolute bay": ("RESU", 74.70, -94.83),
    "sachs harbour": ("SACH", 71.99, -125.26),
    "rabbit lake": ("RABB", 58.23, -103.68),
    "saskatoon": ("SASK", 52.13, -106.63),  # GUESS: the city (no observatory value was found)
}

# Sites per network, for summary plots (REAL_DATA.md §1.1-1.2).
_NETWORKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("themis-asi", "panchromatic asi"): (
        "athabasca",
        "chibougamau",
        "ekati",
        "fort simpson",
        "fort smith",
        "fort yukon",
        "gakona",
        "goose bay",
        "gillam",
        "inuvik",
        "kapuskasing",
        "kiana",
        "kuujjuaq",
        "mcgrath",
        "narsarsuaq",
        "prince george",
        "pinawa",
        "rankin inlet",
        "snap lake",
        "sanikiluaq",
        "taloyoak",
        "the pas",
        "whitehorse",
        "yellowknife",
    ),
    ("rego", "redline asi"): (
        "athabasca",
        "fort simpson",
        "fort smith",
        "gillam",
        "kaktovik",
        "lucky lake",
        "rankin inlet",
        "resolute bay",
        "sachs harbour",
        "taloyoak",
    ),
    ("trex", "rgb asi"): ("athabasca", "fort smith", "gillam", "lucky lake", "pinawa", "rabbit lake"),
    ("trex", "near-infrared asi"): ("athabasca", "gillam", "lucky lake", "pinawa", "rabbit lake"),
    ("trex", "blueline asi"): ("athabasca", "gillam", "lucky lake", "pinawa", "rabbit lake"),
    ("trex", "spectrograph"): ("lucky lake", "rabbit lake"),
    ("rainbow", "rgb asi"): (
        "athabasca",
        "fort simpson",
        "fort smith",
        "gillam",
        "pinawa",
        "rabbit lake",
        "resolute bay",
        "yellowknife",
    ),
}

Kind = Literal["rgb", "grey", "nir", "red", "blue", "spectrograph", "green_line"]


def _instrument_kind(program: str, instrument_type: str) -> Kind:
    it = instrument_type.lower()
    prog = program.lower()
    if "spectro" in it:
        return "spectrograph"
    if "redline" in it or "630" in it or prog == "rego":
        return "red"
    if "blue" in it or "427" in it:
        return "blue"
    if "infrared" in it or "nir" in it:
        return "nir"
    if "rgb" in it or "dslr" in it or "colour" in it or "color" in it or "observer" in it:
        return "rgb"
    return "grey"


_LAT_KEYS = ("latitude", "lat", "geodetic_latitude", "site_latitude", "geographic_latitude")
_LON_KEYS = ("longitude", "lon", "geodetic_longitude", "site_longitude", "geographic_longitude")


def _float_from(meta: Any, keys: Sequence[str]) -> float | None:
    if not isinstance(meta, dict):
        return None
    for key in keys:
        value = meta.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
    loc = meta.get("location") or meta.get("site")
    if isinstance(loc, dict) and loc is not meta:
        return _float_from(loc, keys)
    return None


def _asset_sites() -> list[Any]:
    """The demo archive's sites (assets/sites.json via demo_sites(), cached there); [] if unavailable."""
    try:
        from .sources import demo_sites

        return list(demo_sites())
    except Exception:  # the renderer must still work without the assets (e.g. a stripped install)
        return []


def _site_of(product: DataProduct) -> Site:
    """The observing site: record metadata, then the demo assets, then the built-in table, then a stable
    pseudo-site (so an unknown platform still renders something plausible)."""
    src = product.data_source
    platform = src.platform.strip().lower()
    words = src.display_name.split()
    code = words[-1] if words else platform[:4].upper()
    for meta in (src.metadata, product.metadata):
        lat, lon = _float_from(meta, _LAT_KEYS), _float_from(meta, _LON_KEYS)
        if lat is not None and lon is not None and -90 <= lat <= 90:
            return Site.at(code, lat, ((lon + 180.0) % 360.0) - 180.0, platform)
    for site in _asset_sites():
        if site.source.platform.lower() == platform:
            return Site.at(code, float(site.latitude), float(site.longitude), platform)
    known = _SITES.get(platform)
    if known is not None:
        return Site.at(code or known[0], known[1], known[2], platform)
    rng = np.random.default_rng(seed_of("aurorax-demo-site", platform))
    return Site.at(code or "SITE", float(rng.uniform(52, 66)), float(rng.uniform(-125, -90)), platform)


@dataclass(frozen=True, slots=True)
class _Ctx:
    product: DataProduct
    site: Site
    kind: Kind
    window: tuple[datetime, datetime] | None
    seed: int

    @property
    def sub_type(self) -> str:
        return (self.product.sub_type or "").lower()


def _context(product: DataProduct) -> _Ctx:
    if not isinstance(product, DataProduct):
        raise RenderError(f"render_preview needs a DataProduct, got {type(product).__name__}")
    start, end = product.start, product.end
    if start.tzinfo is None or end.tzinfo is None:
        raise RenderError(f"record {product.url!r}: start/end must be timezone-aware UTC datetimes")
    if end < start:
        raise RenderError(f"record {product.url!r}: end {end} is before start {start}")
    if not (start.year >= 1900 and end.year <= 2200):
        # the ephemerides and the night bookkeeping (dates +- 1 day) are only meaningful near today
        raise RenderError(f"record {product.url!r}: demo previews cover the years 1900-2200, not {start:%Y}-{end:%Y}")
    window = None
    meta = product.metadata if isinstance(product.metadata, dict) else {}
    raw_s, raw_e = meta.get("imaging_start_time"), meta.get("imaging_end_time")
    if raw_s and raw_e:
        try:
            ws, we = parse_time(str(raw_s)), parse_time(str(raw_e))
        except AuroraXCoreError as exc:
            raise RenderError(f"record {product.url!r}: bad imaging_start_time/imaging_end_time ({exc})") from None
        window = (ws, we) if we >= ws else (we, ws)
        if not (window[0].year >= 1900 and window[1].year <= 2200):
            raise RenderError(f"record {product.url!r}: imaging times outside the years 1900-2200")
    src = product.data_source
    return _Ctx(
        product=product,
        site=_site_of(product),
        kind=_instrument_kind(src.program, src.instrument_type),
        window=window,
        seed=seed_of("aurorax-demo-record", product.url, product.data_product_type, start.isoformat()),
    )


@lru_cache(maxsize=1)
def _keep_scratch_memory() -> bool:
    """Let glibc keep freed numpy temporaries for the next render instead of returning them at once.

    A render allocates and frees ~20 MB of numpy temporaries. With glibc's defaults the freed top of
    the heap is handed back to the system and faulted back in, page by page, by the next render:
    about 40% of a daily keogram's CPU time (15 of ~38 ms) was the kernel doing that. Keeping 16 MB
    at the top of each malloc arena (M_TOP_PAD) removes it. Setting it switches off glibc's
    adaptive thresholds, so they are set too: M_MMAP_THRESHOLD = 8 MB (at the fixed 128 kB default
    every frame-sized array would be a fresh mmap: a movie's kernel time went up 6x) and
    M_TRIM_THRESHOLD = 32 MB (the rendering threads' arenas otherwise shrink after every render).
    Cost: up to 16-32 MB more kept per arena (one per rendering thread; +50 MB peak RSS for a cold
    page of 24 with 6 threads). Process-wide, so it is done once, lazily, at the first render;
    only on glibc; and never over the operator's own malloc tuning (MALLOC_* variables or a
    glibc.malloc tunable in GLIBC_TUNABLES). Returns True when it was applied.
    """
    if any(name in os.environ for name in _MALLOC_ENV) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        import ctypes
        import platform

        if platform.libc_ver()[0] != "glibc":
            return False
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # from malloc.h
        return all(
            libc.mallopt(option, value)
            for option, value in (
                (m_mmap_threshold, _MALLOC_MMAP_THRESHOLD),
                (m_trim_threshold, _MALLOC_TRIM_THRESHOLD),
                (m_top_pad, _MALLOC_TOP_PAD),
            )
        )
    except (OSError, AttributeError, ValueError):  # no libc.so.6 / no mallopt: keep the defaults
        return False


# ---------------------------------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------------------------------


def _hours_since(base: datetime, times: np.ndarray) -> np.ndarray:
    """``times`` are POSIX seconds; returns hours since ``base``."""
    return (times - base.timestamp()) / 3600.0


def _imaging_mask(ctx: _Ctx, times: np.ndarray) -> np.ndarray:
    """True where the camera was imaging: inside the record's window, else when the sun is below -12°."""
    if ctx.window is not None:
        return (times >= ctx.window[0].timestamp()) & (times <= ctx.window[1].timestamp() + 59.0)
    d = (times - datetime(2000, 1, 1, 12, tzinfo=UTC).timestamp()) / 86400.0
    return sky_model.sun_moon(d, ctx.site.lat, ctx.site.lon)["sun_alt"] < -12.0


def _nights_for(times: np.ndarray) -> list[tuple[Night, np.ndarray]]:
    """Group POSIX times by night; returns (night, boolean mask) pairs."""
    keys = np.floor((times + 6 * 3600.0) / 86400.0).astype(np.int64)
    out = []
    for key in np.unique(keys):
        day = night_of(datetime.fromtimestamp(float(key) * 86400.0, tz=UTC))
        out.append((_night(day), keys == key))
    return out


@lru_cache(maxsize=16)
def _night(day: Any) -> Night:
    """The night's model, shared by every product of that night (all sites and product types).

    Deterministic and immutable (a frozen Night; its noise lattice is only read), so caching is safe
    across threads; it costs ~1 ms to build, mostly the 1 MB noise lattice, so 16 nights bound the
    cache at ~16 MB while covering a page of results (one or two nights) many times over.
    """
    # the demo archive's hourly activity sets the night's activity and substorm hour (they agree)
    return make_night(day, auroral_activity(day))


def _cloud_cover(site: Site, times: np.ndarray) -> np.ndarray | None:
    """Cloud fraction at POSIX ``times`` from the demo archive's weather (hourly values, interpolated
    between hour centres), so a cloudy night in the catalogue looks cloudy; None without a platform."""
    if not site.platform:
        return None
    hours = times / 3600.0 - 0.5  # hour centres
    base = np.floor(hours)
    frac = (hours - base).astype(F)
    cache: dict[int, list[float]] = {}

    def cover_at(hour_index: np.ndarray) -> np.ndarray:
        out = np.empty(hour_index.shape, dtype=F)
        days = (hour_index // 24).astype(np.int64)
        for day_key in np.unique(days):
            if day_key not in cache:
                day = datetime.fromtimestamp(float(day_key) * 86400.0, tz=UTC).date()
                cache[int(day_key)] = night_conditions(site.platform, day)["cloud_cover"]
            values = np.asarray(cache[int(day_key)], dtype=F)
            sel = days == day_key
            out[sel] = values[(hour_index[sel] % 24).astype(np.int64)]
        return out

    return cover_at(base) * (1.0 - frac) + cover_at(base + 1) * frac


# ---------------------------------------------------------------------------------------------------
# From emissions to pixels, per instrument
# ---------------------------------------------------------------------------------------------------


def _tone(x: np.ndarray, x0: float, xmax: float) -> np.ndarray:
    """Fixed asinh stretch (like a fixed per-array byte-scaling): quiet nights stay dark."""
    v = np.clip(np.arcsinh(np.maximum(x, 0.0) / x0) / math.asinh(xmax / x0), 0.0, 1.0)
    return v * np.sqrt(np.sqrt(v))  # v**1.25: a little more contrast in the faint mid-tones


def _compose(
    kind: Kind, s: dict[str, np.ndarray], mean_axes: tuple[int, ...], rng: np.random.Generator, grain: float = 1.0
) -> np.ndarray:
    """Mix emissions into the instrument's channels; returns float32 (..., 3) in [0, 1].

    ``grain`` scales the sensor noise: a picture computed on a coarser grid than its full-size
    version (a thumbnail) uses less, as shrinking the full-size picture would have averaged it down.
    """
    g, r, b, p = s["green"], s["red"], s["blue"], s["pink"]
    air, tw, moon, cloud = s["airglow"], s["twilight"], s["moon"], s["cloud"]
    # What clouds reflect: moon and twilight (bluish-grey), the aurora's own light, faint town glow.
    # aurora seen through cloud: forward-scattered (local structure, blurred) plus the sky's overall glow
    lit = 0.7 * g + 0.3 * np.mean(g, axis=mean_axes, keepdims=True) if mean_axes else g
    clear = 1.0 - 0.9 * cloud
    # moon- and twilight-lit cloud: the sky's scattered light (the moon's own glare capped, so its
    # meridian transit does not light a whole keogram column)
    sky_light = np.minimum(moon + tw, 3.0)
    glow = 0.10 + 0.6 * (np.mean(sky_light, axis=mean_axes, keepdims=True) if mean_axes else sky_light)
    if kind == "rgb":
        chans = [
            0.28 * g + 1.2 * r + 0.12 * b + 1.0 * p + 0.05 * air + 0.40 * tw + 0.80 * moon,
            1.00 * g + 0.10 * r + 0.12 * b + 0.3 * p + 0.11 * air + 0.60 * tw + 0.85 * moon,
            0.25 * g + 0.05 * r + 1.00 * b + 0.7 * p + 0.05 * air + 1.00 * tw + 1.00 * moon,
        ]
        cl = [
            cloud * (0.85 * glow + 0.08 * lit + 0.06),
            cloud * (0.90 * glow + 0.30 * lit + 0.05),
            cloud * (1.00 * glow + 0.10 * lit + 0.04),
        ]
        # sensor noise: one float32 field shared by the channels (cheap; it reads as luminance noise)
        noise = rng.standard_normal(np.broadcast_shapes(*(c.shape for c in chans)), dtype=F) * F(0.02 * grain)
        out = [_tone(c * clear + k + noise, 0.8, 35.0) for c, k in zip(chans, cl, strict=True)]
        return np.stack(out, axis=-1).astype(F, copy=False)
    if kind == "grey":
        lum = g + 0.45 * r + 0.6 * b + 0.8 * p + 0.15 * air + 0.8 * tw + 0.9 * moon
        x0, xmax, cl = 1.0, 45.0, cloud * (0.9 * glow + 0.3 * lit + 0.05)
    elif kind == "nir":
        lum = 0.3 * g + 0.9 * p + 0.1 * r + 0.2 * air + 0.5 * tw + 0.9 * moon
        x0, xmax, cl = 0.6, 16.0, cloud * (0.8 * glow + 0.1 * lit + 0.08)
    elif kind == "green_line":  # one emission line, sky background mostly subtracted by the filter
        lum = g + 0.05 * air + 0.3 * tw + 0.3 * moon
        x0, xmax, cl = 0.8, 35.0, cloud * (0.4 * glow + 0.2 * lit + 0.02)
    elif kind == "red":
        lum = r + 0.08 * air + 0.15 * tw + 0.5 * moon
        x0, xmax, cl = 0.5, 14.0, cloud * (0.3 * glow + 0.04 * lit + 0.01)
    else:  # blue
        lum = b + 0.05 * air + 0.6 * tw + 0.6 * moon
        x0, xmax, cl = 0.3, 12.0, cloud * (0.5 * glow + 0.1 * lit + 0.01)
    v = _tone(lum * clear + cl + rng.standard_normal(lum.shape, dtype=F) * F(0.015 * x0 * grain), x0, xmax)
    if kind == "red":  # 630.0 nm: red, bright cores going towards pink-white
        return np.stack([v**0.9, 0.30 * v**2.2, 0.25 * v**2.4], axis=-1).astype(F, copy=False)
    if kind == "blue":  # 427.8 nm
        return np.stack([0.25 * v**2.2, 0.55 * v**1.5, v**0.9], axis=-1).astype(F, copy=False)
    return np.repeat(v[..., None], 3, axis=-1).astype(F, copy=False)


def _to_u8(x: np.ndarray) -> np.ndarray:
    y = np.clip(x, 0.0, 1.0)
    y *= 255.0
    y += 0.5
    return y.astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# Keograms
# ---------------------------------------------------------------------------------------------------

_KEO_ZENITH_EDGE = 88.0  # the keogram's top/bottom rows look this far from zenith (north/south)


def _keogram_geometry(height: int) -> View:
    s = 1.0 - 2.0 * (np.arange(height, dtype=F) + 0.5) / height  # +1 north (top) .. -1 south
    zen = (np.abs(s) * _KEO_ZENITH_EDGE).astype(F)[:, None]
    az = np.where(s >= 0, 0.0, 180.0).astype(F)[:, None]
    return View(zen, az)


def _column_times(t0: datetime, t1: datetime, width: int) -> np.ndarray:
    span = max(60.0, (t1 - t0).total_seconds() + 60.0)  # records end at :59 of the last minute
    return t0.timestamp() + (np.arange(width, dtype=np.float64) + 0.5) * span / width


def _keogram_array(ctx: _Ctx, t0: datetime, t1: datetime, width: int, height: int, grain: float = 1.0) -> np.ndarray:
    """(height, width, 3) uint8: the sky along the meridian, one column per time step, white = no data.

    ``grain``: sensor-noise scale (see :func:`_compose`)."""
    times = _column_times(t0, t1, width)
    imaging = _imaging_mask(ctx, times)
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    if not imaging.any():
        return out
    rng = np.random.default_rng(ctx.seed)
    view = _keogram_geometry(height)
    clouds = _cloud_cover(ctx.site, times)
    # the spectrograph's keogram: 557.7 nm along its meridian slit (its spectra go in summary plots)
    kind: Kind = "green_line" if ctx.kind == "spectrograph" else ctx.kind
    for night, mask in _nights_for(times):
        cols = np.nonzero(mask & imaging)[0]
        if cols.size == 0:
            continue
        t_h = _hours_since(night.midnight, times[cols])[None, :]
        cover = None if clouds is None else clouds[cols][None, :]
        s = sky_model.sky(night, ctx.site, t_h, view, cover)
        # the imaged columns of a night are one run: a slice assigns in place, no fancy indexing
        run = slice(int(cols[0]), int(cols[-1]) + 1) if cols[-1] - cols[0] + 1 == cols.size else cols
        out[:, run] = _to_u8(_compose(kind, s, (0,), rng, grain))
    return out


# Emission lines of the spectrogram (nm, source, factor). Wavelength runs up the y axis.
_SPEC_LINES: tuple[tuple[float, str, float], ...] = (
    (391.4, "blue", 1.6),
    (427.8, "blue", 1.0),
    (470.9, "blue", 0.3),
    (486.1, "hbeta", 1.0),
    (557.7, "green", 1.0),
    (630.0, "red", 1.0),
    (636.4, "red", 0.33),
    (656.3, "hbeta", 2.5),
    (777.4, "green", 0.08),
)


def _zenith_means(ctx: _Ctx, times: np.ndarray, imaging: np.ndarray) -> dict[str, np.ndarray]:
    """Per-time emission brightness averaged over the slit's central part (NaN where not imaging)."""
    # the slit lies along the meridian: average zenith and 15°/35° north and south
    view = View(np.array([[0.0], [15.0], [15.0], [35.0], [35.0]], dtype=F), np.array([[0], [0], [180], [0], [180]], F))
    clouds = _cloud_cover(ctx.site, times)
    keys = ("green", "red", "blue", "pink", "hbeta", "airglow", "twilight", "moon", "cloud")
    out = {k: np.full(times.size, np.nan, dtype=F) for k in keys}
    for night, mask in _nights_for(times):
        cols = np.nonzero(mask & imaging)[0]
        if cols.size == 0:
            continue
        t_h = _hours_since(night.midnight, times[cols])[None, :]
        cover = None if clouds is None else clouds[cols][None, :]
        s = sky_model.sky(night, ctx.site, t_h, view, cover, hbeta=True)
        clear = 1.0 - 0.85 * np.broadcast_to(s["cloud"], (5, cols.size)).mean(axis=0)
        for k in keys:
            v = np.broadcast_to(s[k], (5, cols.size)).mean(axis=0)
            out[k][cols] = v * clear if k in ("green", "red", "blue", "pink", "hbeta") else v
    return out


def _spectrogram_array(means: dict[str, np.ndarray], height: int, rng: np.random.Generator) -> np.ndarray:
    """Spectrogram: time on x, wavelength 380-800 nm up the y axis, greyscale, white where no data.

    Auroral lines, N2 first-positive bands, OH Meinel airglow bands and the twilight/moonlight
    continuum, each scaled by its emission's meridian-averaged brightness.
    """
    width = means["green"].size
    ok = ~np.isnan(means["green"])
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    if not ok.any():
        return out
    m = {k: np.nan_to_num(v)[None, ok] for k, v in means.items()}
    lam = np.linspace(800.0, 380.0, height, dtype=F)[:, None]  # top row = 800 nm
    res = 1.2  # nm, instrument line width
    spec = np.zeros((height, int(ok.sum())), dtype=F)
    for wl, key, factor in _SPEC_LINES:
        spec += factor * m[key] * np.exp(-0.5 * ((lam - wl) / res) ** 2)
    n2 = 0.6 * m["pink"] + 0.08 * m["green"]
    for lo, hi in ((650.0, 690.0), (740.0, 780.0)):
        spec += n2 * smoothstep_band(lam, lo, hi) * (0.6 + 0.4 * np.cos((lam - lo) * 1.3) ** 2)
    spec += 0.06 * m["airglow"] * (smoothstep_band(lam, 725.0, 745.0) + smoothstep_band(lam, 770.0, 800.0))
    spec += 0.18 * m["airglow"] * np.exp(-0.5 * ((lam - 557.7) / res) ** 2)
    spec += (m["twilight"] + m["moon"]) * 0.02 * np.exp(-(((lam - 550.0) / 180.0) ** 2))
    v = _tone(spec + rng.normal(0, 0.004, spec.shape).astype(F), 0.04, 12.0)
    out[:, ok] = _to_u8(np.repeat(v[..., None], 3, axis=-1))
    return out


def smoothstep_band(lam: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A soft-edged band between ``lo`` and ``hi`` nm (used for molecular bands in the spectrogram)."""
    return sky_model.smoothstep(lo - 3.0, lo + 3.0, lam) * (1.0 - sky_model.smoothstep(hi - 3.0, hi + 3.0, lam))


def _keogram_size(sub_type: str) -> tuple[int, int]:
    # REAL_DATA §2.3: daily 720x256, hourly 600x256 (THEMIS files). The hires/200px variants' sizes
    # were not found: GUESS hires = twice the columns, "_200px" = 200 rows.
    width = 600 if "hourly" in sub_type else 720
    if "hires" in sub_type:
        width *= 2
    return width, (200 if "200px" in sub_type else 256)


def _keogram_span(ctx: _Ctx) -> tuple[datetime, datetime]:
    """Daily keograms always cover 00:00-23:59 UT of the record's day; others the record's span."""
    p = ctx.product
    if "daily" in ctx.sub_type or (not ctx.sub_type and (p.end - p.start) > timedelta(hours=6)):
        day = p.start.replace(hour=0, minute=0, second=0, microsecond=0)
        return day, day + timedelta(hours=23, minutes=59)
    return p.start, max(p.end, p.start + timedelta(minutes=1))


# ---------------------------------------------------------------------------------------------------
# All-sky frames, montages, movies
# ---------------------------------------------------------------------------------------------------


def _fisheye(size: int) -> tuple[View, np.ndarray]:
    """Equidistant fisheye, north up and east LEFT (the sky seen from below), as the cameras see it."""
    c = (np.arange(size, dtype=F) + 0.5) / size * 2.0 - 1.0
    px, py = np.meshgrid(c, c)
    r = np.sqrt(px**2 + py**2) / 0.96
    zen = np.clip(r, 0, 1) * 89.5
    az = np.degrees(np.arctan2(-px, -py)) % 360.0
    edge = np.clip((1.0 - r) * size * 0.5, 0.0, 1.0)  # anti-aliased circle
    return View(zen.astype(F)[None], az.astype(F)[None]), edge.astype(F)


def _frames_array(
    ctx: _Ctx,
    times: np.ndarray,
    size: int,
    render_size: int | None = None,
    grain: float = 1.0,
    disc: bool = False,
) -> np.ndarray:
    """(n, size, size, 3) uint8 all-sky frames at POSIX ``times`` (white where not imaging).

    ``render_size`` < ``size`` computes the sky on a coarser grid and upsamples (movies: the sky is
    smooth at that scale, and it makes a 64-frame movie 4x cheaper). ``grain``: sensor-noise scale
    (see :func:`_compose`). ``disc`` evaluates the sky only inside the fisheye circle (thumbnails:
    the black corners are a quarter of the square; the frame means that tint clouds are then taken
    over the sky alone, a shade different from the full-size frames, which keep their exact bytes).
    """
    n = times.size
    final = size
    size = render_size or size
    out = np.full((n, size, size, 3), 255, dtype=np.uint8)
    imaging = _imaging_mask(ctx, times)
    view, edge = _fisheye(size)
    pixel_index = None
    if disc:
        inside = edge > 0.0
        view = View(view.zenith[0][inside][None, None, :], view.azimuth[0][inside][None, None, :])
        edge = edge[inside]
        pixel_index = np.full((size, size), -1, dtype=np.int64)
        pixel_index[inside] = np.arange(edge.size)
    rng = np.random.default_rng(ctx.seed ^ 0x5EED)
    kind: Kind = "rgb" if ctx.kind == "spectrograph" else ctx.kind
    stars = _star_field(ctx)
    clouds = _cloud_cover(ctx.site, times)
    for night, mask in _nights_for(times):
        idx = np.nonzero(mask & imaging)[0]
        # chunks keep the working set small (and the peak memory of a movie bounded); thumbnail-sized
        # frames go in fewer, larger chunks, as the per-call overhead of the sky model dominates there
        per_chunk = 12 if size >= 64 else 100_000 // (size * size)
        for start in range(0, idx.size, per_chunk):
            chunk = idx[start : start + per_chunk]
            t_h = _hours_since(night.midnight, times[chunk])[:, None, None]
            cover = None if clouds is None else clouds[chunk][:, None, None]
            s = sky_model.sky(night, ctx.site, t_h, view, cover)
            _add_stars(s, stars, times[chunk], ctx.site, size, pixel_index)
            if pixel_index is None:
                out[chunk] = _to_u8(_compose(kind, s, (1, 2), rng, grain) * edge[None, :, :, None])
            else:
                block = np.zeros((chunk.size, size, size, 3), dtype=np.uint8)
                block[:, pixel_index >= 0] = _to_u8(_compose(kind, s, (1, 2), rng, grain) * edge[None, None, :, None])[
                    :, 0
                ]
                out[chunk] = block
    if final != size:
        return np.stack([np.asarray(Image.fromarray(f).resize((final, final), Image.Resampling.BICUBIC)) for f in out])
    return out


def _star_field(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed random sky of faint stars (RA, Dec, brightness), the same for every site and record."""
    rng = np.random.default_rng(seed_of("aurorax-demo-stars"))
    n = 260
    ra = rng.uniform(0, 2 * np.pi, n)
    dec = np.arcsin(rng.uniform(-0.2, 1.0, n))
    mag = rng.pareto(1.6, n) * 0.4 + 0.25
    return ra, dec, np.minimum(mag, 4.0)


def _add_stars(
    s: dict[str, np.ndarray],
    stars: tuple[np.ndarray, np.ndarray, np.ndarray],
    times: np.ndarray,
    site: Site,
    size: int,
    pixel_index: np.ndarray | None = None,
) -> None:
    """Stars rotate about the celestial pole with sidereal time; they add to the airglow map.

    ``pixel_index`` (size x size, -1 outside): the sky was computed for these pixels only, as a
    (frames, 1, pixels) list (see ``disc`` in :func:`_frames_array`); None: on the whole square.
    """
    ra, dec, mag = stars
    d = (times - datetime(2000, 1, 1, 12, tzinfo=UTC).timestamp()) / 86400.0
    # every frame's star positions at once (frames x stars), then one scatter-add
    alt, az = sky_model._radec_to_altaz(ra[None, :], dec[None, :], d[:, None], site.lat, site.lon)
    frame = np.broadcast_to(np.arange(times.size)[:, None], alt.shape)
    up = alt > 5.0
    r = (90.0 - alt[up]) / 89.5 * 0.96
    azr = np.radians(az[up])
    x = ((-np.sin(azr) * r + 1.0) * 0.5 * size).astype(np.int64)
    y = ((-np.cos(azr) * r + 1.0) * 0.5 * size).astype(np.int64)
    ok = (x >= 0) & (x < size) & (y >= 0) & (y < size)
    light = (np.broadcast_to(mag[None, :], alt.shape)[up][ok] * 6.0).astype(F)
    if pixel_index is None:
        air = np.broadcast_to(s["airglow"], (times.size, size, size)).copy()
        np.add.at(air, (frame[up][ok], y[ok], x[ok]), light)
    else:
        air = np.broadcast_to(s["airglow"], (times.size, 1, int(pixel_index.max()) + 1)).copy()
        pix = pixel_index[y[ok], x[ok]]
        seen = pix >= 0
        np.add.at(air, (frame[up][ok][seen], 0, pix[seen]), light[seen])
    s["airglow"] = air


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _montage_layout(ctx: _Ctx) -> tuple[np.ndarray, int, int]:
    """Frame times (POSIX), columns, cell size."""
    p = ctx.product
    hourly = "hourly" in ctx.sub_type or (not ctx.sub_type and (p.end - p.start) <= timedelta(hours=2))
    if hourly:
        # one frame a minute: 10 x 6, like the real hourly montages (1-min cadence tiles)
        t0 = p.start.replace(second=0, microsecond=0)
        return t0.timestamp() + 60.0 * np.arange(60) + 30.0, 10, 80
    span = _keogram_span(ctx) if ctx.window is None else ctx.window
    t0, t1 = span
    step = 15 * 60.0
    start = math.floor(t0.timestamp() / step) * step
    times = np.arange(start, t1.timestamp() + 1.0, step) + 0.0
    if times.size > 72:  # long windows: keep the montage a sensible size
        times = times[:: math.ceil(times.size / 72)]
    if times.size == 0:
        times = np.array([t0.timestamp()])
    return times, 12, 64


_MONTAGE_HEADER = 16


def _montage_image(ctx: _Ctx) -> Image.Image:
    """The montage at its full size: frames in a grid under a title line, UT labels on the frames."""
    times, cols, cell = _montage_layout(ctx)
    frames = _frames_array(ctx, times, cell)
    rows = math.ceil(times.size / cols)
    img = Image.new("RGB", (cols * cell, _MONTAGE_HEADER + rows * cell), (0, 0, 0))
    for i, frame in enumerate(frames):
        img.paste(Image.fromarray(frame), ((i % cols) * cell, _MONTAGE_HEADER + (i // cols) * cell))
    _montage_text(ImageDraw.Draw(img), ctx, times, cols, cell, _white_frames(frames), img.size)
    return img


def _white_frames(frames: np.ndarray) -> list[bool]:
    """Which frames are blank (not imaging): their centre pixel is white."""
    c = frames.shape[1] // 2
    return [bool(v) for v in (frames[:, c, c].min(axis=-1) == 255)]


def _montage_text(
    draw: ImageDraw.ImageDraw,
    ctx: _Ctx,
    times: np.ndarray,
    cols: int,
    cell: int,
    white: list[bool],
    size: tuple[int, int],
) -> None:
    """The montage's UT labels, title and synthetic mark, in full-size coordinates."""
    font = _font(9)
    for i, t in enumerate(times):
        x, y = (i % cols) * cell, _MONTAGE_HEADER + (i // cols) * cell
        label = datetime.fromtimestamp(float(t), tz=UTC).strftime("%H:%M")
        draw.text((x + 2, y + cell - 11), label, fill=(90, 90, 90) if white[i] else (235, 235, 235), font=font)
    src = ctx.product.data_source
    day = f"{ctx.product.start:%Y-%m-%d}"
    when = f"{day}  {ctx.product.start:%H} UT" if "hourly" in ctx.sub_type else day
    title = f"{src.display_name or src.platform}  {when}  {ctx.sub_type or 'montage'} montage"
    draw.text((3, 2), title, fill=(230, 230, 230), font=_font(11))
    _mark(draw, size, (255, 190, 60))


def _montage_thumbnail(ctx: _Ctx) -> Image.Image:
    """The montage's thumbnail, built at half the full size and then shrunk to the thumbnail width.

    Frames are computed at half the cell size and tiled with numpy (a thumbnail cell is 20-24 px, so
    more resolution would be averaged away); the text is drawn at full size on a transparent layer
    and box-averaged to half size with its alpha, so it blends as a 2x downscale of the full-size
    montage would.
    """
    times, cols, cell = _montage_layout(ctx)
    half = cell // 2
    # sensor noise as the full-size frames have it after shrinking: half the cell, half the grain
    frames = _frames_array(ctx, times, half, grain=0.5, disc=True)
    rows = math.ceil(times.size / cols)
    grid = np.zeros((rows * cols, half, half, 3), dtype=np.uint8)
    grid[: times.size] = frames
    grid = grid.reshape(rows, cols, half, half, 3).transpose(0, 2, 1, 3, 4).reshape(rows * half, cols * half, 3)
    size = (cols * cell, _MONTAGE_HEADER + rows * cell)
    canvas = np.zeros((size[1] // 2, size[0] // 2, 3), dtype=np.uint8)
    canvas[_MONTAGE_HEADER // 2 :] = grid
    img = Image.fromarray(canvas)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    _montage_text(ImageDraw.Draw(layer), ctx, times, cols, cell, _white_frames(frames), size)
    # Pillow resizes RGBA premultiplied, so the half-size text blends like a 2x downscale would
    layer = layer.resize(img.size, Image.Resampling.BOX)
    img.paste(layer, mask=layer)
    return _thumbnail(img)


def _mark(draw: ImageDraw.ImageDraw, size: tuple[int, int], fill: tuple[int, int, int]) -> None:
    font = _font(9)
    w = draw.textlength(SYNTHETIC_MARK, font=font)
    draw.text((size[0] - w - 3, 3), SYNTHETIC_MARK, fill=fill, font=font)


def _movie_times(ctx: _Ctx, count: int) -> np.ndarray:
    p = ctx.product
    if (ctx.window is not None and "daily" in ctx.sub_type) or (ctx.window is not None and "real-time" in ctx.sub_type):
        t0, t1 = ctx.window
    elif ctx.window is not None:
        t0, t1 = max(ctx.window[0], p.start), min(ctx.window[1], p.end)
        if t1 <= t0:
            t0, t1 = p.start, p.end
    else:
        t0, t1 = p.start, p.end
    span = max(60.0, (t1 - t0).total_seconds())
    return t0.timestamp() + (np.arange(count) + 0.5) * span / count


def _frame_images(
    ctx: _Ctx, times: np.ndarray, size: int, render_size: int | None = None, grain: float = 1.0, disc: bool = False
) -> list[Image.Image]:
    frames = _frames_array(ctx, times, size, render_size, grain, disc)
    font = _font(max(10, size // 26))
    small = _font(max(8, size // 34))
    code = ctx.site.name
    out = []
    for frame, t in zip(frames, times, strict=True):
        img = Image.fromarray(frame)
        draw = ImageDraw.Draw(img)
        if frame[size // 2, size // 2].min() < 255:
            stamp = datetime.fromtimestamp(float(t), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UT")
            draw.text((4, size - font.size - 4), stamp, fill=(235, 235, 235), font=font)
            draw.text((4, 3), code, fill=(235, 235, 235), font=font)
            w = draw.textlength(SYNTHETIC_MARK, font=small)
            draw.text((size - w - 4, 3), SYNTHETIC_MARK, fill=(255, 190, 60), font=small)
            draw.text((size // 2 - 3, 14), "N", fill=(150, 150, 150), font=small)
            draw.text((8, size // 2 - 5), "E", fill=(150, 150, 150), font=small)
        out.append(img)
    return out


MOVIE_SIZE = 320


def _movie_frames(ctx: _Ctx, count: int, size: int = MOVIE_SIZE) -> list[Image.Image]:
    return _frame_images(ctx, _movie_times(ctx, count), size, render_size=size // 2)


def _poster_time(ctx: _Ctx) -> float:
    """The movie's poster: shortly after the night's substorm onset if imaged, else mid-window."""
    times = _movie_times(ctx, 48)
    night = _night(night_of(datetime.fromtimestamp(float(times[len(times) // 2]), tz=UTC)))
    if night.substorms:
        t = night.midnight.timestamp() + (night.substorms[0].onset_h + 0.2) * 3600.0
        if times[0] <= t <= times[-1]:
            return t
    return float(times[len(times) // 2])


# ---------------------------------------------------------------------------------------------------
# Summary plots, other product types
# ---------------------------------------------------------------------------------------------------


def _network_sites(ctx: _Ctx) -> list[Site]:
    """The sites of the record's network (same program and instrument type), north first."""
    src = ctx.product.data_source
    program, itype = src.program.lower(), src.instrument_type.lower()
    sites = [
        Site.at(
            (s.source.display_name.split() or [s.site_uid.upper()])[-1],
            float(s.latitude),
            float(s.longitude),
            s.source.platform.lower(),
        )
        for s in _asset_sites()
        if s.source.program.lower() == program and s.source.instrument_type.lower() == itype
    ]
    if not sites:
        platforms = list(_NETWORKS.get((program, itype), ()))
        sites = [Site.at(_SITES[p][0], _SITES[p][1], _SITES[p][2], p) for p in platforms if p in _SITES]
    if not any(s.platform == ctx.site.platform for s in sites):
        sites.append(ctx.site)
    return sorted(sites, key=lambda s: -s.lat)


def _summary_image(ctx: _Ctx) -> Image.Image:
    """Spectrograph records: the spectrograph summary; others: the network's stacked daily keograms."""
    if ctx.kind == "spectrograph":
        return _spectrograph_summary(ctx)
    src = ctx.product.data_source
    sites = _network_sites(ctx)
    day = ctx.product.start.replace(hour=0, minute=0, second=0, microsecond=0)
    plot_w, panel_h, left, top, bottom, right = 720, 34 if len(sites) > 8 else 56, 58, 34, 34, 12
    height = top + len(sites) * (panel_h + 3) + bottom
    img = Image.new("RGB", (left + plot_w + right, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font, small = _font(12), _font(10)
    for i, site in enumerate(sites):
        # neighbours imaged the same night; each panel uses its own sun-based imaging window
        sub = _Ctx(ctx.product, site, ctx.kind, None, seed_of(ctx.seed, site.name))
        arr = _keogram_array(sub, day, day + timedelta(hours=23, minutes=59), plot_w, panel_h)
        y = top + i * (panel_h + 3)
        img.paste(Image.fromarray(arr), (left, y))
        draw.rectangle((left - 1, y - 1, left + plot_w, y + panel_h), outline=(60, 60, 60))
        draw.text((4, y + panel_h // 2 - 12), site.name, fill=(0, 0, 0), font=font)
        draw.text((4, y + panel_h // 2 + 1), f"{site.lat:.0f}°N", fill=(90, 90, 90), font=small)
    axis_y = top + len(sites) * (panel_h + 3)
    _time_axis(draw, left, plot_w, axis_y, day, day + timedelta(hours=24))
    title = f"{src.program.upper()} {src.instrument_type} keogram summary  {day:%Y-%m-%d}"
    draw.text((left, 8), title, fill=(0, 0, 0), font=_font(14))
    _mark(draw, img.size, (200, 60, 0))
    return img


def _time_axis(draw: ImageDraw.ImageDraw, left: int, width: int, y: int, t0: datetime, t1: datetime) -> None:
    """UT tick marks and labels under a panel spanning ``t0``..``t1``."""
    small = _font(10)
    span_h = (t1 - t0).total_seconds() / 3600.0
    if span_h > 3:
        step, fmt = 3600.0 * (2 if span_h > 12 else 1), "%H"
    else:
        step, fmt = 600.0, "%H:%M"
    first = math.ceil(t0.timestamp() / step) * step
    tick = first
    while tick <= t1.timestamp() + 1:
        x = left + round((tick - t0.timestamp()) / (span_h * 3600.0) * width)
        draw.line((x, y - 2, x, y + 3), fill=(0, 0, 0))
        label = datetime.fromtimestamp(tick, tz=UTC).strftime(fmt)
        draw.text((x - draw.textlength(label, font=small) / 2, y + 5), label, fill=(0, 0, 0), font=small)
        tick += step
    draw.text((left + width // 2 - 20, y + 17), "UT", fill=(0, 0, 0), font=small)


def _spectrograph_summary(ctx: _Ctx) -> Image.Image:
    """Spectrograph summary: spectrogram, 557.7 nm keogram along the slit, line brightness time series."""
    t0, t1 = _keogram_span(ctx)
    plot_w, left, right = 720, 64, 70
    times = _column_times(t0, t1, plot_w)
    imaging = _imaging_mask(ctx, times)
    rng = np.random.default_rng(ctx.seed)
    means = _zenith_means(ctx, times, imaging)
    spec = _spectrogram_array(means, 170, rng)
    keo = _keogram_array(ctx, t0, t1, plot_w, 110)
    plot_h = 120
    tops = (30, 30 + 170 + 10, 30 + 170 + 10 + 110 + 10)
    height = tops[2] + plot_h + 40
    img = Image.new("RGB", (left + plot_w + right, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font, small = _font(11), _font(10)
    img.paste(Image.fromarray(spec), (left, tops[0]))
    img.paste(Image.fromarray(keo), (left, tops[1]))
    for y, h in ((tops[0], 170), (tops[1], 110), (tops[2], plot_h)):
        draw.rectangle((left - 1, y - 1, left + plot_w, y + h), outline=(60, 60, 60))
    for wl in (400, 500, 600, 700, 800):
        y = tops[0] + round((800 - wl) / 420 * 169)
        draw.line((left - 4, y, left - 1, y), fill=(0, 0, 0))
        draw.text((left - 30, y - 6), str(wl), fill=(0, 0, 0), font=small)
    draw.text((4, tops[0] + 70), "nm", fill=(0, 0, 0), font=font)
    draw.text((4, tops[1] + 30), "557.7 nm", fill=(0, 0, 0), font=font)
    draw.text((4, tops[1] + 2), "N", fill=(0, 0, 0), font=small)
    draw.text((4, tops[1] + 96), "S", fill=(0, 0, 0), font=small)
    # line brightness (kR, log scale 0.05-50) for the four classic auroral lines
    lines = (("557.7", "green", (20, 150, 40)), ("630.0", "red", (200, 30, 30)), ("427.8", "blue", (40, 60, 210)))
    lines += (("486.1 H-beta", "hbeta", (150, 60, 170)),)
    lo, hi = math.log10(0.05), math.log10(50.0)
    for decade in (0.1, 1.0, 10.0):
        y = tops[2] + plot_h - round((math.log10(decade) - lo) / (hi - lo) * plot_h)
        draw.line((left, y, left + plot_w - 1, y), fill=(225, 225, 225))
        draw.text((left - 26, y - 6), f"{decade:g}", fill=(0, 0, 0), font=small)
    draw.text((4, tops[2] + 50), "kR", fill=(0, 0, 0), font=font)
    # what a line-integrating spectrograph measures: aurora plus the line's airglow
    airglow_kr = {"green": 0.25, "red": 0.08, "blue": 0.02, "hbeta": 0.005}
    for j, (label, key, colour) in enumerate(lines):
        v = means[key] + airglow_kr[key] * means["airglow"]
        pts = []
        for x in range(plot_w):
            if np.isnan(v[x]):
                if len(pts) > 1:
                    draw.line(pts, fill=colour, width=1)
                pts = []
                continue
            lv = (math.log10(max(float(v[x]), 0.05)) - lo) / (hi - lo)
            pts.append((left + x, tops[2] + plot_h - round(min(lv, 1.0) * (plot_h - 1))))
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=1)
        draw.text((left + plot_w + 6, tops[2] + 6 + 16 * j), label, fill=colour, font=small)
    _time_axis(draw, left, plot_w, tops[2] + plot_h, t0, t1 + timedelta(minutes=1))
    src = ctx.product.data_source
    title = f"{src.display_name or src.platform}  spectrograph summary  {t0:%Y-%m-%d %H:%M}-{t1:%H:%M} UT"
    draw.text((left, 8), title, fill=(0, 0, 0), font=_font(13))
    _mark(draw, img.size, (200, 60, 0))
    return img


def _availability_image(ctx: _Ctx) -> Image.Image:
    """A data-availability bar: imaging hours across the record's span."""
    t0, t1 = ctx.product.start, max(ctx.product.end, ctx.product.start + timedelta(hours=1))
    width = 720
    times = _column_times(t0, t1, width)
    ok = _imaging_mask(ctx, times)
    img = Image.new("RGB", (width + 20, 90), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for x in np.nonzero(ok)[0]:
        draw.line((10 + int(x), 30, 10 + int(x), 60), fill=(40, 120, 60))
    draw.rectangle((9, 29, 10 + width, 61), outline=(0, 0, 0))
    draw.text((10, 8), f"{ctx.product.data_source.display_name} data availability", fill=(0, 0, 0), font=_font(12))
    draw.text((10, 66), f"{t0:%Y-%m-%d %H:%M} UT", fill=(0, 0, 0), font=_font(10))
    end_label = f"{t1:%Y-%m-%d %H:%M} UT"
    draw.text((10 + width - draw.textlength(end_label, font=_font(10)), 66), end_label, fill=(0, 0, 0), font=_font(10))
    _mark(draw, img.size, (200, 60, 0))
    return img


# ---------------------------------------------------------------------------------------------------
# Encoding and the public API
# ---------------------------------------------------------------------------------------------------


def _encode(img: Image.Image, fmt: Literal["JPEG", "PNG"], quality: int = 90) -> RenderedImage:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=quality, optimize=False)
        content_type = "image/jpeg"
    else:
        img.save(buf, "PNG", optimize=False, compress_level=6)
        content_type = "image/png"
    return RenderedImage(buf.getvalue(), content_type, img.width, img.height)


def _as_image(arr: np.ndarray, grey: bool) -> Image.Image:
    # THEMIS / NIR / spectrograph products are greyscale JPEGs like the real .pgm.jpg files
    return Image.fromarray(arr[..., 0]) if grey else Image.fromarray(arr)


def _full_image(ctx: _Ctx) -> tuple[Image.Image, Literal["JPEG", "PNG"]]:
    ptype = ctx.product.data_product_type
    grey = ctx.kind in ("grey", "nir", "spectrograph")
    if ptype == "keogram":
        t0, t1 = _keogram_span(ctx)
        width, height = _keogram_size(ctx.sub_type)
        return _as_image(_keogram_array(ctx, t0, t1, width, height), grey), "JPEG"
    if ptype == "montage":
        return _montage_image(ctx), "JPEG"
    if ptype == "movie":
        return _frame_images(ctx, np.array([_poster_time(ctx)]), MOVIE_SIZE)[0], "JPEG"
    if ptype == "summary_plot":
        return _summary_image(ctx), "PNG"
    if ptype == "data_availability":
        return _availability_image(ctx), "PNG"
    # average / gridded_data / anything else: one all-sky frame at the middle of the record
    return _frame_images(ctx, np.array([_middle(ctx)]), 256)[0], "JPEG"


def _middle(ctx: _Ctx) -> float:
    return (ctx.product.start + (ctx.product.end - ctx.product.start) / 2).timestamp()


def _thumbnail_image(ctx: _Ctx) -> Image.Image:
    """The thumbnail, computed at (about) thumbnail resolution rather than shrunk from the full image.

    The sky model is smooth at thumbnail scale, so evaluating it on the thumbnail's own grid gives
    the same picture (mean difference below 1 grey level) for a fraction of the work: keograms on
    the thumbnail's own pixels, montage frames at half their cell size (a thumbnail cell is 20-24
    px), all-sky frames at the thumbnail size. The sensor noise is scaled down as shrinking the
    full-size picture would have averaged it.
    """
    ptype = ctx.product.data_product_type
    grey = ctx.kind in ("grey", "nir", "spectrograph")
    if ptype == "keogram":
        t0, t1 = _keogram_span(ctx)
        width, height = _keogram_size(ctx.sub_type)
        tw = min(THUMBNAIL_WIDTH, width)
        th = max(1, round(height * tw / width))
        # shrinking k x k pixels into one averages their sensor noise down by k
        grain = math.sqrt(tw * th / (width * height))
        return _as_image(_keogram_array(ctx, t0, t1, tw, th, grain), grey)
    if ptype == "montage":
        return _montage_thumbnail(ctx)
    if ptype == "movie":
        size = min(THUMBNAIL_WIDTH, MOVIE_SIZE)
        return _frame_images(ctx, np.array([_poster_time(ctx)]), size, grain=size / MOVIE_SIZE, disc=True)[0]
    if ptype in ("summary_plot", "data_availability"):
        return _thumbnail(_full_image(ctx)[0])
    return _frame_images(ctx, np.array([_middle(ctx)]), THUMBNAIL_WIDTH, grain=THUMBNAIL_WIDTH / 256, disc=True)[0]


def render_preview(product: DataProduct, *, size: Literal["full", "thumbnail"] = "full") -> RenderedImage:
    """Render the synthetic preview of a demo record.

    ``size="full"``: the product at its real size (JPEG; PNG for summary plots and availability
    charts; a movie's poster frame). ``size="thumbnail"``: about 240 px wide, aspect kept, JPEG q80.

    Raises:
        RenderError: ``product`` is not a DataProduct, its times are inconsistent, its imaging times
            cannot be parsed, or ``size`` is not "full"/"thumbnail".
    """
    if size not in ("full", "thumbnail"):
        raise RenderError(f"size must be 'full' or 'thumbnail', got {size!r}")
    ctx = _context(product)
    _keep_scratch_memory()
    if size == "full":
        return _encode(*_full_image(ctx))
    return _encode(_thumbnail_image(ctx), "JPEG", quality=80)


def _thumbnail(img: Image.Image) -> Image.Image:
    width = min(THUMBNAIL_WIDTH, img.width)
    height = max(1, round(img.height * width / img.width))
    thumb = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    return thumb.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)


def render_movie_frames(product: DataProduct, count: int = 48) -> list[RenderedImage]:
    """The movie's frames as JPEGs (320x320 all-sky images with a UT time stamp).

    Raises:
        RenderError: as :func:`render_preview`, or ``count`` is not between 1 and 600.
    """
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 600:
        raise RenderError(f"count must be an integer between 1 and 600, got {count!r}")
    ctx = _context(product)
    _keep_scratch_memory()
    return [_encode(img, "JPEG", quality=85) for img in _movie_frames(ctx, count)]


MOVIE_FRAMES = 48
MOVIE_FPS = 12


def render_movie(product: DataProduct) -> RenderedMovie:
    """A short all-sky movie of the record's night (or hour) that plays in Chromium.

    WebM/VP8 via imageio-ffmpeg's bundled ffmpeg (deterministic flags: single thread, bitexact);
    animated WebP through Pillow if ffmpeg is not available.

    Raises:
        RenderError: as :func:`render_preview`, or the encoder failed (its message included).
    """
    ctx = _context(product)
    _keep_scratch_memory()
    frames = _movie_frames(ctx, MOVIE_FRAMES)
    exe = _ffmpeg_exe()
    if exe is None:
        buf = io.BytesIO()
        frames[0].save(
            buf, "WEBP", save_all=True, append_images=frames[1:], duration=1000 // MOVIE_FPS, loop=0, quality=70
        )
        return RenderedMovie(buf.getvalue(), "image/webp", MOVIE_SIZE, MOVIE_SIZE, len(frames), MOVIE_FPS)
    return RenderedMovie(_encode_webm(exe, frames), "video/webm", MOVIE_SIZE, MOVIE_SIZE, len(frames), MOVIE_FPS)


def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return shutil.which("ffmpeg")
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return shutil.which("ffmpeg")


def _encode_webm(exe: str, frames: list[Image.Image]) -> bytes:
    raw = b"".join(f.convert("RGB").tobytes() for f in frames)
    w, h = frames[0].size
    with tempfile.TemporaryDirectory(prefix="aurorax-movie-") as tmp:
        path = os.path.join(tmp, "movie.webm")
        cmd = [
            exe,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            str(MOVIE_FPS),
            "-i",
            "pipe:0",
            "-c:v",
            "libvpx",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "700k",
            "-crf",
            "10",
            "-deadline",
            "good",
            "-cpu-used",
            "5",
            "-threads",
            "1",
            "-auto-alt-ref",
            "0",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            "-map_metadata",
            "-1",
            "-an",
            "-f",
            "webm",
            path,
        ]
        try:
            proc = subprocess.run(cmd, input=raw, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"the movie encoder ({exe}) could not run: {exc}") from None
        if proc.returncode != 0 or not os.path.exists(path):
            msg = proc.stderr.decode("utf-8", "replace").strip()[-400:]
            raise RenderError(f"the movie encoder failed (exit {proc.returncode}): {msg}")
        with open(path, "rb") as fh:
            return fh.read()
