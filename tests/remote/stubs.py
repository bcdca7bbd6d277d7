"""Real HTTP servers on 127.0.0.1 for the RemoteBackend tests (used through conftest fixtures).

``Stub`` is a stdlib ThreadingHTTPServer on port 0 whose answers are set per test (routes), and which
records every request it receives. ``FakeAuroraX`` routes it like the AuroraX API, replaying the real
recorded documents in ``tests/remote/data/`` (copied from the project's protocol notes; see README.md
there): the 202 + absolute Location submit, pending statuses with every ``search_result`` field null,
the real 2024 completed status, and real data-product records in a ``{"result": [...]}`` envelope.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


STATUS_EXAMPLES = load("search_status_examples.json")
PRODUCT_EXAMPLES = load("data_products_examples.json")
SOURCE_RECORDS = load("data_source_full_records.json")
REAL_RECORDS: list[dict[str, Any]] = [item["record"] for item in PRODUCT_EXAMPLES["full_records"]]
COMPLETED_2024: dict[str, Any] = STATUS_EXAMPLES["status_completed_data_product_2024"]
COMPLETED_2022: dict[str, Any] = STATUS_EXAMPLES["status_completed_data_product_2022"]
PENDING_2024: dict[str, Any] = STATUS_EXAMPLES["status_pending_ephemeris_2024"]
LEGACY_2020: dict[str, Any] = STATUS_EXAMPLES["status_legacy_2020"]["data"]


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # bytes/str sent as is; anything else as JSON
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and self.content_type != "application/json":
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


Route = Callable[["Handler", Seen, "re.Match[str]"], Reply | None]


class Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the test output
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        stub = self.server.stub
        with stub.lock:
            stub.seen.append(seen)
        for method, pattern, route in reversed(stub.routes):
            match = pattern.fullmatch(parts.path)
            if method == self.command and match:
                reply = route(self, seen, match)
                if reply is not None:
                    self.send(reply)
                return
        self.send(Reply(404, {"error_code": "NotFound", "error_message": f"no route for {self.command} {parts.path}"}))

    def send(self, reply: Reply) -> None:
        payload = reply.encoded()
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PATCH = _handle  # noqa: N815  # http.server names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: Stub

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Tests drop connections on purpose; the broken pipes that follow are expected.
        pass


class Stub:
    """A real HTTP server on 127.0.0.1 whose routes each test sets."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()  # wakes handlers that stall on purpose
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, pattern: str, route: Route | Reply) -> None:
        """Answer ``method`` on paths matching the regex ``pattern`` (later routes win)."""
        fn: Route = (lambda h, s, m, r=route: r) if isinstance(route, Reply) else route
        self.routes.append((method, re.compile(pattern), fn))

    def requests(self, method: str | None = None, path_re: str | None = None) -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and (path_re is None or re.fullmatch(path_re, s.path))
            ]

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


class FakeAuroraX:
    """The AuroraX data-product protocol over a Stub, replaying real recorded documents.

    ``pending_polls``: how many status GETs answer "pending" before the completed document.
    ``records``: the ``result`` list the data endpoint returns.
    ``fail_with``: when set, the final status has ``error_condition: true`` and this last log line.
    ``source_format``: whether the data endpoint honours ``data_source_record_format=identifier_only``
    (the API documents it; a server may ignore it). ``GET /api/v1/data_sources`` lists the sources
    of ``records``, or ``sources`` when set.
    """

    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        self.pending_polls = 2
        self.records: list[dict[str, Any]] = copy.deepcopy(REAL_RECORDS)
        self.fail_with: str | None = None
        self.completed_template: dict[str, Any] = COMPLETED_2024
        self.polls: dict[str, int] = {}
        self.cancelled: set[str] = set()
        self.submitted: dict[str, Any] = {}
        self.source_format = True
        self.sources: list[dict[str, Any]] | None = None
        stub.route("GET", r"/api/v1/data_sources/?", self._sources)
        stub.route("POST", r"/api/v1/data_products/search", self._submit)
        stub.route("GET", r"/api/v1/data_products/requests/([^/]+)", self._status)
        stub.route("GET", r"/api/v1/data_products/requests/([^/]+)/data", self._data)
        stub.route("POST", r"/api/v1/data_products/requests/([^/]+)/data", self._data)
        stub.route("DELETE", r"/api/v1/data_products/requests/([^/]+)", self._cancel)

    @property
    def url(self) -> str:
        return self.stub.url

    def _submit(self, handler: Handler, seen: Seen, match: re.Match[str]) -> Reply:
        request_id = str(uuid.uuid4())
        self.submitted[request_id] = seen.json()
        self.polls[request_id] = 0
        return Reply(202, None, None, {"Location": f"{self.url}/api/v1/data_products/requests/{request_id}"})

    def status_document(self, request_id: str) -> dict[str, Any]:
        polls = self.polls[request_id]
        self.polls[request_id] = polls + 1
        if polls < self.pending_polls and request_id not in self.cancelled:
            doc = copy.deepcopy(PENDING_2024)
            doc["logs"] = doc["logs"][:2]
            doc["search_request"]["request_id"] = request_id
            doc["search_request"]["request_type"] = "data_product"
            return doc
        doc = copy.deepcopy(self.completed_template)
        doc["search_request"]["request_id"] = request_id
        doc["search_request"]["query"] = {**self.submitted[request_id], "request_id": None}
        result = doc["search_result"]
        result["data_uri"] = f"/api/v1/data_products/requests/{request_id}/data"
        result["result_count"] = len(self.records)
        if self.fail_with is not None:
            result["error_condition"] = True
            doc["logs"].append({"level": "error", "summary": self.fail_with, "timestamp": "2024-11-27T21:41:15.1"})
        return doc

    def _status(self, handler: Handler, seen: Seen, match: re.Match[str]) -> Reply:
        request_id = match.group(1)
        if request_id not in self.polls:
            return Reply(404, {"error_code": "NotFound", "error_message": f"Search request {request_id} not found"})
        return Reply(200, self.status_document(request_id))

    def _data(self, handler: Handler, seen: Seen, match: re.Match[str]) -> Reply:
        request_id = match.group(1)
        if request_id not in self.polls:
            return Reply(404, {"error_code": "NotFound", "error_message": "not found"})
        records = self.records
        if self.source_format and seen.query.get("data_source_record_format") == ["identifier_only"]:
            records = [{**r, "data_source": {"identifier": r["data_source"]["identifier"]}} for r in records]
        if seen.method == "POST":
            fmt = seen.json()
            records = [{k: v for k, v in r.items() if fmt.get(k)} for r in records]
        return Reply(200, {"result": records})

    def _sources(self, handler: Handler, seen: Seen, match: re.Match[str]) -> Reply:
        if self.sources is not None:
            return Reply(200, self.sources)
        listed: dict[Any, dict[str, Any]] = {}
        for record in self.records:
            listed.setdefault(record["data_source"]["identifier"], record["data_source"])
        return Reply(200, list(listed.values()))

    def _cancel(self, handler: Handler, seen: Seen, match: re.Match[str]) -> Reply:
        request_id = match.group(1)
        if request_id not in self.polls:
            return Reply(404, {"error_code": "NotFound", "error_message": "not found"})
        self.cancelled.add(request_id)
        return Reply(200, self.status_document(request_id))
