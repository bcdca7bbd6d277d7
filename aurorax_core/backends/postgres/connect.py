"""PostgreSQL URLs, the connection pool, and psycopg's errors as the project's typed errors.

A catalog URL is a libpq URL (``postgresql://user:password@host:port/database``) plus two options
of ours, read from the query string (or the environment) and removed before libpq sees it:
``pool_max`` (most connections this process opens, default 10, ``AURORAX_PG_POOL_MAX``) and
``pool_timeout`` (seconds a search waits for a free connection before failing, default 30,
``AURORAX_PG_POOL_TIMEOUT``). The password never appears in a message: names show it as ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import (
    BackendConfigurationError,
    CatalogAccessDenied,
    CatalogError,
    CatalogUnavailable,
)

ENV_POOL_MAX: Final = "AURORAX_PG_POOL_MAX"
ENV_POOL_TIMEOUT: Final = "AURORAX_PG_POOL_TIMEOUT"
DEFAULT_POOL_MAX: Final = 10
DEFAULT_POOL_TIMEOUT: Final = 30.0
DEFAULT_CONNECT_TIMEOUT: Final = 10
SCHEMES: Final = ("postgresql", "postgres")
_OUR_OPTIONS: Final = ("pool_max", "pool_timeout")
_PASSWORD_RE: Final = re.compile(r"(://[^:/@]*:)[^@/]*@")
_EXAMPLE: Final = "postgresql://user:password@host:5432/database"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a PostgreSQL catalog is: the libpq connection string and our pool settings."""

    conninfo: str
    display: str
    pool_max: int
    pool_timeout: float


def redact(spec: str) -> str:
    """The URL with its password replaced by ``***`` (for names and messages)."""
    return _PASSWORD_RE.sub(r"\1***@", spec)


def _number(text: str, name: str, display: str, kind: type[int] | type[float], low: float) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise BackendConfigurationError(
            f"{display}: {name} must be a number of at least {low:g}, got {text!r} (e.g. ?{name}=10)"
        )
    return value


