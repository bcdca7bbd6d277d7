"""The catalog in PostgreSQL: ``backend="postgresql://user:password@host:port/database"``.

Importing this package registers the ``postgresql:`` and ``postgres:`` schemes with
:func:`aurorax_core.backends.open_backend` (the registry imports it on first use of either).
Modules: ``connect`` (URL, pool, typed errors), ``schema`` (tables, versions, migrations),
``plan`` (query -> SQL), ``rows`` (rows -> records), ``validate`` + ``ingest`` (COPY loads),
``requests`` (the CLI's request lifecycle), ``store`` (the backend), ``demo`` (the demo archive).
"""

from __future__ import annotations

from ..registry import OpenOptions, register_backend
from .connect import SCHEMES, parse_url, redact
from .schema import SCHEMA_VERSION
from .store import PostgresBackend

__all__ = ["SCHEMA_VERSION", "PostgresBackend", "parse_url", "redact"]


def _open(spec: str, options: OpenOptions) -> PostgresBackend:
    return PostgresBackend(spec, readonly=options.readonly)


register_backend(SCHEMES, _open)
