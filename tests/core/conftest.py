"""Fixtures for the catalog and ingest tests: fresh tmp_path catalogs and a varied random archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from catalog_data import build_random_catalog

from aurorax_core import CatalogBackend


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogBackend]:
    """A new, empty catalog in tmp_path."""
    backend = CatalogBackend(tmp_path / "catalog.sqlite")
    yield backend
    backend.close()


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "cross-keys"])
def random_catalog(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CatalogBackend, list[dict[str, Any]]]]:
    """(catalog, records) of a 3000-record random archive; "cross-keys" also has records carrying
    another type's ``<type>_type`` key (e.g. a montage with ``keogram_type``)."""
    path = tmp_path_factory.mktemp("random-catalog") / "catalog.sqlite"
    backend, records = build_random_catalog(path, cross=request.param)
    yield backend, records
    backend.close()
