"""Summary plots (a network's stacked keograms, the spectrograph's summary) and availability charts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image, ImageDraw

from .render_context import _NETWORKS, _SITES, _asset_sites, _Ctx, _font, _imaging_mask, _mark
from .render_keogram import _column_times, _keogram_array, _keogram_span, _spectrogram_array, _zenith_means
from .render_sky import Site, seed_of

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
