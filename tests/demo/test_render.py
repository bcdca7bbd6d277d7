"""The demo preview renderer: deterministic, real sizes, UCalgary keogram standard, colour per instrument,
movies that decode, clear errors. Pixel checks decode the JPEG/PNG bytes the dashboard would show."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import numpy as np
import pytest
from PIL import Image

from aurorax_core.demo.archive import generate_demo_records
from aurorax_core.demo.render import (
    RenderedImage,
    RenderedMovie,
    RenderError,
    render_movie,
    render_movie_frames,
    render_preview,
)
from aurorax_core.models import DataProduct, DataSource

SOURCES = {
    "rgb": DataSource(103, "trex", "gillam", "RGB ASI", "ground", "TREx RGB GILL"),
    "themis": DataSource(49, "themis-asi", "gillam", "panchromatic ASI", "ground", "THEMIS-ASI GILL"),
    "rego": DataSource(80, "rego", "gillam", "redline ASI", "ground", "REGO GILL"),
    "blue": DataSource(93, "trex", "gillam", "blueline ASI", "ground", "TREx Blue GILL"),
    "nir": DataSource(92, "trex", "gillam", "near-infrared ASI", "ground", "TREx NIR GILL"),
    "spect": DataSource(95, "trex", "lucky lake", "spectrograph", "ground", "TREx Spectrograph LUCK"),
}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def record(
    kind: str,
    ptype: str,
    sub_type: str,
    start: str,
    end: str,
    imaging: tuple[str, str] | None = ("2020-01-05T00:00:00", "2020-01-05T13:00:00"),
    url: str | None = None,
) -> DataProduct:
    meta: dict[str, object] = {"demo_synthetic": True, f"{ptype}_type": sub_type}
    if imaging is not None:
        meta["imaging_start_time"] = imaging[0] + ".000000"
        meta["imaging_end_time"] = imaging[1] + ".000000"
    src = SOURCES[kind]
    return DataProduct(src, ptype, _t(start), _t(end), url or f"https://example.test/{kind}/{ptype}/{start}", meta)


def daily_keogram(kind: str, day: str = "2020-01-05", **kw: object) -> DataProduct:
    return record(kind, "keogram", "daily", f"{day}T00:00:00", f"{day}T23:59:00", **kw)  # type: ignore[arg-type]


def pixels(image: RenderedImage) -> np.ndarray:
    with Image.open(io.BytesIO(image.data)) as img:
        assert img.size == (image.width, image.height)
        return np.asarray(img.convert("RGB"), dtype=np.int32)


# --- determinism and sizes ---------------------------------------------------------------------------


def test_same_record_gives_same_bytes_and_other_records_differ() -> None:
    first = render_preview(daily_keogram("rgb"))
    assert first.data == render_preview(daily_keogram("rgb")).data
    assert first.data != render_preview(daily_keogram("rgb", day="2020-01-06")).data
    assert first.data != render_preview(daily_keogram("themis")).data


def test_rendering_is_thread_safe() -> None:
    records = [daily_keogram("rgb"), daily_keogram("rego"), daily_keogram("rgb"), daily_keogram("rego")]
    expected = [render_preview(r).data for r in records[:2]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda r: render_preview(r).data, records))
    assert results == expected + expected


@pytest.mark.parametrize(
    ("sub_type", "start", "end", "size"),
    [
        ("daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00", (720, 256)),
        ("hourly", "2020-01-05T06:00:00", "2020-01-05T06:59:00", (600, 256)),
    ],
)
@pytest.mark.parametrize("kind", ["rgb", "themis"])
def test_keograms_have_the_real_ucalgary_sizes(
    kind: str, sub_type: str, start: str, end: str, size: tuple[int, int]
) -> None:
    image = render_preview(record(kind, "keogram", sub_type, start, end))
    assert image.content_type == "image/jpeg" and (image.width, image.height) == size
    assert pixels(image).shape == (size[1], size[0], 3)


def test_thumbnail_is_240_wide_small_jpeg_keeping_aspect() -> None:
    thumb = render_preview(daily_keogram("rgb"), size="thumbnail")
    assert thumb.content_type == "image/jpeg" and thumb.width == 240
    assert thumb.height == round(256 * 240 / 720)
    assert len(thumb.data) < 20_000
    assert pixels(thumb).shape == (thumb.height, 240, 3)


# Thumbnails are computed at thumbnail resolution (not shrunk from the full image): they must still show
# the same picture a user sees when opening the full-size preview.
THUMBNAIL_CASES = {
    "daily keogram, true colour": daily_keogram("rgb"),
    "daily keogram, REGO red": daily_keogram("rego"),
    "hourly keogram, THEMIS greyscale": record(
        "themis", "keogram", "hourly", "2020-01-05T05:00:00", "2020-01-05T05:59:00"
    ),
    "hires daily keogram": record("rgb", "keogram", "daily_hires", "2020-01-05T00:00:00", "2020-01-05T23:59:00"),
    "hourly montage (substorm)": record("rgb", "montage", "hourly", "2020-01-05T05:00:00", "2020-01-05T05:59:00"),
    "daily montage": record("themis", "montage", "daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00"),
    "movie poster": record("rgb", "movie", "real-time daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00"),
    "average frame": record("themis", "average", "hourly", "2020-01-05T05:00:00", "2020-01-05T05:59:00"),
}


@pytest.mark.parametrize("name", list(THUMBNAIL_CASES))
def test_thumbnail_shows_the_same_picture_as_the_full_preview(name: str) -> None:
    product = THUMBNAIL_CASES[name]
    full = render_preview(product)
    thumb = render_preview(product, size="thumbnail")
    assert thumb.content_type == "image/jpeg" and thumb.width == 240
    assert thumb.height == round(full.height * 240 / full.width)
    with Image.open(io.BytesIO(full.data)) as big, Image.open(io.BytesIO(thumb.data)) as small:
        assert small.mode == big.mode  # greyscale products keep greyscale thumbnails
        shrunk = np.asarray(big.convert("RGB").resize((thumb.width, thumb.height), Image.Resampling.LANCZOS), float)
    px = pixels(thumb).astype(float)
    # the same structure (where the aurora, the moon, the no-data white are) and the same brightness
    assert np.corrcoef(px.ravel(), shrunk.ravel())[0, 1] > 0.94, name
    assert np.abs(px - shrunk).mean() < 8.0, name
    assert abs(px.mean() - shrunk.mean()) < 3.0, name


def test_thumbnails_are_deterministic_across_threads() -> None:
    products = list(THUMBNAIL_CASES.values())
    expected = [render_preview(p, size="thumbnail").data for p in products]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda p: render_preview(p, size="thumbnail").data, products + products))
    assert results == expected + expected


# --- the keogram standard: white where there is no data -----------------------------------------------


def test_daily_keogram_is_white_outside_the_imaging_window() -> None:
    # imaging 02:00-10:00 UT: 2 minutes per column on a 720-px day
    image = render_preview(daily_keogram("themis", imaging=("2020-01-05T02:00:00", "2020-01-05T10:00:00")))
    px = pixels(image)
    assert (px[:, :58] >= 250).all(), "before imaging_start_time must be white"
    assert (px[:, 303:] >= 250).all(), "after imaging_end_time (daytime) must be white"
    inside = px[:, 65:295]
    assert inside.mean() < 150 and (inside < 250).all(axis=2).mean() > 0.95


def test_keogram_without_any_imaging_is_all_white() -> None:
    image = render_preview(daily_keogram("rgb", imaging=("2020-01-04T20:00:00", "2020-01-04T22:00:00")))
    assert (pixels(image) >= 250).all()


def test_hourly_keogram_starts_white_until_imaging_begins() -> None:
    image = render_preview(
        record(
            "rgb",
            "keogram",
            "hourly",
            "2020-01-04T23:00:00",
            "2020-01-04T23:59:00",
            imaging=("2020-01-04T23:30:00", "2020-01-05T13:00:00"),
        )
    )
    px = pixels(image)
    assert (px[:, :295] >= 250).all() and px[:, 310:].mean() < 150


def test_keogram_is_full_bleed_no_border_or_text() -> None:
    # the standard: no axes, no borders; the edges of the imaged part are sky (dark), not frame lines
    px = pixels(render_preview(daily_keogram("themis")))
    imaged = px[:, 10:380]
    assert imaged[0].mean() < 120 and imaged[-1].mean() < 120 and imaged[:, 0].mean() < 200


# --- colour per instrument ---------------------------------------------------------------------------


def _imaged_means(kind: str) -> np.ndarray:
    px = pixels(render_preview(daily_keogram(kind))).reshape(-1, 3)
    sky = px[(px < 250).any(axis=1)]
    return sky.mean(axis=0)


def test_rego_redline_is_red() -> None:
    r, g, b = _imaged_means("rego")
    assert r > 2.5 * g and r > 2.5 * b


def test_blueline_is_blue() -> None:
    r, g, b = _imaged_means("blue")
    assert b > 1.3 * g and b > 2.0 * r


def test_rgb_camera_shows_green_aurora() -> None:
    r, g, b = _imaged_means("rgb")
    assert g > r and g > b


@pytest.mark.parametrize("kind", ["themis", "nir", "spect"])
def test_panchromatic_nir_and_spectrograph_keograms_are_greyscale(kind: str) -> None:
    image = render_preview(daily_keogram(kind))
    with Image.open(io.BytesIO(image.data)) as img:
        assert img.mode == "L"  # like the real .pgm.jpg files
    px = pixels(image)
    assert (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all()


def test_substorm_hour_is_brighter_than_the_quiet_evening() -> None:
    # 2020-01-05: the demo weather puts the night's activity peak (substorm) at 04-05 UT over Canada
    evening = render_preview(record("themis", "keogram", "hourly", "2020-01-05T03:00:00", "2020-01-05T03:59:00"))
    substorm = render_preview(record("themis", "keogram", "hourly", "2020-01-05T05:00:00", "2020-01-05T05:59:00"))
    assert pixels(substorm).mean() > 1.5 * pixels(evening).mean()
    assert pixels(evening).mean() < 60  # a dark sky with a few arcs


# --- montages, summary plots, movies -----------------------------------------------------------------


def test_hourly_montage_is_a_grid_of_all_sky_frames_with_dark_corners() -> None:
    image = render_preview(record("rgb", "montage", "hourly", "2020-01-05T06:00:00", "2020-01-05T06:59:00"))
    assert image.content_type == "image/jpeg" and (image.width, image.height) == (800, 496)
    px = pixels(image)
    cell = px[16 : 16 + 80, 80:160]  # second frame of the first row
    assert cell[2:8, 2:8].mean() < 30  # outside the fisheye circle: black
    assert cell[30:50, 30:50].mean() > cell[2:8, 2:8].mean() + 10  # the sky inside is lit


def test_daily_montage_marks_frames_outside_imaging_white() -> None:
    image = render_preview(
        record(
            "themis",
            "montage",
            "daily",
            "2020-01-05T00:00:00",
            "2020-01-05T23:59:00",
            imaging=("2020-01-05T00:00:00", "2020-01-05T13:00:00"),
        )
    )
    assert image.width == 12 * 64
    px = pixels(image)
    first = px[16 + 20 : 16 + 44, 20:44]
    assert first.mean() < 200  # 00:00: imaging


def test_summary_plot_is_a_png_with_axes_and_network_panels() -> None:
    image = render_preview(record("spect", "summary_plot", "daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00"))
    assert image.content_type == "image/png" and image.width > 720
    px = pixels(image)
    assert (px == 255).all(axis=2).mean() > 0.2  # a white page with plots, not a full-bleed image
    keo = render_preview(record("rgb", "summary_plot", "daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00"))
    assert keo.content_type == "image/png" and keo.height > 6 * 50  # six TREx RGB sites stacked


def test_movie_is_webm_that_decodes_to_its_frames() -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    product = record("rgb", "movie", "real-time daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00")
    movie = render_movie(product)
    assert isinstance(movie, RenderedMovie)
    assert movie.content_type == "video/webm" and movie.data[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    assert len(movie.data) < 1_000_000 and movie.fps > 0
    assert movie.data == render_movie(product).data  # deterministic encoder flags
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.webm"
        path.write_bytes(movie.data)
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        frames = list(reader)
    assert tuple(meta["size"]) == (movie.width, movie.height)
    assert len(frames) == movie.frame_count == 48


def test_movie_preview_is_a_poster_jpeg_and_frames_are_listed() -> None:
    product = record("rgb", "movie", "real-time daily", "2020-01-05T00:00:00", "2020-01-05T23:59:00")
    poster = render_preview(product)
    assert poster.content_type == "image/jpeg" and (poster.width, poster.height) == (320, 320)
    frames = render_movie_frames(product, count=3)
    assert [(f.width, f.height, f.content_type) for f in frames] == [(320, 320, "image/jpeg")] * 3
    assert len({f.data for f in frames}) == 3


# --- every kind of record the demo archive generates renders ------------------------------------------


def test_every_demo_record_kind_renders() -> None:
    seen: dict[tuple[str, str, str, str | None], DataProduct] = {}
    for raw in generate_demo_records(date(2020, 1, 5), date(2020, 1, 5)):
        product = DataProduct.from_api_dict(raw)
        src = product.data_source
        seen.setdefault((src.program, src.instrument_type, product.data_product_type, product.sub_type), product)
    assert len(seen) >= 15
    for key, product in seen.items():
        thumb = render_preview(product, size="thumbnail")
        assert thumb.width == 240 and thumb.content_type == "image/jpeg", key


def test_unknown_platform_still_renders() -> None:
    src = DataSource(None, "someprogram", "nowhere", "RGB ASI", "ground", "X NOWH")
    product = DataProduct(src, "keogram", _t("2020-01-05T00:00:00"), _t("2020-01-05T23:59:00"), "u://x", {})
    image = render_preview(product)
    assert (image.width, image.height) == (720, 256)


# --- bad input ----------------------------------------------------------------------------------------


def test_bad_input_raises_render_error_with_a_clear_message() -> None:
    with pytest.raises(RenderError, match="size must be 'full' or 'thumbnail'"):
        render_preview(daily_keogram("rgb"), size="huge")  # type: ignore[arg-type]
    with pytest.raises(RenderError, match="needs a DataProduct"):
        render_preview({"url": "x"})  # type: ignore[arg-type]
    bad = daily_keogram("rgb")
    bad = DataProduct(
        bad.data_source,
        "keogram",
        bad.start,
        bad.end,
        bad.url,
        {"imaging_start_time": "soon", "imaging_end_time": "later"},
    )
    with pytest.raises(RenderError, match="imaging_start_time"):
        render_preview(bad)
    far = DataProduct(bad.data_source, "keogram", _t("9999-12-31T00:00:00"), _t("9999-12-31T23:59:00"), "u://far", {})
    with pytest.raises(RenderError, match="years 1900-2200"):
        render_preview(far)
    with pytest.raises(RenderError, match="count must be an integer between 1 and 600"):
        render_movie_frames(daily_keogram("rgb"), count=0)


@pytest.mark.parametrize(
    ("ptype", "metadata", "content_type"),
    [
        ("data_availability", {}, "image/png"),
        ("average", {"imaging_start_time": 12345, "imaging_end_time": None}, "image/jpeg"),
        ("gridded_data", {"gridded_data_type": 5}, "image/jpeg"),
    ],
)
def test_other_product_types_and_odd_metadata_still_render(
    ptype: str, metadata: dict[str, object], content_type: str
) -> None:
    src = DataSource(49, "themis-asi", "gillam", "panchromatic ASI", "ground", "THEMIS-ASI GILL", {"latitude": "x"})
    product = DataProduct(src, ptype, _t("2020-01-05T06:00:00"), _t("2020-01-05T06:59:00"), f"u://{ptype}", metadata)
    image = render_preview(product)
    assert image.content_type == content_type and pixels(image).std() > 5


# --- process-wide malloc tuning: once, and never over the operator's own setting ------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "True"),
        ({"MALLOC_TOP_PAD_": "131072"}, "False"),
        ({"MALLOC_ARENA_MAX": "2"}, "False"),
        ({"GLIBC_TUNABLES": "glibc.malloc.top_pad=0"}, "False"),
    ],
)
def test_malloc_padding_is_set_only_where_the_operator_did_not_tune_malloc(env: dict[str, str], expected: str) -> None:
    import os
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        expected = "False"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    code = "from aurorax_core.demo.render import _keep_scratch_memory as k; print(k(), k())"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == [expected, expected]
