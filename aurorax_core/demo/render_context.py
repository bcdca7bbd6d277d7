"""What every demo preview shares: the record's rendering context (site, instrument colour, imaging
window, seed), the night and weather it belongs to, the tone curve and compositing of emissions into
pixels, fonts, the synthetic mark and the thumbnail shrink. The product renderers build on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import AuroraXCoreError
from ..models import DataProduct, parse_time
from . import render_sky as sky_model
from .render_sky import F, Night, Site, make_night, night_of, seed_of
from .weather import auroral_activity, night_conditions

THUMBNAIL_WIDTH = 240
SYNTHETIC_MARK = "SYNTHETIC DEMO"


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


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _mark(draw: ImageDraw.ImageDraw, size: tuple[int, int], fill: tuple[int, int, int]) -> None:
    font = _font(9)
    w = draw.textlength(SYNTHETIC_MARK, font=font)
    draw.text((size[0] - w - 3, 3), SYNTHETIC_MARK, fill=fill, font=font)


def _thumbnail(img: Image.Image) -> Image.Image:
    width = min(THUMBNAIL_WIDTH, img.width)
    height = max(1, round(img.height * width / img.width))
    thumb = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    return thumb.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)