def parse_url(spec: str) -> Target:
    """Check a ``postgresql://`` URL and split off our options.

    Raises:
        BackendConfigurationError: the URL does not parse, has another scheme, a bad port, or a
            bad ``pool_max`` / ``pool_timeout``.
    """
    from psycopg.conninfo import conninfo_to_dict

    display = redact(spec.strip())
    try:
        parts = urlsplit(spec.strip())
        port = parts.port
    except ValueError as exc:
        raise BackendConfigurationError(f"{display} is not a PostgreSQL URL ({exc}); use {_EXAMPLE}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise BackendConfigurationError(f"{display} is not a PostgreSQL URL; use {_EXAMPLE}")
    if port == 0:
        raise BackendConfigurationError(f"{display}: port 0 is not a server port; use {_EXAMPLE}")
    options = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in options if k in _OUR_OPTIONS}
    rest = [(k, v) for k, v in options if k not in _OUR_OPTIONS]
    if not any(k == "connect_timeout" for k, _ in rest):
        rest.append(("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT)))
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    try:
        conninfo_to_dict(conninfo)
    except Exception as exc:  # psycopg.ProgrammingError: libpq's own parser said no
        raise BackendConfigurationError(
            f"{display} is not a PostgreSQL URL ({str(exc).strip()}); use {_EXAMPLE} (options other than "
            "libpq's and pool_max / pool_timeout are not allowed)"
        ) from None
    pool_max = _number(
        ours.get("pool_max") or os.environ.get(ENV_POOL_MAX) or str(DEFAULT_POOL_MAX), "pool_max", display, int, 1
    )
    pool_timeout = _number(
        ours.get("pool_timeout") or os.environ.get(ENV_POOL_TIMEOUT) or str(DEFAULT_POOL_TIMEOUT),
        "pool_timeout",
        display,
        float,
        0.1,
    )
    return Target(conninfo, display, pool_max, pool_timeout)


_AUTH_MARKS: Final = ("password authentication failed", "no password supplied", "authentication failed", 'role "')
_DOWN_MARKS: Final = (
    "connection refused",
    "could not connect",
    "connection to server",
    "timeout expired",
    "server closed the connection",
    "terminating connection",
    "connection is lost",
    "connection is closed",
    "consuming input failed",
    "could not receive data",
    "could not send data",
    "the connection is closed",
    "could not translate host name",
    "name or service not known",
    "no route to host",
)


def translate(exc: BaseException, target: Target, doing: str, waited: float | None = None) -> CatalogError:
    """A typed error for a psycopg / pool failure while ``doing`` something (a short verb phrase);
    ``waited`` is how long a connection was waited for when not the pool's timeout."""
    import psycopg
    from psycopg_pool import PoolTimeout

    where = target.display
    if isinstance(exc, PoolTimeout):
        return CatalogUnavailable(
            f"cannot {doing}: no connection to {where} became free within "
            f"{target.pool_timeout if waited is None else waited:g} s (all "
            f"{target.pool_max} of this process's connections are busy, or the server does not answer); retry, "
            f"or allow more with ?pool_max=N / {ENV_POOL_MAX}"
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = str(exc).lower()
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return CatalogAccessDenied(f"cannot {doing}: {where} refused the permission ({text}); grant it to this user")
    if isinstance(exc, psycopg.OperationalError):
        if "database" in lowered and "does not exist" in lowered:
            return CatalogError(f"cannot {doing}: {text} on {where}; create it first (createdb) or fix the URL")
        if any(mark in lowered for mark in _AUTH_MARKS):
            return CatalogAccessDenied(
                f"cannot {doing}: {where} refused the user or password ({text}); check the user and password in "
                "the URL (or ~/.pgpass)"
            )
        if any(mark in lowered for mark in _DOWN_MARKS) or isinstance(exc, psycopg.errors.AdminShutdown):
            return CatalogUnavailable(
                f"cannot {doing}: the PostgreSQL server at {where} is not reachable or dropped the connection "
                f"({text}); check that it runs and try again"
            )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return CatalogUnavailable(f"cannot {doing}: the server cancelled the statement ({text})")
    return CatalogError(f"cannot {doing} ({where}): {text}")


@contextmanager
def translated(target: Target, doing: str, waited: float | None = None) -> Iterator[None]:
    """Re-raise psycopg and pool errors as typed errors (no traceback reaches a user)."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        yield
    except (psycopg.Error, PoolTimeout) as exc:
        raise translate(exc, target, doing, waited) from None


def connect(target: Target) -> Any:
    """One autocommit connection (schema work, the first check), errors typed."""
    import psycopg

    with translated(target, "connect to the catalog"):
        return psycopg.connect(target.conninfo, autocommit=True)


def check_idle(conn: Any) -> None:
    """The pool's check of a connection it hands out, without a round trip (ConnectionPool's own
    check sends a query: ~2 ms of a 2 ms search). An idle connection has nothing to read; one the
    server ended (restart, pg_terminate_backend, idle timeout) has its goodbye or EOF waiting."""
    import select

    import psycopg

    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        conn.close()  # closed, the pool drops it instead of offering it again
        raise psycopg.OperationalError("the server closed the connection while it was idle")


def make_pool(target: Target) -> Any:
    """The connection pool searches and writes take their connections from (opened, at least one
    connection ready). Connections are checked when taken (``check_idle``) and a broken one is
    replaced, so a search after a dropped connection or a server restart gets a working one."""
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        target.conninfo,
        min_size=1,
        max_size=target.pool_max,
        timeout=target.pool_timeout,
        kwargs={"autocommit": True},
        check=check_idle,
        open=False,
        name="aurorax-catalog",
    )
    with translated(target, "connect to the catalog"):
        pool.open(wait=True, timeout=max(target.pool_timeout, DEFAULT_CONNECT_TIMEOUT))
    return pool
