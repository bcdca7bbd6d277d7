"""Real ``aurorax-core serve`` processes over one PostgreSQL catalog, and a round-robin TCP balancer.

Used by the shared-request tests and the deployment tests: every instance is a separate OS process
started the way an operator starts it (``python -m aurorax_core --catalog URL serve ...``).
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
_READY = re.compile(r"as an AuroraX API at (http://\S+)")


class ServeProcess:
    """One ``aurorax-core serve`` process on a free loopback port."""

    def __init__(self, catalog: str, *options: str) -> None:
        self.catalog = catalog
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout: float = 90.0) -> ServeProcess:
        # the catalog URL through AURORAX_CATALOG, as the systemd unit passes it (no password in ps)
        command = [sys.executable, "-m", "aurorax_core", "serve", "--port", "0"]
        self.process = subprocess.Popen(
            [*command, *self.options],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "AURORAX_CATALOG": self.catalog},
        )
        ends = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < ends:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            found = _READY.search(line)
            if found:
                self.url = found.group(1)
                # keep reading, so the process never blocks on a full pipe
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.kill()
        raise AssertionError("aurorax-core serve did not start:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            _kill_children(self.process.pid)

    def stop(self) -> None:
        """SIGTERM: the graceful shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def _kill_children(pid: int) -> None:
    """The search processes of a killed server (they notice their parent is gone, but not at once)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    os.kill(int(entry.name), signal.SIGKILL)


class RoundRobinProxy:
    """A TCP balancer on 127.0.0.1: each new connection goes to the next backend in turn (what
    nginx's default ``upstream`` does), bytes copied both ways. ``connections`` counts per backend."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = [self._address(url) for url in backends]
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: Counter[int] = Counter()
        self._next = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @staticmethod
    def _address(url: str) -> tuple[str, int]:
        host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        return host, int(port)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            for _ in range(len(self.backends)):  # a backend that refuses is skipped, as nginx does
                index = self._next % len(self.backends)
                self._next += 1
                try:
                    upstream = socket.create_connection(self.backends[index], timeout=2)
                except OSError:
                    continue
                self.connections[index] += 1
                threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
                break
            else:
                client.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=2)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    selector = selectors.DefaultSelector()
    a.setblocking(False)
    b.setblocking(False)
    selector.register(a, selectors.EVENT_READ, b)
    selector.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in selector.select(timeout=30):
                data = b""
                with contextlib.suppress(BlockingIOError, ConnectionError):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.setblocking(True)
                key.data.sendall(data)
                key.data.setblocking(False)
    except OSError:
        return
    finally:
        selector.close()
        a.close()
        b.close()


def submit(base: str, payload: dict[str, Any]) -> str:
    """POST a search; returns its request id (from the Location)."""
    answer = requests.post(f"{base}/api/v1/data_products/search", json=payload, timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def wait_done(base: str, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        status = requests.get(f"{base}/api/v1/data_products/requests/{request_id}", timeout=30)
        assert status.status_code == 200, status.text
        document = status.json()
        if document["search_result"]["completed_timestamp"] is not None:
            return document
        time.sleep(0.05)
    raise AssertionError(f"search {request_id} did not finish within {timeout} s")
