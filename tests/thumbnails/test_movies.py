"""Movies from http sources: the original file if it is a movie, and a poster frame as its preview."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from aurorax_core import ThumbnailService

from .conftest import product
from .servers import ImageServer


def test_a_remote_movie_is_served_and_its_poster_frame_is_the_preview(
    service: ThumbnailService, server: ImageServer, movie_bytes: bytes
) -> None:
    record = product(server.url("/movie.mp4"), "movie")

    movie = service.movie(record)
    poster = service.preview(record)
    thumb = service.thumbnail(record)

    assert movie.ok and movie.content_type == "video/mp4" and movie.data == movie_bytes
    assert poster.ok and poster.content_type == "image/jpeg" and (poster.width, poster.height) == (160, 120)
    with Image.open(io.BytesIO(poster.data)) as frame:
        assert frame.size == (160, 120)
        frame.load()
    assert thumb.ok and (thumb.width, thumb.height) == (160, 120)  # never enlarged
    assert server.hits("/movie.mp4") == 1  # one download served the movie, the poster and the thumbnail


def test_movie_faults_are_reasons(service: ThumbnailService, server: ImageServer) -> None:
    assert service.movie(product(server.url("/html.jpg"), "movie")).reason == "the response is text/html, not a movie"
    assert service.movie(product(server.url("/movie-html.mp4"), "movie")).reason == (
        "the file is not a movie in a supported format (MP4, WebM, MPEG or AVI)"
    )
    assert service.preview(product(server.url("/missing.jpg"), "movie")).reason == ("the server answered 404 Not Found")
    assert service.movie(product(server.url("/ok.jpg"), "keogram")).reason == "this record is a keogram, not a movie"


def test_a_corrupt_movie_has_no_poster_frame(make_service, server: ImageServer, movie_bytes: bytes) -> None:
    server.httpd.movie_bytes = movie_bytes[:48] + bytes(2000)  # a valid-looking header, then nothing
    service = make_service(server.host)
    result = service.preview(product(server.url("/movie.mp4"), "movie"))

    assert not result.ok
    assert result.reason == "the movie is truncated or corrupt (no frame could be decoded)"


@pytest.mark.parametrize("path", ["/movie.mp4", "/movie-ranged.mp4"])
def test_a_movie_too_large_to_download_still_gets_a_poster_from_its_first_bytes(
    make_service, server: ImageServer, movie_bytes: bytes, path: str
) -> None:
    # streaming-friendly MP4 (index first): the head of the file holds the first frame
    limit = len(movie_bytes) // 2
    service = make_service(server.host, max_download_bytes=limit, poster_prefix_bytes=limit)
    record = product(server.url(path), "movie")

    movie = service.movie(record)
    poster = service.preview(record)

    assert not movie.ok and movie.reason == f"the file is larger than {limit / 1000:g} kB"
    assert poster.ok and (poster.width, poster.height) == (160, 120)
    assert service.thumbnail(record).ok
    if path == "/movie-ranged.mp4":  # the server was asked for the head only
        assert server.httpd.ranges == [f"bytes=0-{limit - 1}"]


def test_a_too_large_movie_whose_head_holds_no_frame_says_both(
    make_service, server: ImageServer, movie_bytes: bytes
) -> None:
    service = make_service(server.host, max_download_bytes=1000, poster_prefix_bytes=100)
    result = service.preview(product(server.url("/movie.mp4"), "movie"))

    assert result.reason == "the file is larger than 1 kB, and no frame could be decoded from its first 100 bytes"
