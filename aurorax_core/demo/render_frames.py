"""All-sky frames: the fisheye projection, stars, montages and the frames of movies."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image, ImageDraw

from . import render_sky as sky_model
from .render_context import (
    SYNTHETIC_MARK,
    Kind,
    _cloud_cover,
    _compose,
    _Ctx,
    _font,
    _hours_since,
    _imaging_mask,
    _mark,
    _night,
    _nights_for,
    _thumbnail,
    _to_u8,
)
from .render_keogram import _keogram_span
from .render_sky import F, Site, View, night_of, seed_of

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
