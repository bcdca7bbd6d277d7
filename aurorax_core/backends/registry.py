"""Which backend a specification opens, chosen by its URL scheme.

Each engine joins with :func:`register_backend` (the scheme(s) it handles and a function that opens
it); :func:`open_backend` looks the scheme up. A plain path, or ``sqlite:``, is the embedded catalog;
``http(s)://`` is an AuroraX API. A new engine (``postgresql://`` ...) is one ``register_backend``
call in its own module, listed in ``_BUILTIN`` so that it is imported only when its scheme is used.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .. import config
from ..errors import BackendConfigurationError, QueryValidationError
from .base import Backend


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """What a caller may add to a specification when opening a backend."""

    api_key: str | None = None
    readonly: bool = False
    # the default catalog (no specification at all) is built as the demo archive when missing
    build_demo_if_missing: bool = False


Opener = Callable[[str, OpenOptions], Backend]

_OPENERS: dict[str, Opener] = {}
# scheme -> module that registers it when imported (keeps requests & co. off the import path)
_BUILTIN: dict[str, str] = {
    "sqlite": "aurorax_core.backends.registry",
    "file": "aurorax_core.backends.registry",
    "http": "aurorax_core.backends.registry",
    "https": "aurorax_core.backends.registry",
    "postgresql": "aurorax_core.backends.postgres",
    "postgres": "aurorax_core.backends.postgres",
}
# a Windows drive ("C:\\...") is a path, not a scheme; a scheme needs two or more letters
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def register_backend(schemes: tuple[str, ...] | str, opener: Opener) -> None:
    """Make ``open_backend`` open specifications of these URL schemes with ``opener``."""
    for scheme in (schemes,) if isinstance(schemes, str) else schemes:
        _OPENERS[scheme.lower()] = opener


def registered_schemes() -> list[str]:
    return sorted(set(_OPENERS) | set(_BUILTIN))


def scheme_of(spec: str) -> str | None:
    """The URL scheme of a specification (lower case), or None for a plain path."""
    match = _SCHEME.match(spec.strip())
    return match.group(1).lower() if match else None


def _opener_for(scheme: str) -> Opener:
    if scheme not in _OPENERS and scheme in _BUILTIN:
        importlib.import_module(_BUILTIN[scheme])
    try:
        return _OPENERS[scheme]
    except KeyError:
        known = ", ".join(f"{s}:" for s in registered_schemes())
        raise BackendConfigurationError(
            f"no backend for '{scheme}:' URLs; use a catalog path or one of: {known}"
        ) from None


def open_spec(spec: str | os.PathLike[str], options: OpenOptions | None = None) -> Backend:
    """Open a backend from a path or URL (the scheme picks the engine; a path is a catalog)."""
    options = options or OpenOptions()
    text = os.fspath(spec) if not isinstance(spec, str) else spec
    if not text.strip():
        raise QueryValidationError("the backend is empty: give a catalog path or an AuroraX API URL")
    scheme = scheme_of(text) if isinstance(spec, str) else None
    return _opener_for(scheme or "sqlite")(text.strip(), options)


def _sqlite_path(spec: str) -> Path:
    """``sqlite:///abs/path``, ``sqlite:rel/path``, ``file:...`` or a plain path -> the file."""
    scheme = scheme_of(spec)
    if scheme is None:
        return Path(spec).expanduser()
    parts = urlsplit(spec)
    path = unquote(parts.path)
    if parts.netloc and parts.netloc not in ("", "localhost"):
        raise BackendConfigurationError(
            f"{spec!r}: a {scheme}: catalog must be on this machine (sqlite:///path/to/catalog.sqlite)"
        )
    if not path:
        raise BackendConfigurationError(f"{spec!r} names no file; use {scheme}:///path/to/catalog.sqlite")
    return Path(path).expanduser()


def _open_sqlite(spec: str, options: OpenOptions) -> Backend:
    from .catalog import CatalogBackend

    path = _sqlite_path(spec)
    if options.build_demo_if_missing and not path.exists():
        from ..demo import ensure_demo_catalog

        ensure_demo_catalog(path)
    return CatalogBackend(path, readonly=options.readonly)


def _open_remote(spec: str, options: OpenOptions) -> Backend:
    from .remote import RemoteBackend

    return RemoteBackend(spec, api_key=options.api_key)


register_backend(("sqlite", "file"), _open_sqlite)
register_backend(("http", "https"), _open_remote)


def open_backend(
    backend: Backend | str | os.PathLike[str] | None = None,
    *,
    api_key: str | None = None,
    build_demo_if_missing: bool = True,
    readonly: bool = False,
) -> Backend:
    """Resolve a backend specification.

    ``None`` means: ``AURORAX_API_URL`` if set, else ``AURORAX_CATALOG`` (a path or any registered
    URL), else the per-user catalog, built as the demo archive the first time. A string is opened by
    its URL scheme (``http(s)://`` an AuroraX API, ``sqlite:`` or a plain path a catalog file ...).

    Raises:
        CatalogError: the catalog cannot be opened.
        BackendConfigurationError: no backend handles the URL's scheme.
        QueryValidationError: the specification is not a URL, path or backend.
    """
    if backend is not None and not isinstance(backend, (str, os.PathLike)):
        if isinstance(backend, Backend):
            return backend
        raise QueryValidationError(
            f"backend must be an AuroraX API URL, a catalog path or a Backend, got {type(backend).__name__}"
        )
    key = api_key or os.environ.get(config.ENV_API_KEY) or None
    if backend is not None:
        return open_spec(backend, OpenOptions(api_key=key, readonly=readonly))
    env_url = config.api_url_from_env()
    if env_url:
        return open_spec(env_url, OpenOptions(api_key=key, readonly=readonly))
    explicit = os.environ.get(config.ENV_CATALOG, "").strip()
    options = OpenOptions(api_key=key, readonly=readonly, build_demo_if_missing=build_demo_if_missing)
    return open_spec(explicit or config.default_catalog_path(), options)
