"""Fixtures: a fresh 127.0.0.1 server per test (see stubs.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from .stubs import FakeAuroraX, Stub


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def aurorax(stub: Stub) -> FakeAuroraX:
    return FakeAuroraX(stub)


@pytest.fixture
def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
