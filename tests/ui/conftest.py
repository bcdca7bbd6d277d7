"""Real-browser fixtures: Debian's Chromium, and the dashboard served in-process on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import panel as pn
import pytest

from aurorax_core import open_backend
from dashboard.app import DashboardApp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: Callable[[], Any], servers: list[Any]) -> str:
    """Serve ``app`` (one template per session) on a free port of 127.0.0.1; its base URL."""
    port = _free_port()
    server = pn.serve(app, port=port, address="127.0.0.1", threaded=True, show=False, start=True)
    servers.append(server)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return f"http://127.0.0.1:{port}/"
        time.sleep(0.05)  # the server thread is still binding its port
    raise AssertionError(f"the Panel server on port {port} did not accept connections within 20 s")


@pytest.fixture
def serve_app() -> Iterator[Callable[[Callable[[], Any]], str]]:
    """serve_app(app) -> url: any app factory served for one test (e.g. a DashboardApp with no backend)."""
    servers: list[Any] = []
    yield lambda app: _serve(app, servers)
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def serve_dashboard(demo_catalog_path: Path) -> Iterator[Callable[..., tuple[str, list[Any]]]]:
    """serve(spec=None) -> (url, sessions): the dashboard on a free port; each session's DashboardApp is recorded."""
    servers: list[Any] = []

    def serve(spec: Any = None) -> tuple[str, list[Any]]:
        sessions: list[Any] = []
        target = str(demo_catalog_path) if spec is None else spec

        def app() -> Any:
            dashboard = DashboardApp(open_backend(target))
            sessions.append(dashboard)
            return dashboard

        return _serve(app, servers), sessions

    yield serve
    for server in servers:
        server.stop()
