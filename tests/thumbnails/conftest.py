"""Fixtures: misbehaving image servers on 127.0.0.1 and services configured with short timeouts."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aurorax_core import DataProduct, DataSource, ThumbnailService
from aurorax_core.thumbnails import ENV_ALLOW_PRIVATE, ENV_ALLOWED_HOSTS, ENV_LOCAL_ROOTS

from .servers import ImageServer

SOURCE = DataSource(
    identifier=1,
    program="themis-asi",
    platform="gillam",
    instrument_type="panchromatic ASI",
    display_name="THEMIS-ASI GILL",
)


def product(url: str, product_type: str = "keogram", *, synthetic: bool = False) -> DataProduct:
    metadata: dict[str, Any] = {f"{product_type}_type": "daily"}
    if synthetic:
        metadata["demo_synthetic"] = True
    return DataProduct(
        SOURCE,
        product_type,
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 1, 23, 59, tzinfo=UTC),
        url,
        metadata,
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own settings must not change what the tests see."""
    for name in (ENV_ALLOWED_HOSTS, ENV_ALLOW_PRIVATE, ENV_LOCAL_ROOTS):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def movie_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 4 s, 160x120 H.264 MP4 made by ffmpeg, index first (faststart)."""
    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("movie") / "test.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=5",
            "-t",
            "4",
            "-g",
            "1",  # every frame a key frame: the file's first half then holds whole frames
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


@pytest.fixture
def server(movie_bytes: bytes) -> Iterator[ImageServer]:
    srv = ImageServer(movie_bytes)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def other_server() -> Iterator[ImageServer]:
    srv = ImageServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def make_service(tmp_path: Path) -> Callable[..., ThumbnailService]:
    """A service with its own cache folder and test-sized timeouts (0.5 s reads, 1.5 s total)."""

    def make(*hosts: str, **options: Any) -> ThumbnailService:
        settings: dict[str, Any] = {
            "connect_timeout": 0.5,
            "read_timeout": 0.5,
            "total_timeout": 1.5,
        }
        settings.update(options)
        cache_dir = settings.pop("cache_dir", tmp_path / "cache")
        return ThumbnailService(cache_dir, allowed_hosts=hosts, **settings)

    return make


@pytest.fixture
def service(make_service: Callable[..., ThumbnailService], server: ImageServer) -> ThumbnailService:
    """A service allowed to fetch from ``server`` (listed explicitly as 127.0.0.1:PORT)."""
    return make_service(server.host)
