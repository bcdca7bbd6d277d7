"""Every way an image host can misbehave ends in a clear 'no preview', never a hang or a crash.

All requests go to real servers on 127.0.0.1 (see servers.py).
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable

import pytest
from PIL import Image

from aurorax_core import Preview, ThumbnailService

from .conftest import product
from .servers import OK_JPEG, ImageServer


def test_valid_jpeg_gives_a_240px_thumbnail_and_the_original_as_preview(
    service: ThumbnailService, server: ImageServer
) -> None:
    record = product(server.url("/ok.jpg"))

    thumb = service.thumbnail(record)
    full = service.preview(record)

    assert thumb.ok and thumb.reason is None
    assert (thumb.content_type, thumb.width, thumb.height) == ("image/jpeg", 240, 85)
    assert thumb.source == "http" and thumb.synthetic is False
    with Image.open(io.BytesIO(thumb.data)) as decoded:
        assert decoded.size == (240, 85)
    # the full-size preview is the original file, verified, byte for byte
    assert full.ok and full.data == OK_JPEG
    assert (full.width, full.height, full.content_type) == (720, 256, "image/jpeg")
    # the thumbnail was made from the downloaded original: one request served both
    assert server.hits("/ok.jpg") == 1
    assert full.source == "cache"


def test_type_comes_from_the_bytes_not_the_header(service: ThumbnailService, server: ImageServer) -> None:
    png = service.preview(product(server.url("/ok.png")))
    octet = service.preview(product(server.url("/octet.jpg")))

    assert png.ok and png.content_type == "image/png" and (png.width, png.height) == (300, 200)
    assert octet.ok and octet.content_type == "image/jpeg"
    # a transparent PNG still gives a (flattened) JPEG thumbnail
    thumb = service.thumbnail(product(server.url("/ok.png")))
    assert thumb.ok and thumb.content_type == "image/jpeg" and thumb.width == 240


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing.jpg", "the server answered 404 Not Found"),
        ("/error.jpg", "the server answered 500 Internal Server Error"),
        ("/html.jpg", "the response is text/html, not an image"),
        ("/html-as-jpeg.jpg", "the file is not an image in a supported format (JPEG, PNG, GIF or WebP)"),
        ("/truncated.jpg", "the image is truncated or corrupt"),
        ("/short.jpg", "the server closed the connection"),
        ("/no-location.jpg", "the server answered 302 Found without a Location"),
        ("/big.png", "the image is too large to decode safely (8000×8000 pixels)"),
        ("/bomb.png", "the image is too large to decode safely (more than 50 million pixels)"),
        # a real image, but in a format outside the small set of decoders downloads may reach
        ("/picture.bmp", "the file is not an image in a supported format (JPEG, PNG, GIF or WebP)"),
    ],
)
def test_bad_responses_give_no_preview_with_the_reason(
    service: ThumbnailService, server: ImageServer, path: str, expected: str
) -> None:
    for result in (service.thumbnail(product(server.url(path))), service.preview(product(server.url(path)))):
        assert not result.ok
        assert result.data is None and result.content_type is None
        assert result.reason is not None and result.reason.startswith(expected), result.reason
        assert result.source == "http"


def test_a_server_that_never_answers_times_out_at_the_read_timeout(
    service: ThumbnailService, server: ImageServer
) -> None:
    started = time.monotonic()
    result = service.thumbnail(product(server.url("/stall.jpg")))
    elapsed = time.monotonic() - started

    assert not result.ok
    assert result.reason == "timed out after 0.5 s waiting for the server"
    assert elapsed < 3  # generous: proves it ended, not how fast


@pytest.mark.parametrize("path", ["/drip.jpg", "/drip-headers.jpg"])
def test_a_slow_drip_ends_at_the_total_deadline(
    make_service: Callable[..., ThumbnailService], server: ImageServer, path: str
) -> None:
    # one byte every 0.25 s never trips the 2 s read timeout; only the total deadline can stop it
    service = make_service(server.host, read_timeout=2.0, total_timeout=1.0)
    started = time.monotonic()
    result = service.preview(product(server.url(path)))
    elapsed = time.monotonic() - started

    assert not result.ok
    assert result.reason == "the download did not finish within 1 s"
    assert elapsed < 4


@pytest.mark.parametrize("path", ["/huge-advertised.jpg", "/huge-unadvertised.jpg"])
def test_a_200_mb_response_stops_at_the_size_limit(
    make_service: Callable[..., ThumbnailService], server: ImageServer, path: str
) -> None:
    # default limit (25 MB) and a total deadline long enough that only the size limit can trigger
    service = make_service(server.host, total_timeout=30)
    result = service.preview(product(server.url(path)))

    assert not result.ok
    assert result.reason == "the file is larger than 25 MB"


def test_a_small_size_limit_is_reported_in_its_own_words(
    make_service: Callable[..., ThumbnailService], server: ImageServer
) -> None:
    service = make_service(server.host, max_download_bytes=10_000)
    assert service.preview(product(server.url("/ok.jpg"))).reason == "the file is larger than 10 kB"


def test_a_redirect_loop_ends_with_a_clear_reason(service: ThumbnailService, server: ImageServer) -> None:
    result = service.preview(product(server.url("/loop-a.jpg")))

    assert not result.ok
    assert result.reason is not None and result.reason.startswith("redirect loop")
    assert server.hits("/loop-a.jpg") == 1 and server.hits("/loop-b.jpg") == 1


def test_an_endless_redirect_chain_stops_after_five_hops(service: ThumbnailService, server: ImageServer) -> None:
    result = service.preview(product(server.url("/chain/0")))

    assert result.reason == "too many redirects (more than 5)"
    assert server.hits() == 6


def test_a_redirect_to_a_host_outside_the_list_is_refused(service: ThumbnailService, server: ImageServer) -> None:
    result = service.preview(product(server.url("/redirect-evil.jpg")))

    assert not result.ok
    assert result.reason == (
        "the server redirected to a URL that is not allowed: host 'evil.example' is not in the allowed hosts "
        f"({server.host}); add it with AURORAX_ALLOWED_HOSTS"
    )


def test_a_redirect_to_a_file_url_is_refused(service: ThumbnailService, server: ImageServer) -> None:
    result = service.preview(product(server.url("/redirect-file.jpg")))

    assert result.reason == (
        "the server redirected to a URL that is not allowed: only http and https URLs are fetched, this one has 'file:'"
    )


def test_a_redirect_to_an_unlisted_port_never_reaches_it(
    service: ThumbnailService, server: ImageServer, other_server: ImageServer
) -> None:
    result = service.preview(product(server.url(f"/redirect-to?{other_server.url('/ok.jpg')}")))

    assert not result.ok and "not allowed" in (result.reason or "")
    assert other_server.hits() == 0


def test_a_redirect_to_an_allowed_host_is_followed(
    make_service: Callable[..., ThumbnailService], server: ImageServer, other_server: ImageServer
) -> None:
    service = make_service(server.host, other_server.host)
    result = service.preview(product(server.url(f"/redirect-to?{other_server.url('/ok.jpg')}")))

    assert result.ok and result.data == OK_JPEG
    assert other_server.hits("/ok.jpg") == 1


def test_connection_refused_is_a_reason_not_an_exception(
    make_service: Callable[..., ThumbnailService], server: ImageServer
) -> None:
    server.close()  # the port is now closed
    service = make_service(server.host)
    result = service.thumbnail(product(server.url("/ok.jpg")))

    assert result.reason == f"could not connect to {server.host}: connection refused"


def test_failures_are_remembered_briefly_then_retried(
    make_service: Callable[..., ThumbnailService], server: ImageServer
) -> None:
    record = product(server.url("/missing.jpg"))
    remembering = make_service(server.host, failure_ttl=60)
    assert not remembering.preview(record).ok
    assert not remembering.preview(record).ok
    assert server.hits("/missing.jpg") == 1  # a grid redrawn twice does not hammer the server

    forgetful = make_service(server.host, failure_ttl=0)
    assert not forgetful.preview(record).ok
    assert not forgetful.preview(record).ok
    assert server.hits("/missing.jpg") == 3


def test_preview_is_immutable_and_prints_without_the_bytes(service: ThumbnailService, server: ImageServer) -> None:
    result = service.thumbnail(product(server.url("/ok.jpg")))

    with pytest.raises(AttributeError):
        result.data = b""  # type: ignore[misc]
    assert "data=" not in repr(result) and "width=240" in repr(result)
    assert result.data_uri() is not None and result.data_uri().startswith("data:image/jpeg;base64,")
    missing = Preview(None, None, None, None, False, "http", "the server answered 404 Not Found")
    assert not missing.ok and missing.data_uri() is None


def test_a_host_that_never_accepts_the_connection_times_out_at_the_connect_timeout(
    make_service: Callable[..., ThumbnailService],
) -> None:
    # A listening socket whose accept queue is full: the kernel drops further SYNs, so a connect
    # hangs exactly like one to a host that does not answer.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(16):
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # the queue is full now
        service = make_service(f"127.0.0.1:{port}", connect_timeout=0.3)
        result = service.thumbnail(product(f"http://127.0.0.1:{port}/ok.jpg"))
        assert result.reason == f"could not connect to 127.0.0.1:{port} within 0.3 s"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
