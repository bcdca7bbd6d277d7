"""Demo records: previews are rendered by the real demo renderer, never fetched, and flagged synthetic."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from PIL import Image

from aurorax_core import DataProduct, ThumbnailService
from aurorax_core.demo.archive import generate_demo_records
from aurorax_core.demo.render import render_preview


@pytest.fixture(scope="module")
def demo_records() -> dict[str, DataProduct]:
    """One demo record of each type that day has (keogram, montage, movie, summary plot)."""
    found: dict[str, DataProduct] = {}
    for record in generate_demo_records(date(2020, 1, 1), date(2020, 1, 1)):
        product = DataProduct.from_api_dict(record)
        found.setdefault(product.data_product_type, product)
    assert {"keogram", "montage", "movie"} <= set(found)
    return found


def test_demo_thumbnails_are_rendered_not_fetched(
    make_service: Callable[..., ThumbnailService], demo_records: dict[str, DataProduct]
) -> None:
    keogram = demo_records["keogram"]
    assert keogram.url.startswith("https://data.phys.ucalgary.ca/")  # looks real, is not
    service = make_service()  # no host allowed at all: anything fetched would be refused

    thumb = service.thumbnail(keogram)

    assert thumb.ok and thumb.synthetic and thumb.source == "demo"
    assert thumb.data == render_preview(keogram, size="thumbnail").data
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.format == "JPEG" and image.size == (thumb.width, thumb.height) and thumb.width == 240
    warm = service.thumbnail(keogram)
    assert warm.source == "cache" and warm.synthetic and warm.data == thumb.data


@pytest.mark.parametrize("product_type", ["keogram", "montage", "movie", "summary_plot"])
def test_demo_previews_of_every_type(
    service: ThumbnailService, demo_records: dict[str, DataProduct], product_type: str
) -> None:
    record = demo_records[product_type]
    full = service.preview(record)

    assert full.ok and full.synthetic and full.source == "demo"
    assert full.data == render_preview(record, size="full").data
    with Image.open(io.BytesIO(full.data)) as image:
        assert image.size == (full.width, full.height)


def test_a_demo_movie_is_the_rendered_movie(service: ThumbnailService, demo_records: dict[str, DataProduct]) -> None:
    record = demo_records["movie"]
    movie = service.movie(record)

    # the renderer's WebM (or animated WebP when ffmpeg is missing); rendering is slow, so once only
    assert movie.ok and movie.synthetic and movie.source == "demo"
    assert movie.content_type in ("video/webm", "image/webp")
    assert movie.data is not None and movie.data.startswith((b"\x1a\x45\xdf\xa3", b"RIFF"))
    assert service.movie(record).source == "cache"


def test_movie_of_a_keogram_says_it_is_not_a_movie(
    service: ThumbnailService, demo_records: dict[str, DataProduct]
) -> None:
    result = service.movie(demo_records["keogram"])

    assert not result.ok and result.synthetic
    assert result.reason == "this record is a keogram, not a movie"


def test_a_page_of_demo_thumbnails_in_parallel(service: ThumbnailService, demo_records: dict[str, DataProduct]) -> None:
    records = list(demo_records.values())
    page = service.thumbnails(records, max_workers=4)

    assert [p.url for p in page] == [r.url for r in records]
    assert all(p.ok and p.synthetic for p in page)


def test_a_demo_record_the_renderer_cannot_draw_is_a_reason(
    service: ThumbnailService, demo_records: dict[str, DataProduct]
) -> None:
    import dataclasses

    keogram = demo_records["keogram"]
    broken = dataclasses.replace(keogram, metadata={**keogram.metadata, "imaging_start_time": "not a time"})

    result = service.thumbnail(broken)

    assert not result.ok and result.synthetic and result.source == "demo"
    assert result.reason is not None and result.reason.startswith("the demo preview cannot be rendered: ")
    assert "imaging_start_time" in result.reason
