"""Night-view fixtures: a demo catalog around 2020-01-14 (the issue's link), built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

NIGHT = date(2020, 1, 14)
NIGHT_CATALOG_START = date(2020, 1, 12)
NIGHT_CATALOG_END = date(2020, 1, 16)


@pytest.fixture(scope="session")
def night_catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo archive for 2020-01-12 .. 2020-01-16 (read-only)."""
    from aurorax_core.demo import build_demo_archive

    path = tmp_path_factory.mktemp("night-catalog") / "demo.sqlite"
    build_demo_archive(path, NIGHT_CATALOG_START, NIGHT_CATALOG_END)
    return path


@pytest.fixture(scope="session")
def night_backend(night_catalog_path: Path) -> Iterator[Any]:
    from aurorax_core import open_backend

    backend = open_backend(str(night_catalog_path))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="session")
def night_images(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The dashboard's image source over a ThumbnailService with its own cache folder."""
    from aurorax_core import ThumbnailService
    from dashboard.images import ImageSource

    return ImageSource(service=ThumbnailService(cache_dir=tmp_path_factory.mktemp("night-thumbs")))
