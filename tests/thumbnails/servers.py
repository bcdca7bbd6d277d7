"""Real HTTP servers on 127.0.0.1 that misbehave in the ways image hosts do.

``ImageServer`` is a stdlib ``ThreadingHTTPServer`` on port 0 in a thread. Every route is real
HTTP over a real socket; the server counts the requests it receives per path, so tests can prove
that a URL was (or was not) fetched, and how many times.
"""

from __future__ import annotations

import io
import ssl
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
from PIL import Image


def make_jpeg(width: int = 720, height: int = 256, *, seed: int = 0, quality: int = 90) -> bytes:
    """A keogram-like grayscale JPEG (noise over a gradient), tens of kB like the real ones."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :]
    pixels = np.clip(ramp + rng.normal(0, 25, (height, width)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, "JPEG", quality=quality)
    return out.getvalue()


def make_png(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 80, 128)).save(out, "PNG")
    return out.getvalue()


def make_bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def make_bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 0, 0)).save(out, "BMP")
    return out.getvalue()


OK_JPEG = make_jpeg()
TRUNCATED_JPEG = OK_JPEG[: len(OK_JPEG) // 2]
HTML_PAGE = b"<!doctype html><html><head><title>Not found</title></head><body>Sorry</body></html>"
HUGE_SIZE = 200_000_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ImageHTTPServer
    routes: ClassVar[dict[str, str]] = {}

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    # -- helpers ------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, *, length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def _wait(self, seconds: float) -> bool:
        """Sleep, but return early (True) when the server is shutting down."""
        return self.server.stopping.wait(seconds)

    def _stream_zeros(self, total: int) -> None:
        chunk = b"\0" * 65536  # one buffer reused: the 200 MB are never allocated
        sent = 0
        try:
            while sent < total and not self.server.stopping.is_set():
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the client hung up, as it should

    # -- routes -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.record(path)
        if path == "/ok.jpg" or path == "/slow.jpg" or path.startswith("/same/"):
            if path == "/slow.jpg":
                self._wait(0.4)
            self._send(200, OK_JPEG, "image/jpeg")
        elif path.startswith("/img/"):
            # /img/<n>.jpg: a distinct image per n, height 100 + 4n, so order can be checked
            n = int(path.rsplit("/", 1)[1].split(".")[0])
            self._send(200, make_jpeg(480, 100 + 4 * n, seed=n), "image/jpeg")
        elif path == "/octet.jpg":
            self._send(200, OK_JPEG, "application/octet-stream")
        elif path == "/ok.png":
            self._send(200, make_png(), "image/png; charset=binary")
        elif path == "/bomb.png":
            self._send(200, make_bomb_png(30_000, 30_000), "image/png")
        elif path == "/big.png":
            self._send(200, make_bomb_png(8_000, 8_000), "image/png")
        elif path == "/picture.bmp":
            self._send(200, make_bmp(), "image/bmp")
        elif path == "/missing.jpg":
            self._send(404, HTML_PAGE, "text/html")
        elif path == "/error.jpg":
            self._send(500, b"boom", "text/plain")
        elif path == "/html.jpg":
            self._send(200, HTML_PAGE, "text/html; charset=utf-8")
        elif path == "/html-as-jpeg.jpg":
            self._send(200, HTML_PAGE, "image/jpeg")
        elif path == "/truncated.jpg":
            self._send(200, TRUNCATED_JPEG, "image/jpeg")
        elif path == "/short.jpg":
            # promises the whole file, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(OK_JPEG)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(TRUNCATED_JPEG)
        elif path == "/stall.jpg":
            self._wait(5)  # accept, read the request, never answer
        elif path == "/drip.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(OK_JPEG)))
            self.end_headers()
            self.wfile.flush()
            try:
                for byte in OK_JPEG:
                    if self._wait(self.server.drip_interval):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                return
        elif path == "/drip-headers.jpg":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Padding: " + b"a" * 10000 + b"\r\n\r\n"
            try:
                for byte in head:
                    if self._wait(self.server.drip_interval):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                return
        elif path == "/huge-advertised.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(HUGE_SIZE))
            self.send_header("Connection", "close")
            self.end_headers()
            self._stream_zeros(HUGE_SIZE)
        elif path == "/huge-unadvertised.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")  # body delimited by the end of the connection
            self.end_headers()
            self._stream_zeros(HUGE_SIZE)
        elif path == "/loop-a.jpg":
            self._redirect("/loop-b.jpg")
        elif path == "/loop-b.jpg":
            self._redirect("/loop-a.jpg", 301)
        elif path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            self._redirect(f"/chain/{n + 1}")
        elif path == "/redirect-evil.jpg":
            self._redirect("http://evil.example/x.jpg")
        elif path == "/redirect-file.jpg":
            self._redirect("file:///etc/passwd")
        elif path == "/redirect-to":
            # /redirect-to?<url>: redirect anywhere the test asks
            self._redirect(self.path.split("?", 1)[1], 307)
        elif path == "/no-location.jpg":
            self.send_response(302)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/movie.mp4":
            self._send(200, self.server.movie_bytes, "video/mp4")
        elif path == "/movie-ranged.mp4":
            # honours "Range: bytes=0-N" with 206 Partial Content, as archive servers do
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes=0-"):
                end = int(wanted.removeprefix("bytes=0-"))
                self.server.ranges.append(wanted)
                self._send(206, self.server.movie_bytes[: end + 1], "video/mp4")
            else:
                self._send(200, self.server.movie_bytes, "video/mp4")
        elif path == "/movie-truncated.mp4":
            self._send(200, self.server.movie_bytes[: len(self.server.movie_bytes) // 3], "video/mp4")
        elif path == "/movie-html.mp4":
            self._send(200, HTML_PAGE, "video/mp4")
        else:
            self._send(404, b"no such route", "text/plain")


class ImageHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # handler threads that are sleeping must not block shutdown
    block_on_close = False

    def __init__(self, movie_bytes: bytes = b"") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self.drip_interval = 0.25
        self.movie_bytes = movie_bytes
        self.ranges: list[str] = []

    def record(self, path: str) -> None:
        with self._count_lock:
            self.counts[path] += 1


class ImageServer:
    """A running ``ImageHTTPServer``; ``url(path)`` gives its URLs, ``hits(path)`` its request counts."""

    def __init__(self, movie_bytes: bytes = b"", *, tls: ssl.SSLContext | None = None) -> None:
        self.httpd = ImageHTTPServer(movie_bytes)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def hits(self, path: str | None = None) -> int:
        with self.httpd._count_lock:
            return sum(self.httpd.counts.values()) if path is None else self.httpd.counts[path]

    def close(self) -> None:
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=2)


def wait_until(predicate: object, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False
