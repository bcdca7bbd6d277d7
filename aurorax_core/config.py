"""Where things live: the catalog file, the thumbnail cache, the API URL (argument > env > default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ENV_CATALOG: Final = "AURORAX_CATALOG"
ENV_API_URL: Final = "AURORAX_API_URL"
ENV_API_KEY: Final = "AURORAX_API_KEY"
ENV_CACHE_DIR: Final = "AURORAX_CACHE_DIR"
DEFAULT_API_URL: Final = "https://api.aurorax.space"


def user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "aurorax-core"


def user_cache_dir() -> Path:
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aurorax-core"


def default_catalog_path() -> Path:
    """``AURORAX_CATALOG`` if set, else ``<user data dir>/aurorax-core/catalog.sqlite``."""
    explicit = os.environ.get(ENV_CATALOG)
    if explicit:
        return Path(explicit).expanduser()
    return user_data_dir() / "catalog.sqlite"


def catalog_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The catalog location: the argument, then ``AURORAX_CATALOG``, then the per-user default."""
    return Path(path).expanduser() if path else default_catalog_path()


def api_url_from_env() -> str | None:
    value = os.environ.get(ENV_API_URL, "").strip()
    return value or None


def assets_dir() -> Path:
    """The project's bundled facts (data sources, sites, URL layouts) with their provenance."""
    import sys

    for candidate in (
        Path(__file__).resolve().parent / "assets",
        Path(__file__).resolve().parents[1] / "assets",  # a source checkout / editable install
        Path(sys.prefix) / "share" / "aurorax-core" / "assets",  # a wheel install (data-files)
    ):
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[1] / "assets"
