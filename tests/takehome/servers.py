"""Small real HTTP servers on 127.0.0.1 (standard library, one thread per connection) for the tests."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer (the slow-server tests) is expected here


def _start(handler: type[BaseHTTPRequestHandler], owner: Any) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), handler)
    server.owner = owner  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@dataclass
class Route:
    body: bytes | Callable[[int], bytes]  # bytes, or a function of the request count
    content_type: str = "image/jpeg"
    status: int = 200
    delay: float = 0.0  # seconds before the headers
    drip: float = 0.0  # seconds between 1 kB pieces of the body
    cut_after: int | None = None  # close the connection after this many body bytes ...
    cut_times: int = 1  # ... on this many requests
    ranges: bool = True
    redirect: str | None = None  # answer 302 to this Location
    etag: str | None = None  # sent as ETag; an If-Range that differs gets the whole file
    hits: int = 0


class FileServer:
    """Serves registered paths with Range support and scripted faults."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.fallback: bytes | None = None  # served (image/jpeg) for any unregistered path
        self.log: list[tuple[str, str | None]] = []  # (path, Range header)
        self._lock = threading.Lock()
        self._server, self._thread = _start(_FileHandler, self)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"

    def add(self, path: str, body: bytes | Callable[[int], bytes], **options: Any) -> str:
        self.routes[path] = Route(body, **options)
        return self.base + path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _FileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner: FileServer = self.server.owner  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        with owner._lock:
            owner.log.append((path, self.headers.get("Range")))
            route = owner.routes.get(path)
            if route is not None:
                route.hits += 1
                hit = route.hits
        if route is None and owner.fallback is not None:
            route, hit = Route(owner.fallback), 1
        if route is None:
            self._plain(404, b"not found")
            return
        if route.delay:
            time.sleep(route.delay)
        if route.redirect is not None:
            self.send_response(302)
            self.send_header("Location", route.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if route.status != 200:
            self._plain(route.status, b"error page")
            return
        body = route.body(hit) if callable(route.body) else route.body
        start = 0
        status = 200
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        fresh = if_range is None or (route.etag is not None and if_range == route.etag)
        if wanted and route.ranges and fresh and wanted.startswith("bytes="):
            start = int(wanted[6:].split("-", 1)[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
        if route.etag is not None:
            self.send_header("ETag", route.etag)
        self.end_headers()
        payload = body[start:]
        if route.cut_after is not None and hit <= route.cut_times:
            self.wfile.write(payload[: route.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        if route.drip:
            for i in range(0, len(payload), 1024):
                self.wfile.write(payload[i : i + 1024])
                self.wfile.flush()
                time.sleep(route.drip)
            return
        self.wfile.write(payload)

    def _plain(self, status: int, text: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)


class Proxy:
    """Forwards to an AuroraX-compatible server, with scripted delays, outages and rewritten answers."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream = upstream.rstrip("/")
        self.delay_data = 0.0
        self.fail_after: int | None = None  # answer 503 once this many requests were forwarded
        self.fail_when: Callable[[bytes], bool] | None = None  # answer 503 to requests whose body matches
        self.rewrite_data: Callable[[list[Any]], list[Any]] | None = None
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server, self._thread = _start(_ProxyHandler, self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        owner: Proxy = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with owner._lock:
            owner.requests.append((self.command, self.path))
            count = len(owner.requests)
        failing = owner.fail_when is not None and owner.fail_when(body)
        if failing or (owner.fail_after is not None and count > owner.fail_after):
            payload = json.dumps({"error_code": "Unavailable", "error_message": "down for the test"}).encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        is_data = self.path.rstrip("/").endswith("/data")
        if is_data and owner.delay_data:
            time.sleep(owner.delay_data)
        conn = http.client.HTTPConnection(owner.upstream_host, owner.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        if is_data and owner.rewrite_data is not None and reply.status == 200:
            document = json.loads(data)
            document["result"] = owner.rewrite_data(document["result"])
            data = json.dumps(document).encode()
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() in ("content-length", "connection", "transfer-encoding", "server", "date"):
                continue
            if key.lower() == "location":
                value = value.replace(owner.upstream, owner.url)
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_DELETE = do_PATCH = _forward  # noqa: N815
