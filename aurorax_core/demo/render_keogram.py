"""Keograms and spectrograms (UCalgary keogram standard: time on x, north at the top, full-bleed)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from . import render_sky as sky_model
from .render_context import Kind, _cloud_cover, _compose, _Ctx, _hours_since, _imaging_mask, _nights_for, _to_u8, _tone
from .render_sky import F, View

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
