"""open_backend picks an engine by URL scheme; abilities are declared, not probed."""

from __future__ import annotations

from pathlib import Path

import pytest

import aurorax_core
from aurorax_core import (
    AvailabilityCounts,
    BackendConfigurationError,
    CatalogBackend,
    ConnectivityCheck,
    MetadataValues,
    RequestTracking,
    TimeSpan,
    open_backend,
    register_backend,
    registered_schemes,
)
from aurorax_core.backends.registry import scheme_of


def test_plain_path_and_sqlite_urls_open_the_same_catalog(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    for spec in (str(path), path, f"sqlite://{path}", f"file://{path}"):
        backend = open_backend(spec)
        try:
            assert isinstance(backend, CatalogBackend)
            assert backend.path == path
        finally:
            backend.close()


def test_http_urls_open_the_remote_backend() -> None:
    backend = open_backend("http://127.0.0.1:9/")
    try:
        assert type(backend).__name__ == "RemoteBackend"
        assert isinstance(backend, ConnectivityCheck)
        assert isinstance(backend, AvailabilityCounts)
        assert not isinstance(backend, TimeSpan)
    finally:
        backend.close()


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(BackendConfigurationError) as err:
        open_backend("nosuch://host/db")
    message = str(err.value)
    assert "nosuch:" in message and "sqlite:" in message and "https:" in message


def test_a_remote_sqlite_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigurationError, match="on this machine"):
        open_backend("sqlite://otherhost/x.sqlite")


def test_windows_drive_is_a_path_not_a_scheme() -> None:
    assert scheme_of("C:\\data\\catalog.sqlite") is None
    assert scheme_of("postgresql://u@h/db") == "postgresql"


def test_a_registered_engine_is_opened_by_its_scheme(tmp_path: Path) -> None:
    opened: list[str] = []

    def opener(spec: str, options: object) -> CatalogBackend:
        opened.append(spec)
        return CatalogBackend(tmp_path / "via-registry.sqlite")

    register_backend("testengine", opener)
    try:
        backend = open_backend("testengine://somewhere/db")
        backend.close()
        assert opened == ["testengine://somewhere/db"]
        assert "testengine" in registered_schemes()
    finally:
        from aurorax_core.backends import registry

        registry._OPENERS.pop("testengine", None)


def test_catalog_declares_its_abilities(tmp_path: Path) -> None:
    with CatalogBackend(tmp_path / "c.sqlite") as backend:
        for ability in (MetadataValues, TimeSpan, RequestTracking, AvailabilityCounts):
            assert isinstance(backend, ability), ability.__name__
        assert not isinstance(backend, ConnectivityCheck)


def test_catalog_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.sqlite"
    CatalogBackend(path).close()
    monkeypatch.delenv("AURORAX_API_URL", raising=False)
    monkeypatch.setenv("AURORAX_CATALOG", f"sqlite://{path}")
    backend = aurorax_core.open_backend()
    try:
        assert isinstance(backend, CatalogBackend) and backend.path == path
    finally:
        backend.close()
