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
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image

from ..models import DataProduct

# What each part does: render_context (shared), render_keogram, render_frames (montages, movie frames),
# render_summary, movie_encoding. THUMBNAIL_WIDTH, SYNTHETIC_MARK, MOVIE_* stay importable from here.
from .movie_encoding import MOVIE_FPS, MOVIE_FRAMES, _encode_webm, _ffmpeg_exe
from .render_context import (
    SYNTHETIC_MARK,  # noqa: F401
    THUMBNAIL_WIDTH,
    RenderedImage,
    RenderedMovie,
    RenderError,
    _context,
    _Ctx,
    _thumbnail,
)
from .render_frames import MOVIE_SIZE, _frame_images, _montage_image, _montage_thumbnail, _movie_frames, _poster_time
from .render_keogram import _keogram_array, _keogram_size, _keogram_span
from .render_summary import _availability_image, _summary_image

__all__ = [
    "RenderError",
    "RenderedImage",
    "RenderedMovie",
    "render_movie",
    "render_movie_frames",
    "render_preview",
]


# glibc malloc settings applied at the first render; see _keep_scratch_memory().
_MALLOC_TOP_PAD = 16 * 1024 * 1024
_MALLOC_MMAP_THRESHOLD = 8 * 1024 * 1024
_MALLOC_TRIM_THRESHOLD = 32 * 1024 * 1024
_MALLOC_ENV = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")


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
