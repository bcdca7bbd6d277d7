"""Output helpers shared by the CLI command groups: plain-text tables, sizes, atomic JSON files.

Kept free of third-party dependencies: aurorax-cli uses texttable and humanize; these reproduce
the parts of their output that the commands print.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import secrets
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from .. import config
from ..backends.base import Backend
from ..errors import AuroraXCoreError, CatalogError

# aurorax-cli (click) also exits 2 on usage errors; argparse does the same, so we keep the convention.
EXIT_CODES = (
    "Exit codes: 0 success; 1 error (bad input, missing file, unreachable API, unknown request id ...), "
    "reported on one line as 'Error: ...'; 2 command-line usage error (unknown option, missing argument)."
)

__all__ = [
    "EXIT_CODES",
    "bounded_int",
    "catalog_errors",
    "catalog_url",
    "check_catalog_location",
    "command",
    "data_url",
    "format_table",
    "intcomma",
    "natural_size",
    "open_backend_for",
    "precise_duration",
    "timestamp_text",
    "write_json_atomic",
    "write_text_atomic",
]


def command(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command handler: output that the terminal cannot encode is escaped, never a traceback."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if callable(reconfigure):
                # e.g. a latin-1 terminal and a table with "↓" or a non-ASCII site name.
                with contextlib.suppress(Exception):
                    reconfigure(errors="backslashreplace")
        return func(args)

    return run


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` for an integer option within [low, high] (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def intcomma(value: int | float | None) -> str:
    """``1234567`` -> ``1,234,567`` (humanize.intcomma); None -> ``-``."""
    if value is None:
        return "-"
    return f"{value:,}"


def precise_duration(milliseconds: float) -> str:
    """A duration as humanize.precisedelta prints it (aurorax-cli's "Query duration").

    ``0 seconds``, ``0.30 seconds``, ``1 second``, ``1 minute and 5 seconds``,
    ``1 hour, 2 minutes and 5.50 seconds``: whole units down to minutes, then the seconds
    rounded to two decimals (written without decimals when whole); zero units left out.
    The arithmetic follows humanize step by step (integer seconds, then microseconds), so
    that float rounding lands on the same side.
    """
    delta = timedelta(milliseconds=max(float(milliseconds), 0.0))
    days, secs = divmod(delta.days * 86400 + delta.seconds, 86400)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    seconds = float(f"{(secs * 1e6 + delta.microseconds) / 1e6:0.2f}")
    if seconds >= 60:  # 59.999 s rounds up to a whole minute
        seconds -= 60
        minutes += 1
    if minutes >= 60:
        minutes -= 60
        hours += 1
    if hours >= 24:
        hours -= 24
        days += 1
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")) if n
    ]
    if seconds > 0 or not parts:
        plural = "" if int(seconds) == 1 and not 1 < seconds < 2 else "s"
        text = f"{seconds:0.2f}" if seconds % 1 else f"{int(seconds)}"
        parts.append(f"{text} second{plural}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


_SIZE_SUFFIXES: Final = ("kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB", "RB", "QB")


def natural_size(num_bytes: float) -> str:
    """A decimal size as humanize.naturalsize prints it (aurorax-cli's sizes): ``419.9 kB``, ``1.0 MB``.

    Unlike :func:`aurorax_core.progress.natural_size`, a mantissa that rounds up to 1000 moves
    to the next unit (999,950 bytes is ``1.0 MB``, not ``1000.0 kB``), as humanize 4.x does.
    """
    value = float(num_bytes)
    magnitude = abs(value)
    if magnitude == 1:
        return f"{int(value)} Byte"
    if magnitude < 1000:
        return f"{int(value)} Bytes"
    exp = int(min(math.log(magnitude, 1000), len(_SIZE_SUFFIXES)))
    if exp < len(_SIZE_SUFFIXES) and abs(float(f"{magnitude / 1000**exp:.1f}")) >= 1000:
        exp += 1
    return f"{value / 1000**exp:.1f} {_SIZE_SUFFIXES[exp - 1]}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned plain-text columns under a ``=`` rule: texttable's HEADER decoration, as aurorax-cli prints.

    Every cell is padded to its column's width (so lines keep texttable's trailing blanks); a cell
    with several lines spans several physical lines, the other columns blank.
    """
    cells = [[_cell(value).split("\n") for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, lines in enumerate(row):
            widths[i] = max(widths[i], *(len(line) for line in lines))
    gap = "   "

    def line(values: Sequence[str]) -> str:
        return gap.join(v.ljust(w) for v, w in zip(values, widths, strict=True))

    out = [line(list(headers)), "=" * (sum(widths) + len(gap) * (len(widths) - 1))]
    for row in cells:
        height = max(len(lines) for lines in row)
        for k in range(height):
            out.append(line([lines[k] if k < len(lines) else "" for lines in row]))
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return str(value.replace(tzinfo=None))
    return "\n".join(str(value).splitlines()) or ""


def timestamp_text(value: Any) -> str:
    """An AuroraX timestamp as aurorax-cli prints it (``2024-11-27 21:41:14.348602``), or ``-``."""
    if value is None or value == "":
        return "-"
    from ..models import parse_time

    try:
        return str(parse_time(value).replace(tzinfo=None))
    except AuroraXCoreError:
        return str(value)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and os.replace: never a half-written file.

    Only regular files are replaced. A path that exists but is not a regular file (``/dev/null``,
    ``/dev/stdout``, a FIFO) is written to directly, as a stream: replacing it would swap a device
    node for a plain file. A symbolic link is written through: its target is replaced.

    Raises:
        AuroraXCoreError: the directory does not exist or is not writable, or the disk is full.
    """
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(text)
            return
    except OSError as exc:
        raise AuroraXCoreError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise AuroraXCoreError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist")
    if path.is_dir():
        raise AuroraXCoreError(f"cannot write {str(path)!r}: it is a directory; give a file name")
    tmp_name: Path | None = None
    try:
        # open(..., "x") rather than mkstemp: the file gets the usual umask permissions, not 0600.
        tmp_name = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        with open(tmp_name, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise AuroraXCoreError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """See :func:`_write_atomic`."""
    _write_atomic(Path(path), text)


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, indent: int | None, minify: bool) -> None:
    """Write JSON exactly as aurorax-cli does (``json.dump(data, fp, indent=N)``, or no indent when minified).

    Raises:
        AuroraXCoreError: the file cannot be written.
    """
    text = json.dumps(data) if minify else json.dumps(data, indent=indent)
    _write_atomic(Path(path), text)


@contextlib.contextmanager
def catalog_errors(path: Any) -> Iterator[None]:
    """Turn low-level SQLite/OS failures into one-line CatalogErrors (the CLI never shows a traceback)."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise CatalogError(
                f"{path} is not an SQLite catalog ({exc}); give a catalog built by `aurorax-core catalog ingest` "
                "or `catalog demo`, or a new file name"
            ) from None
        raise CatalogError(f"cannot use catalog {path}: {exc}") from None
    except PermissionError as exc:
        raise CatalogError(f"cannot access catalog {path}: {exc.strerror or exc}") from None


def open_backend_for(args: argparse.Namespace, *, must_exist: bool = True, quiet: bool = False) -> Backend:
    """The backend chosen by the global options, with the checks a command line needs first.

    ``must_exist``: a read-only command on a ``--catalog`` that does not exist is a user error (a
    typo would otherwise create an empty catalog and find nothing).

    Raises:
        CatalogError: the catalog is missing, is not SQLite, or its directory is missing/read-only.
        BackendError: the API URL is unusable.
    """
    from . import _common

    api_url = getattr(args, "api_url", None) or (None if getattr(args, "catalog", None) else config.api_url_from_env())
    if api_url or catalog_url(args):
        # a catalog database (postgresql://...) has no file to check: the registry opens it
        return _common.backend_from_args(args)
    explicit = getattr(args, "catalog", None)
    path = config.catalog_path(explicit)
    if explicit and must_exist and not path.exists():
        raise CatalogError(
            f"catalog {str(path)!r} does not exist; check the path, or create it with "
            f"`aurorax-core --catalog {path} catalog ingest FILE...` or `... catalog demo`"
        )
    check_catalog_location(path, explicit=bool(explicit))
    if not path.exists() and not explicit and not quiet:
        print(
            f"[{datetime.now()}] No catalog at {path} yet: building the demo archive (synthetic data) "
            "the first time; this takes a moment ...",
            file=sys.stderr,
            flush=True,
        )
    with catalog_errors(path):
        return _common.backend_from_args(args)


def catalog_url(args: argparse.Namespace) -> str | None:
    """``--catalog`` / ``AURORAX_CATALOG`` when it is a catalog database URL (``postgresql://...``),
    None when it is a catalog file (a path or ``sqlite:``/``file:``) or unset."""
    from ..backends.registry import scheme_of

    value = str(getattr(args, "catalog", None) or os.environ.get(config.ENV_CATALOG, "")).strip()
    if not value or scheme_of(value) in (None, "sqlite", "file"):
        return None
    return value


def check_catalog_location(path: Path, *, explicit: bool) -> None:
    """Checks before a catalog file is opened or created, with messages that say what to do.

    A directory is refused; for a file that does not exist yet, its directory must be writable
    and, when the user named the path (``explicit``), must already exist (the default location's
    directory is created as needed).

    Raises:
        CatalogError: the path is a directory, or the catalog cannot be created there.
    """
    if path.is_dir():
        raise CatalogError(f"catalog {str(path)!r} is a directory; give a file name such as {path / 'catalog.sqlite'}")
    if path.exists() and not path.is_file():
        # e.g. /dev/null: SQLite (and the demo builder, which replaces the file) must not touch it.
        raise CatalogError(f"catalog {str(path)!r} is not a regular file; give a catalog file name")
    if path.exists():
        return
    directory = path.parent
    if explicit and not directory.is_dir():
        raise CatalogError(
            f"cannot create catalog {str(path)!r}: directory {str(directory)!r} does not exist; create it first"
        )
    if directory.is_dir() and not _can_create_in(directory):
        raise CatalogError(
            f"cannot create catalog {str(path)!r}: directory {str(directory)!r} is not writable; "
            "choose another location with --catalog"
        )


def _can_create_in(directory: Path) -> bool:
    # A real probe, not os.access(): root passes access() checks on directories where file
    # creation still fails (read-only mounts, sysfs).
    try:
        fd, name = tempfile.mkstemp(prefix=".aurorax-core-probe.", dir=directory)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


def data_url(backend: Backend, data_uri: Any) -> str:
    """``<api base><data_uri>`` for a remote backend, the URI alone for the catalog."""
    if not data_uri:
        return "-"
    name = getattr(backend, "name", "")
    if isinstance(name, str) and name.lower().startswith(("http://", "https://")):
        return f"{name.rstrip('/')}{data_uri}"
    return str(data_uri)
