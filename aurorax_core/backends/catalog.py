"""The embedded local catalog: an SQLite file searched with the exact semantics of AuroraX.

Storage (one file of 16 KiB pages, WAL journal so that several processes can read it while one
writes):

* ``sources``: one row per data source, keyed by its AuroraX ``identifier``, with the full record
  as JSON and the (program, platform, instrument_type) triple as a unique key.
* ``products``: one row per data product: source id, type code, start/end as integer epoch
  seconds (UTC), url (unique index: the record's identity), ``sub_code`` (the denormalised value
  of the record's own ``<type>_type`` metadata key, e.g. ``keogram_type = daily``, as a code of
  the small ``sub_types`` table of (type, text) pairs) and the metadata as
  JSON text exactly as :func:`json.dumps` writes it (so the AuroraX JSON size of a result is
  computed exactly from stored lengths). Indexes: ``(source_id, start_s)`` and
  ``(sub_code, start_s)``, chosen by measuring the benchmark queries (bench/bench_catalog.py).
* ``day_counts`` / ``type_counts``: per-source counts maintained by every write, so that
  availability and stats never scan the products.
* ``metadata_keys`` / ``metadata_values``: the distinct values of each metadata key (up to
  :data:`MAX_LISTED_VALUES` per key), maintained at ingest for the dashboard's filter builder.
* ``search_requests``: the last :data:`MAX_TRACKED_REQUESTS` requests made with :meth:`submit`
  (query, logs, counts, zlib-compressed result URLs), so that the request lifecycle (status,
  logs, data, resubmit) works offline. A plain :meth:`search` writes nothing.

Search plan: the data-source constraints resolve to a set of source ids in Python (the source
table is small and cached), the SQL is then ``source_id IN (...) AND start >= ? AND start <= ?
AND end <= ?`` on the ``(source_id, start)`` index, narrowed by ``sub_code IN (...)`` when the
query filters on a ``<type>_type`` key (exactly, for plain string values), and the remaining
metadata filters are evaluated exactly in Python on the prefiltered rows (typed by the source's
metadata schema). All values are bound parameters. Results are sorted by start time, then URL.

Threads: every thread gets its own SQLite connection (``threading.local``), so ``search()`` and
the other read methods may be called from many threads at once; connections of threads that have
ended are closed when a new one is opened. Writes are serialised by a lock inside the process
and by ``BEGIN IMMEDIATE`` across processes; each write call is one transaction, so a failure
(or a kill) leaves the catalog as it was before the call. An ingest into a catalog that no other
connection has open goes through a rollback journal (half the disk writes of the WAL; see
``CatalogBackend._journal_for_load``). An ingest into an empty catalog drops
the product indexes and builds them at the end of the same transaction (other processes keep
seeing the committed catalog, indexes included).
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import sqlite3
import threading
import time
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate, pairwise
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from ..errors import (
    CatalogError,
    ConflictError,
    DuplicateError,
    NotFound,
    QueryValidationError,
    RecordValidationError,
    SearchCancelled,
    SearchFailed,
    SearchTimeout,
)
from ..events import (
    STAGE_AVAILABLE,
    STAGE_CREATED,
    STAGE_REQUEST_ID,
    STAGE_RETRIEVED,
    STAGE_RETRIEVING,
    STAGE_SUBMITTED,
    STAGE_WAITING,
    CancelToken,
    ProgressCallback,
)
from ..models import DATA_PRODUCT_TYPES, DATA_SOURCE_FIELDS, DataProduct, DataSource, format_time, parse_time
from ..progress import emit, natural_size
from ..query import DataProductQuery, MetadataFilterExpression
from ..results import LogEntry, SearchBody, SearchResult, SourceLayout
from .base import Availability

SCHEMA_VERSION: Final = 2  # 1: development catalogs with a text sub_type column
APPLICATION_ID: Final = 0x41555258  # "AURX": marks an SQLite file as an aurorax-core catalog
MAX_TRACKED_REQUESTS: Final = 200
MAX_LISTED_VALUES: Final = 100
DEFAULT_BATCH_SIZE: Final = 50_000
PAGE_SIZE: Final = 16384
# How long a connection waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 30.0

# Fixed codes (never reorder): the products table stores the type as a small integer.
TYPE_CODES: Final[dict[str, int]] = {
    "keogram": 1,
    "montage": 2,
    "movie": 3,
    "summary_plot": 4,
    "data_availability": 5,
    "average": 6,
    "gridded_data": 7,
}
_TYPE_NAMES: Final[dict[int, str]] = {v: k for k, v in TYPE_CODES.items()}
assert set(TYPE_CODES) == set(DATA_PRODUCT_TYPES)
_SUB_TYPE_KEYS: Final[dict[str, int]] = {f"{name}_type": code for name, code in TYPE_CODES.items()}
_OWN_KEYS: Final[dict[int, str]] = {code: f"{name}_type" for name, code in TYPE_CODES.items()}

_NUMERIC_TYPES: Final = frozenset({"double", "int", "integer", "float", "long", "number", "decimal"})
_SQLITE_HEADER: Final = b"SQLite format 3\x00"
_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMBER_RE: Final = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
# Characters json.dumps writes verbatim inside a string (anything else is escaped).
_JSON_PLAIN_RE: Final = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")
# the same set as bytes.translate's delete argument: a text is plain when deleting these leaves nothing
_JSON_PLAIN_BYTES: Final = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
_DAY: Final = 86400
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
# The columns of a search row; with url and metadata as bytes for search_body (what its body is
# made of: no UTF-8 decoding on the way out of SQLite, nothing to encode afterwards).
_ROW_COLUMNS: Final = "source_id, type, start_s, end_s, url, metadata"
_ROW_COLUMNS_BYTES: Final = "source_id, type, start_s, end_s, CAST(url AS BLOB), CAST(metadata AS BLOB)"
_START: Final = itemgetter(2)
_URL: Final = itemgetter(4)
_TEXT_CACHE_LIMIT: Final = 200_000
_PLAIN_VALUE_TYPES: Final = frozenset({str, type(None)})
_CACHEABLE_VALUE_TYPES: Final = frozenset({str, type(None), bool, int})

# Named (not column constraints) so that a bulk load into an empty catalog can build them once at
# the end, inside the same transaction: ~1.5 us per record less than maintaining them row by row.
_PRODUCT_INDEXES: Final[dict[str, str]] = {
    "products_url": "CREATE UNIQUE INDEX IF NOT EXISTS products_url ON products (url)",
    "products_source_start": "CREATE INDEX IF NOT EXISTS products_source_start ON products (source_id, start_s)",
    "products_sub_start": "CREATE INDEX IF NOT EXISTS products_sub_start ON products (sub_code, start_s)",
}

_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS catalog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS sources (
        identifier INTEGER PRIMARY KEY,
        program TEXT NOT NULL,
        platform TEXT NOT NULL,
        instrument_type TEXT NOT NULL,
        source_type TEXT NOT NULL,
        display_name TEXT NOT NULL,
        owner TEXT,
        record TEXT NOT NULL,
        UNIQUE (program, platform, instrument_type)
    )""",
    """CREATE TABLE IF NOT EXISTS products (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL,
        type INTEGER NOT NULL,
        start_s INTEGER NOT NULL,
        end_s INTEGER NOT NULL CHECK (end_s >= start_s),
        url TEXT NOT NULL,
        sub_code INTEGER,
        metadata TEXT NOT NULL
    )""",
    *_PRODUCT_INDEXES.values(),
    """CREATE TABLE IF NOT EXISTS sub_types (
        code INTEGER PRIMARY KEY, type INTEGER NOT NULL, value TEXT NOT NULL, UNIQUE (type, value))""",
    """CREATE TABLE IF NOT EXISTS day_counts (
        source_id INTEGER NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (source_id, day)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS type_counts (
        source_id INTEGER NOT NULL, type INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (source_id, type)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS metadata_keys (
        key TEXT PRIMARY KEY, overflow INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS metadata_values (
        key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, value)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS search_requests (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        requested TEXT NOT NULL,
        completed TEXT,
        query TEXT NOT NULL,
        logs TEXT NOT NULL,
        result_count INTEGER,
        file_size INTEGER,
        query_duration INTEGER,
        error_condition INTEGER NOT NULL DEFAULT 0,
        urls BLOB
    )""",
)


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """What an ingest (or upload) did.

    Attributes:
        inserted: new data products.
        updated: existing data products (same URL) replaced.
        sources_added: data sources created (from a sources file or a product's own data_source).
        seconds: wall-clock duration of the call.
        sources_updated: data sources replaced by a sources file.
    """

    inserted: int = 0
    updated: int = 0
    sources_added: int = 0
    seconds: float = 0.0
    sources_updated: int = 0

    @property
    def records(self) -> int:
        """Data products written (inserted + updated)."""
        return self.inserted + self.updated

    @property
    def rate(self) -> float:
        """Data products written per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """One line for the terminal, e.g. ``inserted 10 records, updated 2, added 1 data source in 0.01 s``."""
        parts = [f"inserted {self.inserted:,} records", f"updated {self.updated:,}"]
        if self.sources_added:
            parts.append(f"added {self.sources_added} data source{'s' if self.sources_added != 1 else ''}")
        if self.sources_updated:
            parts.append(f"updated {self.sources_updated} data source{'s' if self.sources_updated != 1 else ''}")
        return ", ".join(parts) + f" in {self.seconds:.2f} s"


IngestProgress = Callable[[int], None]
"""Called after each written batch with the number of records processed so far."""


# --------------------------------------------------------------------------------------------
# Metadata filter semantics (PROTOCOL §3.7), evaluated in Python on prefiltered rows
# --------------------------------------------------------------------------------------------

_MISSING: Final = object()


def _as_number(value: Any) -> int | float | None:
    """The value as a number, or None. Booleans are not numbers; numeric strings are."""
    kind = type(value)
    if kind is int or kind is float:
        return value if kind is int or math.isfinite(value) else None
    if kind is str and _NUMBER_RE.match(value):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            number = float(text)
            return number if math.isfinite(number) else None
    return None


def _as_text(value: Any) -> str:
    """The value as a string: strings as is, booleans lower-case, null as 'null', else JSON."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int or kind is float:
        return repr(value)
    return json.dumps(value, sort_keys=True)


def _mode_for(data_type: str | None) -> str:
    if data_type is None:
        return "auto"
    data_type = str(data_type).strip().lower()
    if data_type in _NUMERIC_TYPES:
        return "numeric"
    if data_type in ("bool", "boolean"):
        return "bool"
    if data_type in ("string", "str", "text"):
        return "string"
    return "auto"


def _compare(mode: str, left: Any, right: Any) -> int | None:
    """-1/0/1 comparing a record value with a filter value, or None when they cannot be compared."""
    if mode == "numeric":
        a, b = _as_number(left), _as_number(right)
        if a is None or b is None:
            return None
    elif mode == "bool":
        a, b = _as_text(left).lower(), _as_text(right).lower()
    elif mode == "string":
        a, b = _as_text(left), _as_text(right)
    else:
        a, b = _as_number(left), _as_number(right)
        if a is None or b is None:
            a, b = _as_text(left), _as_text(right)
    return (a > b) - (a < b)  # type: ignore[operator]


def _compile_expression(expr: MetadataFilterExpression, mode: str) -> Callable[[dict[str, Any]], bool]:
    key, op, values = expr.key, expr.operator, expr.values
    if mode == "auto" and all(type(v) is str and _as_number(v) is None for v in values):
        # Common case (keogram_type = daily): plain string comparison, no per-row number parsing.
        texts = tuple(values)
        if op == "=" or op == "in":
            wanted = frozenset(texts)
            return lambda md: (v := md.get(key, _MISSING)) is not _MISSING and _as_text(v) in wanted
        if op == "!=" or op == "not in":
            unwanted = frozenset(texts)
            return lambda md: (v := md.get(key, _MISSING)) is not _MISSING and _as_text(v) not in unwanted

    def compare_all(md: dict[str, Any]) -> bool:
        value = md.get(key, _MISSING)
        if value is _MISSING:
            return False
        results = [_compare(mode, value, v) for v in values]
        if op == "=" or op == "in":
            return any(c == 0 for c in results)
        if op == "!=" or op == "not in":
            return all(c is not None and c != 0 for c in results)
        if op == "between":
            return results[0] is not None and results[0] >= 0 and results[1] is not None and results[1] <= 0
        c = results[0]
        if c is None:
            return False
        if op == ">":
            return c > 0
        if op == "<":
            return c < 0
        if op == ">=":
            return c >= 0
        return c <= 0  # "<="

    return compare_all


def compile_metadata_filter(
    expressions: Sequence[MetadataFilterExpression],
    logical_operator: str,
    data_types: Mapping[str, str] | None = None,
) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate over a record's metadata implementing PROTOCOL §3.7, or None when no filter.

    ``data_types`` maps metadata keys to the source's schema ``data_type``: ``double``/``int``
    compare numerically, ``bool`` as lower-case ``true``/``false``, ``string`` as text; keys
    without a schema entry compare numerically when both sides are numbers, else as text. A record
    that lacks the key never satisfies the expression, whatever the operator. ``between`` is
    inclusive at both ends.
    """
    if not expressions:
        return None
    types = data_types or {}
    preds = [_compile_expression(e, _mode_for(types.get(e.key))) for e in expressions]
    if len(preds) == 1:
        return preds[0]
    if logical_operator.upper() == "OR":
        return lambda md: any(p(md) for p in preds)
    return lambda md: all(p(md) for p in preds)


class _SourcePredicates(dict[int, Callable[[dict[str, Any]], bool] | None]):
    """``preds[source_id]``: the metadata filter compiled for that source's schema types (or None
    when there is no filter), compiled on first use."""

    def __init__(self, filters: Sequence[MetadataFilterExpression], logical: str, cache: _SourceCache) -> None:
        super().__init__()
        self._filters = filters
        self._logical = logical
        self._data_types = cache.data_types

    def __missing__(self, sid: int) -> Callable[[dict[str, Any]], bool] | None:
        pred = self[sid] = compile_metadata_filter(self._filters, self._logical, self._data_types.get(sid))
        return pred


# --------------------------------------------------------------------------------------------
# Cached view of the sources table
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _SourceCache:
    generation: str
    by_id: dict[int, DataSource]
    by_key: dict[tuple[str, str, str], int]
    data_types: dict[int, dict[str, str]]
    cross_keys: frozenset[str]
    basic_json_len: dict[int, int] = field(default_factory=dict)
    # type code -> {sub-type text -> sub_code}
    sub_codes: dict[int, dict[str, int]] = field(default_factory=dict)

    def select(
        self, programs: Sequence[str], platforms: Sequence[str], instrument_types: Sequence[str]
    ) -> list[int] | None:
        """Source ids matching the constraints, or None when there is no constraint."""
        if not programs and not platforms and not instrument_types:
            return None
        progs, plats, insts = set(programs), set(platforms), set(instrument_types)
        return sorted(
            sid
            for sid, s in self.by_id.items()
            if (not progs or s.program in progs)
            and (not plats or s.platform in plats)
            and (not insts or s.instrument_type in insts)
        )


def _source_record_json(source: DataSource) -> str:
    record = source.to_api_dict("full_record")
    return json.dumps(record)


def _source_from_row(identifier: int, record: str) -> DataSource:
    data = json.loads(record)
    data["identifier"] = identifier
    return DataSource.from_api_dict(data)


# --------------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------------


class CatalogBackend:
    """The embedded local catalog (an SQLite file): a :class:`Backend` with request tracking.

    Args:
        path: the catalog file. It is created (with its directory, when the parent chain can be
            created) when missing, unless ``readonly``.
        readonly: open for reading only; every write method then raises :class:`CatalogError`.

    Raises:
        CatalogError: the file cannot be created or opened, is not an SQLite database, is an
            SQLite database without the aurorax-core schema, or was written by a newer version.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self._path = Path(path).expanduser()
        self._readonly = readonly
        self._immutable = False
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conn_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._cache: _SourceCache | None = None
        self._cache_lock = threading.Lock()
        self._closed = False
        self._prepare_path()
        self._initialise(self._conn())

    # --- connections ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``catalog <path>``."""
        return f"catalog {self._path}"

    @property
    def path(self) -> Path:
        """The catalog file."""
        return self._path

    @property
    def readonly(self) -> bool:
        """True when the catalog was opened read-only (explicitly or because it cannot be written)."""
        return self._readonly

    def _prepare_path(self) -> None:
        path = self._path
        hint = "pass another --catalog path (or set AURORAX_CATALOG)"
        if path.is_dir():
            raise CatalogError(f"catalog path {str(path)!r} is a directory; {hint}, e.g. {path / 'catalog.sqlite'}")
        parent = path.parent
        if not path.exists():
            if self._readonly:
                raise CatalogError(f"catalog {str(path)!r} does not exist; {hint} or build it with `catalog ingest`")
            if not parent.is_dir():
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise CatalogError(
                        f"cannot create the directory {str(parent)!r} for the catalog ({exc.strerror or exc}); {hint}"
                    ) from None
            if not os.access(parent, os.W_OK | os.X_OK):
                raise CatalogError(f"cannot create the catalog in {str(parent)!r}: the directory is read-only; {hint}")
            return
        try:
            with path.open("rb") as handle:
                header = handle.read(16)
        except OSError as exc:
            raise CatalogError(f"cannot read catalog {str(path)!r} ({exc.strerror or exc}); {hint}") from None
        if header and header != _SQLITE_HEADER:
            raise CatalogError(
                f"{path} is not an aurorax-core catalog (not an SQLite database); pass another --catalog path or "
                "remove it"
            )
        if not self._readonly and not (os.access(path, os.W_OK) and os.access(parent, os.W_OK | os.X_OK)):
            # A catalog shipped on read-only media is still searchable.
            self._readonly = True
        if self._readonly and not os.access(parent, os.W_OK | os.X_OK):
            wal = Path(f"{path}-wal")
            # Without a writable directory SQLite cannot create the WAL index; read the file as
            # immutable (nobody can be writing it either).
            self._immutable = not (wal.exists() and Path(f"{path}-shm").exists())

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise CatalogError(f"catalog {self._path} is closed")
        try:
            if self._readonly:
                uri = f"file:{quote(str(self._path.resolve()))}?mode=ro"
                if self._immutable:
                    uri += "&immutable=1"
                conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                    cached_statements=512,
                )
            else:
                conn = sqlite3.connect(
                    str(self._path),
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                    cached_statements=512,
                )
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA mmap_size=1073741824")
            if not self._readonly:
                conn.execute("PRAGMA synchronous=NORMAL")
                # After a big ingest the WAL would otherwise keep its peak size on disk.
                conn.execute("PRAGMA journal_size_limit=67108864")
        except sqlite3.Error as exc:
            if _locked(exc):
                raise CatalogError(_locked_message(self._path, "open")) from None
            if self._readonly and Path(f"{self._path}-journal").exists():
                raise CatalogError(
                    f"catalog {self._path} was left in the middle of a write by a process that stopped "
                    f"({self._path}-journal holds what to undo); open it once with write access (for example "
                    f"`aurorax-core --catalog {self._path} catalog stats`) and it is restored as it was before"
                ) from None
            raise CatalogError(
                f"cannot open catalog {self._path} ({exc}); pass another --catalog path (or set AURORAX_CATALOG)"
            ) from None
        with self._conn_lock:
            # Connections of threads that have ended (e.g. a recycled worker pool) are closed.
            alive = []
            for thread, other in self._connections:
                if thread.is_alive():
                    alive.append((thread, other))
                else:
                    with suppress(sqlite3.Error):
                        other.close()
            alive.append((threading.current_thread(), conn))
            self._connections = alive
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every connection (from all threads). The object cannot be used afterwards."""
        self._closed = True
        with self._conn_lock:
            connections, self._connections = self._connections, []
        for _, conn in connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> CatalogBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CatalogBackend({str(self._path)!r}{', readonly=True' if self._readonly else ''})"

    def _initialise(self, conn: sqlite3.Connection) -> None:
        path = self._path
        not_ours = (
            f"{path} is an SQLite database but not an aurorax-core catalog (it has other tables); "
            "pass another --catalog path"
        )
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        except sqlite3.DatabaseError as exc:
            if _locked(exc):
                raise CatalogError(_locked_message(path, "open")) from None
            raise CatalogError(
                f"{path} is not an aurorax-core catalog (not an SQLite database: {exc}); pass another --catalog "
                "path or remove it"
            ) from None
        if app_id == APPLICATION_ID:
            if version < SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {path} was written by an older development version of aurorax-core (schema version "
                    f"{version}); rebuild it (remove the file, or pass another --catalog path and ingest again)"
                )
            if version > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {path} was written by a newer aurorax-core (schema version {version}; this version "
                    f"reads up to {SCHEMA_VERSION}); upgrade aurorax-core or pass another --catalog path"
                )
            if "products" not in tables or "sources" not in tables:
                raise CatalogError(f"catalog {path} is damaged (its tables are missing); rebuild it or remove it")
            if not self._readonly:
                # An ingest killed mid-way leaves the rollback journal mode (see
                # _journal_for_load); SQLite has rolled its journal back by now.
                with suppress(sqlite3.Error):
                    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
            return
        if tables:
            raise CatalogError(not_ours)
        if self._readonly:
            raise CatalogError(f"catalog {path} is empty (no aurorax-core schema) and was opened read-only")
        try:
            # Only a new, empty file takes a page size (before WAL mode). 16 KiB pages: a bulk load
            # writes a quarter as many WAL frames (one write call each) as with 4 KiB pages,
            # which halved the commit of a 500,000-record ingest (bench/bench_catalog.py).
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have created the schema while we waited for the lock.
                if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                    if conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
                        raise CatalogError(not_ours)
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT OR REPLACE INTO catalog_meta (key, value) VALUES ('generation', ?)", (uuid.uuid4().hex,)
                    )
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise CatalogError(
                f"cannot create the catalog schema in {path} ({exc}); pass another --catalog path"
            ) from None

    # --- cached sources ------------------------------------------------------------------------

    def _sources(self, conn: sqlite3.Connection | None = None) -> _SourceCache:
        conn = conn or self._conn()
        row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'generation'").fetchone()
        generation = row[0] if row else ""
        cache = self._cache
        if cache is not None and cache.generation == generation:
            return cache
        with self._cache_lock:
            cache = self._cache
            if cache is not None and cache.generation == generation:
                return cache
            cache = self._load_sources(conn, generation)
            self._cache = cache
            return cache

    @staticmethod
    def _load_sources(conn: sqlite3.Connection, generation: str) -> _SourceCache:
        by_id: dict[int, DataSource] = {}
        by_key: dict[tuple[str, str, str], int] = {}
        data_types: dict[int, dict[str, str]] = {}
        basic_len: dict[int, int] = {}
        for identifier, record in conn.execute("SELECT identifier, record FROM sources ORDER BY identifier"):
            source = _source_from_row(identifier, record)
            by_id[identifier] = source
            by_key[source.key] = identifier
            types: dict[str, str] = {}
            for entry in source.data_product_metadata_schema or []:
                if isinstance(entry, Mapping) and entry.get("field_name") and entry.get("data_type"):
                    types[str(entry["field_name"])] = str(entry["data_type"])
            data_types[identifier] = types
            basic_len[identifier] = len(json.dumps(source.to_api_dict("basic_info")))
        row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'cross_keys'").fetchone()
        cross = frozenset(json.loads(row[0])) if row else frozenset()
        sub_codes: dict[int, dict[str, int]] = {}
        for code, kind, value in conn.execute("SELECT code, type, value FROM sub_types"):
            sub_codes.setdefault(kind, {})[value] = code
        return _SourceCache(generation, by_id, by_key, data_types, cross, basic_len, sub_codes)

    # --- data sources --------------------------------------------------------------------------

    def list_sources(
        self,
        *,
        programs: tuple[str, ...] | list[str] = (),
        platforms: tuple[str, ...] | list[str] = (),
        instrument_types: tuple[str, ...] | list[str] = (),
        source_type: str | None = None,
        owner: str | None = None,
        include_stats: bool = False,
    ) -> list[DataSource]:
        """Full data-source records matching every given constraint, sorted by identifier.

        Lists are OR'ed inside (exact, case-sensitive); ``source_type`` and ``owner`` are exact.
        With ``include_stats`` every source carries the 6-key AuroraX stats object.
        """
        conn = self._conn()
        cache = self._sources(conn)
        ids = cache.select(tuple(programs), tuple(platforms), tuple(instrument_types))
        candidates = sorted(cache.by_id) if ids is None else ids
        out = []
        for sid in candidates:
            source = cache.by_id[sid]
            if source_type is not None and source.source_type != source_type:
                continue
            if owner is not None and source.owner != owner:
                continue
            out.append(self._with_stats(conn, source) if include_stats else source)
        return out

    def get_source(self, identifier: int, *, include_stats: bool = False) -> DataSource:
        """The data source with this identifier.

        Raises:
            NotFound: no such source ("No Data Source record found in AuroraX for identifier N").
        """
        conn = self._conn()
        try:
            key = int(identifier)
        except (TypeError, ValueError):
            raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404) from None
        source = self._sources(conn).by_id.get(key)
        if source is None:
            raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404)
        return self._with_stats(conn, source) if include_stats else source

    def get_source_by_key(self, program: str, platform: str, instrument_type: str) -> DataSource:
        """The data source with this program/platform/instrument_type.

        Raises:
            NotFound: no such source.
        """
        cache = self._sources()
        sid = cache.by_key.get((program, platform, instrument_type))
        if sid is None:
            raise NotFound(f"No matching data source found ({program}/{platform}/{instrument_type})", 404)
        return cache.by_id[sid]

    @staticmethod
    def _source_stats(conn: sqlite3.Connection, identifier: int) -> dict[str, Any]:
        count = conn.execute("SELECT coalesce(sum(n), 0) FROM type_counts WHERE source_id = ?", (identifier,))
        n = int(count.fetchone()[0])
        earliest = latest = None
        if n:
            # Each is one step down the (source_id, start_s) index.
            first = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s LIMIT 1", (identifier,)
            ).fetchone()
            last = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s DESC LIMIT 1", (identifier,)
            ).fetchone()
            earliest = format_time(datetime.fromtimestamp(first[0], UTC)) if first else None
            latest = format_time(datetime.fromtimestamp(last[0], UTC)) if last else None
        return {
            "ephemeris_count": 0,
            "data_product_count": n,
            "earliest_ephemeris_loaded": None,
            "latest_ephemeris_loaded": None,
            "earliest_data_product_loaded": earliest,
            "latest_data_product_loaded": latest,
        }

    def _with_stats(self, conn: sqlite3.Connection, source: DataSource) -> DataSource:
        assert source.identifier is not None
        return replace(source, stats=self._source_stats(conn, source.identifier))

    # --- search --------------------------------------------------------------------------------

    def describe(self, query: DataProductQuery) -> str:
        """The AuroraX-style description of the query (``query.describe()``)."""
        return query.describe()

    def search(
        self,
        query: DataProductQuery,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Run a search (PROTOCOL §3.7 semantics); records are sorted by start, then URL.

        Emits the AuroraX stages through ``progress``; never writes to the catalog.
        ``file_size`` is the exact size of the result as the AuroraX data endpoint's JSON
        (``{"result": [...]}`` with basic_info data sources, ``json.dumps`` spacing).

        Raises:
            SearchCancelled: ``cancel`` was set.
            SearchTimeout: ``timeout`` seconds passed.
            CatalogError: the catalog cannot be read.
        """
        started = time.perf_counter()
        deadline = started + timeout if timeout is not None else None
        request_id = str(uuid.uuid4())
        emit(progress, STAGE_CREATED, "Search object created")
        logs = [LogEntry("debug", "Search request arrived and saved", datetime.now(UTC))]
        emit(progress, STAGE_SUBMITTED, "Request submitted", request_id)
        emit(progress, STAGE_REQUEST_ID, f"Request ID: {request_id}", request_id)
        emit(progress, STAGE_WAITING, "Waiting for data ...", request_id)
        _check_stop(cancel, deadline, timeout)
        logs.append(LogEntry("info", f"Starting query for {request_id}", datetime.now(UTC)))
        products, file_size = self._execute(query, cancel, deadline, timeout)
        query_done = time.perf_counter()
        logs.append(LogEntry("info", f"Finished query in {query_done - started:.2f} seconds.", datetime.now(UTC)))
        logs.append(LogEntry("debug", "Starting to write data to file", datetime.now(UTC)))
        n = len(products)
        logs.append(LogEntry("info", f"Finished writing data, found {n} records in 0.00 seconds.", datetime.now(UTC)))
        logs.append(LogEntry("debug", f"File size is {file_size} bytes.", datetime.now(UTC)))
        finished = time.perf_counter()
        logs.append(
            LogEntry(
                "info", f"Finished search in {finished - started:.2f} seconds and found {n} records.", datetime.now(UTC)
            )
        )
        emit(progress, STAGE_AVAILABLE, "Data is now available", request_id)
        emit(progress, STAGE_RETRIEVING, "Retrieving data ...", request_id)
        emit(
            progress,
            STAGE_RETRIEVED,
            f"Retrieved {natural_size(file_size)} of data containing {n} records",
            request_id,
            result_count=n,
            file_size=file_size,
        )
        return SearchResult(
            query=query,
            data=products,
            request_id=request_id,
            logs=logs,
            file_size=file_size,
            query_duration_ms=(finished - started) * 1000.0,
            elapsed_s=finished - started,
            backend=self.name,
        )

    def _plan(
        self,
        query: DataProductQuery,
        cache: _SourceCache,
        columns: str = _ROW_COLUMNS,
        starting: tuple[datetime, datetime] | None = None,
    ) -> tuple[str, list[Any], bool] | None:
        """(prefilter SQL, parameters, whether the metadata filters must still run in Python),
        or None when nothing can match. ``starting``: only records starting in that range too."""
        where: list[str] = []
        params: list[Any] = []
        source_ids = cache.select(query.programs, query.platforms, query.instrument_types)
        if source_ids is not None:
            if not source_ids:
                return None
            where.append(f"source_id IN ({','.join('?' * len(source_ids))})")
            params.extend(source_ids)
        start = int(query.start.timestamp())
        end = int(query.end.timestamp())
        first, last = start, end
        if starting is not None:
            first, last = max(start, int(starting[0].timestamp())), min(end, int(starting[1].timestamp()))
            if first > last:
                return None
        # start <= end is implied by end_s <= end; stating it bounds the index range scan.
        where.append("start_s >= ? AND start_s <= ? AND end_s <= ?")
        params.extend((first, last, end))
        type_codes = {TYPE_CODES[t] for t in query.data_product_types} if query.data_product_types else None
        if type_codes is not None:
            where.append(f"type IN ({','.join('?' * len(type_codes))})")
            params.extend(sorted(type_codes))
        needs_python = bool(query.metadata_filters)
        push = self._pushdown(query, cache, source_ids)
        if push is not None:
            codes, exact = push
            if type_codes is not None:
                codes = {c for c in codes if c[0] in type_codes}
            if not codes:
                return None
            where.append(f"sub_code IN ({','.join('?' * len(codes))})")
            params.extend(sorted(sub for _, sub in codes))
            needs_python = not exact
        sql = f"SELECT {columns} FROM products WHERE " + " AND ".join(where)
        return sql, params, needs_python

    @staticmethod
    def _pushdown(
        query: DataProductQuery, cache: _SourceCache, source_ids: list[int] | None
    ) -> tuple[set[tuple[int, int]], bool] | None:
        """The (type, sub_code) pairs a matching record must have, and whether that is exact.

        A record has the key ``keogram_type`` only if it is a keogram with a ``sub_code``
        (unless the catalog holds "cross" keys, e.g. a montage carrying ``keogram_type``, which
        disables this for that key). ``=``/``in``/``!=``/``not in`` with plain (non-numeric)
        strings, on a key that no selected source types as numeric or bool, compare the text
        exactly as the sub_types table stores it: such a condition is exact. Otherwise the
        condition is only necessary and the Python filter decides. AND intersects the sets, OR
        unites them.
        """
        exprs = query.metadata_filters
        if not exprs:
            return None
        result: set[tuple[int, int]] | None = None
        exact = True
        any_condition = False
        is_or = query.metadata_filters_logical_operator == "OR"
        sids = cache.by_id if source_ids is None else source_ids
        for expr in exprs:
            kind = _SUB_TYPE_KEYS.get(expr.key)
            if kind is None or expr.key in cache.cross_keys:
                if is_or:
                    return None  # one unconstrained alternative: no necessary condition
                exact = False
                continue
            known = cache.sub_codes.get(kind, {})
            allowed = set(known.values())
            if expr.operator in ("=", "in", "!=", "not in") and all(
                type(v) is str and _as_number(v) is None for v in expr.values
            ):
                modes = {_mode_for(cache.data_types.get(sid, {}).get(expr.key)) for sid in sids}
                if modes <= {"auto", "string"}:
                    named = {known[v] for v in expr.values if v in known}
                    allowed = named if expr.operator in ("=", "in") else allowed - named
                else:
                    exact = False
            else:
                exact = False
            pairs = {(kind, code) for code in allowed}
            any_condition = True
            if result is None:
                result = pairs
            elif is_or:
                result |= pairs
            else:
                result &= pairs
        if not any_condition or result is None:
            return None
        return result, exact

    def search_body(
        self,
        query: DataProductQuery,
        *,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
        starting: tuple[datetime, datetime] | None = None,
    ) -> SearchBody:
        """The AuroraX data endpoint's body for ``query``, made straight from the catalog rows.

        The bytes are exactly ``json.dumps({"result": [p.to_api_dict() for p in
        self.search(query).data]})`` (so their length is that search's ``file_size``), in about half
        the time: no DataProduct is built and each record's metadata is the JSON text the catalog
        stores. What the AuroraX-compatible server sends; the same errors as :meth:`search`.

        ``starting`` (first, last): only the records that also start in that range (inclusive;
        the query's end still bounds their end). The bodies of the ranges :meth:`start_ranges`
        returns, joined with :meth:`SearchBody.concat`, are the body of the whole query.
        """
        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        started = time.perf_counter()
        deadline = started + timeout if timeout is not None else None
        _check_stop(cancel, deadline, timeout)
        selected = self._select(query, cancel, deadline, timeout, as_bytes=True, starting=starting)
        queried = time.perf_counter()
        if selected is None:
            return SearchBody(b'{"result": []}', 0, queried - started, 0.0)
        rows, needs_python, cache = selected
        with _gc_paused():
            filters = query.metadata_filters if needs_python else ()
            body, layout = self._encode(
                rows, filters, query.metadata_filters_logical_operator, cache, cancel, deadline, timeout
            )
        return SearchBody(body, len(layout.record_sources), queried - started, time.perf_counter() - queried, layout)

    def start_ranges(
        self, query: DataProductQuery, parts: int, *, min_records: int = 4000
    ) -> list[tuple[datetime, datetime]]:
        """Split ``query`` by record start time into at most ``parts`` ranges of about equal size,
        for :meth:`search_body`'s ``starting`` (a server searching them in parallel processes).

        Sizes are estimated from the per-source day counts the catalog keeps (one small query), and
        cuts fall on UTC midnights. A query estimated below ``min_records`` per range, or within one
        day, stays whole: ``[(query.start, query.end)]``.

        Raises:
            CatalogError: the catalog cannot be read.
        """
        whole = [(query.start, query.end)]
        first_day, last_day = int(query.start.timestamp()) // _DAY, int(query.end.timestamp()) // _DAY
        if parts < 2 or first_day == last_day:
            return whole
        try:
            conn = self._conn()
            source_ids = self._sources(conn).select(query.programs, query.platforms, query.instrument_types)
            if source_ids is not None and not source_ids:
                return whole
            sql = "SELECT day, sum(n) FROM day_counts WHERE day >= ? AND day <= ?"
            params: list[Any] = [first_day, last_day]
            if source_ids is not None:
                sql += f" AND source_id IN ({','.join('?' * len(source_ids))})"
                params.extend(source_ids)
            days = conn.execute(sql + " GROUP BY day ORDER BY day", params).fetchall()
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot read catalog {self._path}: {exc}") from None
        total = sum(n for _, n in days)
        parts = min(parts, total // max(1, min_records))
        if parts < 2:
            return whole
        cuts: list[int] = []
        running = 0
        for day, n in days:
            # a cut at this day's midnight leaves `running` records before it
            if day > first_day and running >= total * (len(cuts) + 1) / parts:
                cuts.append(day)
                if len(cuts) == parts - 1:
                    break
            running += n
        bounds = [query.start, *(datetime.fromtimestamp(day * _DAY, UTC) for day in cuts)]
        ranges = [(low, high - timedelta(seconds=1)) for low, high in pairwise(bounds)]
        ranges.append((bounds[-1], query.end))
        return ranges

    def _select(
        self,
        query: DataProductQuery,
        cancel: CancelToken | None,
        deadline: float | None,
        timeout: float | None,
        *,
        as_bytes: bool = False,
        starting: tuple[datetime, datetime] | None = None,
    ) -> tuple[list[tuple[Any, ...]], bool, _SourceCache] | None:
        """The prefiltered rows sorted by (start, url), whether the metadata filters must still run
        in Python, and the sources; None when nothing can match. ``as_bytes``: the url and metadata
        as UTF-8 bytes (what an encoded body is made of), not str."""
        conn = self._conn()
        try:
            cache = self._sources(conn)
            plan = self._plan(query, cache, _ROW_COLUMNS_BYTES if as_bytes else _ROW_COLUMNS, starting)
            if plan is None:
                return None
            sql, params, needs_python = plan
            watch = cancel is not None or deadline is not None
            if watch:

                def stop() -> int:
                    return int(
                        (cancel is not None and cancel.cancelled)
                        or (deadline is not None and time.perf_counter() > deadline)
                    )

                conn.set_progress_handler(stop, 10_000)
            try:
                rows = conn.execute(sql, params).fetchall()
                # Sorting here is cheaper than SQLite's temporary b-tree; two stable passes with
                # single-value keys beat one pass with (start, url) tuples (10k rows: 0.9 vs
                # 2.3 ms, vs ~6 ms for ORDER BY).
                rows.sort(key=_URL)
                rows.sort(key=_START)
            except sqlite3.OperationalError as exc:
                if watch and "interrupt" in str(exc):
                    _check_stop(cancel, deadline, timeout)
                raise
            finally:
                if watch:
                    conn.set_progress_handler(None, 0)
        except sqlite3.Error as exc:
            if _locked(exc):
                raise CatalogError(_locked_message(self._path, "search")) from None
            raise CatalogError(f"cannot search catalog {self._path}: {exc}") from None
        return rows, needs_python, cache

    def _execute(
        self, query: DataProductQuery, cancel: CancelToken | None, deadline: float | None, timeout: float | None
    ) -> tuple[list[DataProduct], int]:
        selected = self._select(query, cancel, deadline, timeout)
        if selected is None:
            return [], len('{"result": []}')
        rows, needs_python, cache = selected
        with _gc_paused():
            filters = query.metadata_filters if needs_python else ()
            return self._build(rows, filters, query.metadata_filters_logical_operator, cache, cancel, deadline, timeout)

    @staticmethod
    def _encode(
        rows: list[tuple[Any, ...]],
        filters: Sequence[MetadataFilterExpression],
        logical: str,
        cache: _SourceCache,
        cancel: CancelToken | None,
        deadline: float | None,
        timeout: float | None,
    ) -> tuple[bytes, SourceLayout]:
        """The body from rows whose url and metadata are UTF-8 bytes (``_select(as_bytes=True)``).

        Each record is one ``b"".join`` of cached pieces (its head up to the start time, one per
        source and type; the start and end times with the text after each, one per distinct
        time), its URL, and its metadata as the catalog stores it (json.dumps's defaults, as this
        body is written); the body is one join of the records. Building each record as a str
        and encoding the whole body took twice as long (the copies land on fresh pages).
        """
        heads: dict[int, bytes] = {}
        starts: dict[int, bytes] = {}
        ends: dict[int, bytes] = {}
        preds = _SourcePredicates(filters, logical, cache)
        parsed: dict[bytes, dict[str, Any]] = {}
        loads = json.loads
        fromts = datetime.fromtimestamp
        by_id = cache.by_id
        names = _TYPE_NAMES
        watch = cancel is not None or deadline is not None
        parts: list[bytes] = []
        append = parts.append
        join = b"".join
        record_sources = array("q")
        add_source = record_sources.append
        source_texts: dict[int, bytes] = {}
        # URLs need no escaping when none has a quote, backslash, control or non-ASCII character:
        # one C-level check over all of them instead of escaping each.
        plain_urls = not b"".join([row[4] for row in rows]).translate(None, _JSON_PLAIN_BYTES)
        after_end = b'", "url": "' if plain_urls else b'", "url": '
        after_url = b'", "metadata": ' if plain_urls else b', "metadata": '
        if filters:
            kept = []
            for index, row in enumerate(rows):
                if watch and not index % 4096:
                    _check_stop(cancel, deadline, timeout)
                sid, meta = row[0], row[5]
                pred = preds[sid]
                if pred is not None:
                    md = parsed.get(meta)
                    if md is None:
                        md = loads(meta)
                        if len(parsed) < 4096:
                            parsed[meta] = md
                    if not pred(md):  # type: ignore[operator]
                        continue
                kept.append(row)
            rows = kept
        # the loop below runs ~20,000 times for a month of one program: nothing in it that can
        # be done per block (the stop check) or before it (the filters)
        for block in range(0, len(rows), 4096):
            if watch:
                _check_stop(cancel, deadline, timeout)
            for sid, code, start_s, end_s, url, meta in rows[block : block + 4096]:
                head = heads.get(sid * 16 + code)
                if head is None:
                    source_text = json.dumps(by_id[sid].to_api_dict("basic_info")).encode()
                    source_texts[sid] = source_text
                    head = heads[sid * 16 + code] = (
                        b'{"data_source": '
                        + source_text
                        + f', "data_product_type": {json.dumps(names[code])}, "start": "'.encode()
                    )
                start = starts.get(start_s)
                if start is None:
                    start = starts[start_s] = format_time(fromts(start_s, UTC)).encode() + b'", "end": "'
                end = ends.get(end_s)
                if end is None:
                    end = ends[end_s] = format_time(fromts(end_s, UTC)).encode() + after_end
                if not plain_urls:
                    url = encode_basestring_ascii(url.decode()).encode()
                append(join((head, start, end, url, after_url, meta, b"}")))
                add_source(sid)
        if not parts:
            return b'{"result": []}', SourceLayout(array("Q"), record_sources, source_texts)
        prefix = b'{"result": ['
        offsets = array("Q", accumulate((len(r) + 2 for r in parts), initial=len(prefix)))
        offsets.pop()
        # the envelope goes on the first and last records, not around a copy of the whole body
        parts[0] = prefix + parts[0]
        parts[-1] += b"]}"
        return b", ".join(parts), SourceLayout(offsets, record_sources, source_texts)

    @staticmethod
    def _build(
        rows: list[tuple[Any, ...]],
        filters: Sequence[MetadataFilterExpression],
        logical: str,
        cache: _SourceCache,
        cancel: CancelToken | None,
        deadline: float | None,
        timeout: float | None,
    ) -> tuple[list[DataProduct], int]:
        by_id = cache.by_id
        preds = _SourcePredicates(filters, logical, cache)
        times: dict[int, datetime] = {}
        loads = json.loads
        fromts = datetime.fromtimestamp
        new = DataProduct.__new__
        set_source, set_type, set_start, set_end, set_url, set_metadata = _PRODUCT_SETTERS
        products: list[DataProduct] = []
        append = products.append
        size = 0
        basic_len = cache.basic_json_len
        names = _TYPE_NAMES
        watch = cancel is not None or deadline is not None
        meta_cache: dict[str, dict[str, Any]] = {}
        caching = True
        misses = 0
        # Per (source, type): the shared DataSource, the type name and the fixed part of the
        # record's AuroraX JSON size: {"data_source": DS, "data_product_type": "T", "start": "S",
        # "end": "E", "url": U, "metadata": M} has 129 fixed characters.
        kinds: dict[int, tuple[DataSource, str, int]] = {}
        for index, (sid, code, start_s, end_s, url, meta) in enumerate(rows):
            if watch and not index % 4096:
                _check_stop(cancel, deadline, timeout)
            md = meta_cache.get(meta)
            if md is None:
                md = loads(meta)
                if caching:
                    # Products of one hour at several sites often carry identical metadata:
                    # parse once, hand out shallow copies (flat dicts only, so nothing mutable is
                    # shared). Stop trying when most strings are unique (e.g. daily products).
                    misses += 1
                    if misses > 256 and misses * 2 > index:
                        caching = False
                    elif all(type(v) in _SCALARS for v in md.values()):
                        meta_cache[meta] = md
                        md = md.copy()
            else:
                md = md.copy()
            if filters:
                pred = preds[sid]
                if pred is not None and not pred(md):  # type: ignore[operator]
                    continue
            start = times.get(start_s)
            if start is None:
                start = times[start_s] = fromts(start_s, UTC)
            end = times.get(end_s)
            if end is None:
                end = times[end_s] = fromts(end_s, UTC)
            kind = kinds.get(sid * 16 + code)
            if kind is None:
                kind = kinds[sid * 16 + code] = (by_id[sid], names[code], basic_len[sid] + len(names[code]) + 129)
            product = new(DataProduct)
            set_source(product, kind[0])
            set_type(product, kind[1])
            set_start(product, start)
            set_end(product, end)
            set_url(product, url)
            set_metadata(product, md)
            append(product)
            size += kind[2] + len(url) + len(meta)
        if products:
            urls = "".join(p.url for p in products)
            if not _JSON_PLAIN_RE.match(urls):
                size += sum(len(json.dumps(p.url)) - len(p.url) - 2 for p in products)
            size += 2 * (len(products) - 1)
        return products, size + len('{"result": []}')

    # --- availability, stats -------------------------------------------------------------------

    def availability(
        self,
        start: date,
        end: date,
        *,
        program: str | None = None,
        platform: str | None = None,
        instrument_type: str | None = None,
        source_type: str | None = None,
        owner: str | None = None,
    ) -> list[Availability]:
        """Per-source, per-day counts of products whose start falls on a day in [start, end].

        Sources with no products in the range are omitted. Days are UTC dates of the product
        start; the dict is ordered by date and the list by source identifier.

        Raises:
            QueryValidationError: start/end are not dates, or end is before start.
        """
        first = _as_date(start, "start")
        last = _as_date(end, "end")
        if last < first:
            raise QueryValidationError(f"end ({last}) is before start ({first}); swap them")
        sources = self.list_sources(
            programs=(program,) if program else (),
            platforms=(platform,) if platform else (),
            instrument_types=(instrument_type,) if instrument_type else (),
            source_type=source_type,
            owner=owner,
        )
        if not sources:
            return []
        epoch = date(1970, 1, 1)
        d0, d1 = (first - epoch).days, (last - epoch).days
        by_id = {s.identifier: s for s in sources}
        counts: dict[int, dict[str, int]] = {}
        labels: dict[int, str] = {}  # day number -> "YYYY-MM-DD", shared by all sources
        conn = self._conn()
        ids = sorted(i for i in by_id if i is not None)
        for chunk in _chunks(ids, 500):
            sql = (
                f"SELECT source_id, day, n FROM day_counts WHERE source_id IN ({','.join('?' * len(chunk))}) "
                "AND day >= ? AND day <= ? AND n > 0 ORDER BY source_id, day"
            )
            for sid, day, n in conn.execute(sql, [*chunk, d0, d1]):
                label = labels.get(day)
                if label is None:
                    label = labels[day] = (epoch + timedelta(days=day)).isoformat()
                counts.setdefault(sid, {})[label] = n
        return [Availability(by_id[sid], counts[sid]) for sid in ids if sid in counts]

    def stats(self) -> dict[str, Any]:
        """Catalog summary: ``records``, ``sources``, ``sources_with_products``, ``per_type``
        (type -> count), ``earliest``/``latest`` product start (AuroraX time strings or None),
        ``file_size_bytes`` (database + WAL), ``bytes_per_record``, ``path``, ``schema_version``."""
        conn = self._conn()
        cache = self._sources(conn)
        per_type: dict[str, int] = {}
        with_products = set()
        for sid, code, n in conn.execute("SELECT source_id, type, n FROM type_counts WHERE n > 0"):
            per_type[_TYPE_NAMES.get(code, str(code))] = per_type.get(_TYPE_NAMES.get(code, str(code)), 0) + n
            with_products.add(sid)
        records = sum(per_type.values())
        span = self.time_span()
        size = sum(p.stat().st_size for p in (self._path, Path(f"{self._path}-wal")) if p.exists())
        return {
            "path": str(self._path),
            "schema_version": SCHEMA_VERSION,
            "records": records,
            "sources": len(cache.by_id),
            "sources_with_products": len(with_products),
            "per_type": dict(sorted(per_type.items())),
            "earliest": format_time(span[0]) if span else None,
            "latest": format_time(span[1]) if span else None,
            "file_size_bytes": size,
            "bytes_per_record": (size / records) if records else None,
        }

    def time_span(self) -> tuple[datetime, datetime] | None:
        """(earliest product start, latest product start) over the catalog, or None when empty."""
        conn = self._conn()
        lo: int | None = None
        hi: int | None = None
        for (sid,) in conn.execute("SELECT DISTINCT source_id FROM type_counts WHERE n > 0"):
            first = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s LIMIT 1", (sid,)
            ).fetchone()
            last = conn.execute(
                "SELECT start_s FROM products WHERE source_id = ? ORDER BY start_s DESC LIMIT 1", (sid,)
            ).fetchone()
            if first:
                lo = first[0] if lo is None else min(lo, first[0])
            if last:
                hi = last[0] if hi is None else max(hi, last[0])
        if lo is None or hi is None:
            return None
        return datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)

    def metadata_values(self, keys: Iterable[str] | None = None) -> dict[str, list[Any]]:
        """Distinct values of each metadata key over the catalog, sorted (key -> values).

        Keys with more than :data:`MAX_LISTED_VALUES` distinct values (free-form ones such as
        ``imaging_start_time``) map to an empty list. Values are maintained incrementally at
        ingest, so after deletions the lists may still hold values no record carries any more.
        """
        conn = self._conn()
        wanted = None if keys is None else set(keys)
        out: dict[str, list[Any]] = {}
        for key, _overflow in conn.execute("SELECT key, overflow FROM metadata_keys ORDER BY key"):
            if wanted is None or key in wanted:
                out[key] = []
        for key, value in conn.execute("SELECT key, value FROM metadata_values ORDER BY key"):
            if key in out:
                out[key].append(json.loads(value))
        for key, _overflow in conn.execute("SELECT key, overflow FROM metadata_keys WHERE overflow = 1"):
            if key in out:
                out[key] = []
        for key, values in out.items():
            out[key] = sorted(values, key=_sort_key)
        return out

    # --- request tracking ----------------------------------------------------------------------

    def submit(self, query: DataProductQuery) -> str:
        """Run the search now and record it as a request; returns its request id.

        The catalog keeps the last :data:`MAX_TRACKED_REQUESTS` requests (query, logs, counts,
        the URLs of the result) for :meth:`request_status` / :meth:`request_data`. A search that
        fails is recorded with ``error_condition`` true and the error as its last log line.

        Raises:
            CatalogError: the catalog is read-only or cannot be written.
        """
        self._require_writable("record a search request")
        requested = datetime.now(UTC)
        try:
            result = self.search(query)
        except (CatalogError, SearchFailed) as exc:
            request_id = str(uuid.uuid4())
            logs = [
                LogEntry("debug", "Search request arrived and saved", requested),
                LogEntry("error", str(exc), datetime.now(UTC)),
            ]
            self._store_request(request_id, query, requested, logs, [], 0, 0, True)
            return request_id
        urls = [p.url for p in result.data]
        self._store_request(
            result.request_id,
            query,
            requested,
            result.logs,
            urls,
            result.file_size,
            round(result.query_duration_ms),
            False,
        )
        return result.request_id

    def _store_request(
        self,
        request_id: str,
        query: DataProductQuery,
        requested: datetime,
        logs: list[LogEntry],
        urls: list[str],
        file_size: int,
        duration_ms: int,
        error: bool,
    ) -> None:
        payload = query.to_api_payload()
        filters = payload["data_sources"]["data_product_metadata_filters"] or {}
        payload["data_sources"]["data_product_metadata_filters"] = {
            "expressions": filters.get("expressions", []),
            "logical_operator": filters.get("logical_operator", "AND"),
        }
        payload["request_id"] = None
        blob = zlib.compress("\n".join(urls).encode("utf-8"), 6)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO search_requests (id, requested, completed, query, logs, result_count, file_size, "
                "query_duration, error_condition, urls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    _micro(requested),
                    _micro(datetime.now(UTC)),
                    json.dumps(payload),
                    json.dumps([e.to_api_dict() for e in logs]),
                    len(urls),
                    file_size,
                    duration_ms,
                    int(error),
                    blob,
                ),
            )
            conn.execute(
                "DELETE FROM search_requests WHERE seq <= "
                "(SELECT seq FROM search_requests ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (MAX_TRACKED_REQUESTS,),
            )

    def _request_row(self, request_id: str) -> tuple[Any, ...]:
        if not isinstance(request_id, str) or not _UUID_RE.match(request_id.strip()):
            raise NotFound(f"request ID not found: {request_id!r} is not a search request id", 404)
        row = (
            self._conn()
            .execute(
                "SELECT id, requested, completed, query, logs, result_count, file_size, query_duration, "
                "error_condition, urls FROM search_requests WHERE id = ?",
                (request_id.strip().lower(),),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(
                f"request ID not found: {request_id} (unknown, or older than the last {MAX_TRACKED_REQUESTS} "
                "requests this catalog keeps)",
                404,
            )
        return row

    def request_status(self, request_id: str) -> dict[str, Any]:
        """The AuroraX status document (PROTOCOL §3.2) of a request made with :meth:`submit`.

        Raises:
            NotFound: the id is unknown, malformed or expired.
        """
        rid, requested, completed, query, logs, count, size, duration, error, _ = self._request_row(request_id)
        return {
            "logs": json.loads(logs),
            "search_request": {
                "query": json.loads(query),
                "request_id": rid,
                "request_type": "data_product",
                "requested": requested,
            },
            "search_result": {
                "completed_timestamp": completed,
                "data_uri": f"/api/v1/data_products/requests/{rid}/data",
                "error_condition": bool(error),
                "file_size": size,
                "query_duration": duration,
                "result_count": count,
                "result_file_deleted_timestamp": None,
            },
        }

    def request_data(self, request_id: str) -> list[dict[str, Any]]:
        """The AuroraX records (basic_info data sources) of a request made with :meth:`submit`.

        The catalog stores the result's URLs and reads the records back, so a record deleted
        since the request is missing from the list.

        Raises:
            NotFound: unknown id; SearchFailed: the request failed.
        """
        row = self._request_row(request_id)
        if row[8]:
            logs = json.loads(row[4])
            raise SearchFailed(logs[-1]["summary"] if logs else "the search failed")
        text = zlib.decompress(row[9]).decode("utf-8") if row[9] else ""
        urls = text.split("\n") if text else []
        return [p.to_api_dict("basic_info") for p in self.products_by_url(urls)]

    def cancel_request(self, request_id: str) -> None:
        """Catalog requests complete inside :meth:`submit`, so this only checks that the id exists.

        Raises:
            NotFound: the id is unknown.
        """
        self._request_row(request_id)

    def products_by_url(self, urls: Sequence[str]) -> list[DataProduct]:
        """The products with these URLs, in the given order; unknown URLs are skipped."""
        conn = self._conn()
        cache = self._sources(conn)
        found: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(list(urls), 500):
            sql = f"SELECT {_ROW_COLUMNS} FROM products WHERE url IN ({','.join('?' * len(chunk))})"
            for row in conn.execute(sql, chunk):
                found[row[4]] = row
        rows = [found[u] for u in urls if u in found]
        return self._build(rows, (), "AND", cache, None, None, None)[0]

    # --- writes --------------------------------------------------------------------------------

    def _require_writable(self, what: str) -> None:
        if self._readonly:
            raise CatalogError(
                f"cannot {what}: catalog {self._path} is read-only (opened read-only, or the file or its "
                "directory is not writable)"
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        self._require_writable("write")
        conn = self._conn()
        if conn.in_transaction:  # this thread's outer _write() (catalog_sync) holds it: join, it commits
            yield conn
            return
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if _locked(exc):
                    raise CatalogError(_locked_message(self._path, "write")) from None
                raise CatalogError(f"cannot write catalog {self._path}: {exc}") from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise CatalogError(f"writing catalog {self._path} failed ({exc}); nothing was changed") from None
                raise

    @staticmethod
    def _bump_generation(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR REPLACE INTO catalog_meta (key, value) VALUES ('generation', ?)", (uuid.uuid4().hex,))

    def _insert_source(self, conn: sqlite3.Connection, source: DataSource) -> None:
        conn.execute(
            "INSERT INTO sources (identifier, program, platform, instrument_type, source_type, display_name, owner, "
            "record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source.identifier,
                source.program,
                source.platform,
                source.instrument_type,
                source.source_type,
                source.display_name,
                source.owner,
                _source_record_json(source),
            ),
        )

    def _update_source_row(self, conn: sqlite3.Connection, source: DataSource) -> None:
        conn.execute(
            "UPDATE sources SET program = ?, platform = ?, instrument_type = ?, source_type = ?, display_name = ?, "
            "owner = ?, record = ? WHERE identifier = ?",
            (
                source.program,
                source.platform,
                source.instrument_type,
                source.source_type,
                source.display_name,
                source.owner,
                _source_record_json(source),
                source.identifier,
            ),
        )

    @staticmethod
    def _next_identifier(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT coalesce(max(identifier), 0) + 1 FROM sources").fetchone()[0] or 1)

    def add_source(self, source: DataSource) -> DataSource:
        """Create a data source (AuroraX ``POST /api/v1/data_sources``); returns the stored record.

        A missing identifier gets the next free one.

        Raises:
            DuplicateError: the identifier, or the program/platform/instrument_type, exists already.
            CatalogError: the catalog cannot be written.
        """
        with self._write() as conn:
            cache = self._sources(conn)
            if source.identifier is not None and source.identifier in cache.by_id:
                raise DuplicateError(f"a data source with identifier {source.identifier} already exists")
            if source.key in cache.by_key:
                raise DuplicateError(
                    f"a data source for program {source.program!r}, platform {source.platform!r}, instrument type "
                    f"{source.instrument_type!r} already exists (identifier {cache.by_key[source.key]})"
                )
            if source.identifier is None:
                source = replace(source, identifier=self._next_identifier(conn))
            source = replace(source, stats=None)
            self._insert_source(conn, source)
            self._bump_generation(conn)
        return source

    def upsert_source(self, source: DataSource) -> tuple[DataSource, bool]:
        """Insert or replace a data source; returns (stored record, created).

        Matched by identifier when it has one, else by program/platform/instrument_type.

        Raises:
            DuplicateError: the identifier and the triple name two different existing sources.
            CatalogError: the catalog cannot be written.
        """
        with self._write() as conn:
            stored, created = self._upsert_source(conn, self._sources(conn), source)
            self._bump_generation(conn)
        return stored, created

    def _upsert_source(
        self, conn: sqlite3.Connection, cache: _SourceCache, source: DataSource
    ) -> tuple[DataSource, bool]:
        key_row = conn.execute(
            "SELECT identifier FROM sources WHERE program = ? AND platform = ? AND instrument_type = ?", source.key
        ).fetchone()
        by_key = key_row[0] if key_row else None
        source = replace(source, stats=None)
        if source.identifier is None:
            if by_key is None:
                source = replace(source, identifier=self._next_identifier(conn))
                self._insert_source(conn, source)
                return source, True
            source = replace(source, identifier=by_key)
            self._update_source_row(conn, source)
            return source, False
        if by_key is not None and by_key != source.identifier:
            raise DuplicateError(
                f"data source {source.identifier} has the program/platform/instrument type of the existing source "
                f"{by_key} ({'/'.join(source.key)}); fix the identifier or delete the other source"
            )
        exists = conn.execute("SELECT 1 FROM sources WHERE identifier = ?", (source.identifier,)).fetchone()
        if exists:
            self._update_source_row(conn, source)
            return source, False
        self._insert_source(conn, source)
        return source, True

    def update_source(self, identifier: int, changes: Mapping[str, Any]) -> DataSource:
        """Change fields of a data source (AuroraX ``PATCH``); keys whose value is None are ignored.

        Raises:
            NotFound: no such source. DuplicateError: the new triple belongs to another source.
            RecordValidationError: an unknown field. CatalogError: the catalog cannot be written.
        """
        allowed = set(DATA_SOURCE_FIELDS) - {"identifier", "stats"}
        unknown = sorted(set(changes) - allowed - {"identifier", "stats"})
        if unknown:
            raise RecordValidationError(f"unknown data source field(s) {', '.join(unknown)}")
        with self._write() as conn:
            cache = self._sources(conn)
            current = cache.by_id.get(int(identifier))
            if current is None:
                raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404)
            updated = replace(current, **{k: v for k, v in changes.items() if k in allowed and v is not None})
            other = cache.by_key.get(updated.key)
            if other is not None and other != current.identifier:
                raise DuplicateError(
                    f"another data source ({other}) already has program/platform/instrument type "
                    f"{'/'.join(updated.key)}"
                )
            self._update_source_row(conn, replace(updated, stats=None))
            self._bump_generation(conn)
        return replace(updated, stats=None)

    def delete_source(self, identifier: int) -> None:
        """Delete a data source that has no data products.

        Raises:
            NotFound: no such source. ConflictError: it still has data products.
            CatalogError: the catalog cannot be written.
        """
        with self._write() as conn:
            row = conn.execute("SELECT identifier FROM sources WHERE identifier = ?", (int(identifier),)).fetchone()
            if row is None:
                raise NotFound(f"No Data Source record found in AuroraX for identifier {identifier}", 404)
            n = conn.execute(
                "SELECT coalesce(sum(n), 0) FROM type_counts WHERE source_id = ?", (int(identifier),)
            ).fetchone()[0]
            if n:
                raise ConflictError(
                    f"data source {identifier} still has {n} data products; delete them first "
                    "(data_products delete_urls / delete)"
                )
            conn.execute("DELETE FROM sources WHERE identifier = ?", (int(identifier),))
            conn.execute("DELETE FROM type_counts WHERE source_id = ?", (int(identifier),))
            conn.execute("DELETE FROM day_counts WHERE source_id = ?", (int(identifier),))
            self._bump_generation(conn)

    def ingest_sources(self, records: Iterable[Mapping[str, Any] | DataSource]) -> IngestSummary:
        """Insert or replace data sources (AuroraX JSON dicts or DataSource) in one transaction.

        Raises:
            RecordValidationError: a record is malformed (nothing is written).
            DuplicateError: an identifier and a triple name two different sources.
            CatalogError: the catalog cannot be written.
        """
        started = time.perf_counter()
        parsed: list[DataSource] = []
        for index, record in enumerate(records):
            if isinstance(record, DataSource):
                parsed.append(record)
                continue
            try:
                parsed.append(DataSource.from_api_dict(record))  # type: ignore[arg-type]
            except RecordValidationError as exc:
                raise RecordValidationError(f"data source record {index}: {exc}") from None
        added = updated = 0
        with self._write() as conn:
            cache = self._sources(conn)
            for source in parsed:
                _, created = self._upsert_source(conn, cache, source)
                added += created
                updated += not created
            self._bump_generation(conn)
        return IngestSummary(sources_added=added, sources_updated=updated, seconds=time.perf_counter() - started)

    def ingest_products(
        self,
        records: Iterable[Mapping[str, Any] | DataProduct],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: IngestProgress | None = None,
    ) -> IngestSummary:
        """Insert or update data products (AuroraX JSON records) in ONE transaction.

        Each record needs ``data_source``, ``data_product_type``, ``start``, ``end``, ``url``
        (``metadata`` optional). A record whose data source is not in the catalog brings it in
        from its own ``data_source`` (matched by identifier when present, else by
        program/platform/instrument_type). The URL is the identity: an existing URL is updated.
        Records are validated and written in batches of ``batch_size``; ``progress`` is called
        after each batch with the number of records done. Any error rolls the whole call back.
        A URL given twice in one call is an error, except when that URL was already in the
        catalog before the call and the copies fall in different batches (then the last wins).

        Raises:
            RecordValidationError: a record is invalid (the message names its index and URL), or
                a URL appears twice in the call; nothing is written.
            CatalogError: the catalog is read-only or the write failed; nothing is written.
        """
        return self._ingest(records, batch_size=batch_size, progress=progress)

    def upload_products(self, identifier: int, records: Iterable[Mapping[str, Any]]) -> IngestSummary:
        """AuroraX upload (``POST /api/v1/data_sources/{identifier}/data_products``).

        Records carry program/platform/instrument_type at top level (pyaurorax's upload format)
        or a ``data_source``; they must name this source.

        Raises:
            NotFound: no such source. RecordValidationError: a record is invalid or names another
            source (nothing is written). CatalogError: the catalog cannot be written.
        """
        source = self.get_source(identifier)
        prepared: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise RecordValidationError(f"record {index}: a data product must be a JSON object")
            ds = record.get("data_source")
            given = ds if isinstance(ds, Mapping) else record
            for key in ("program", "platform", "instrument_type"):
                value = given.get(key)
                if value is not None and value != getattr(source, key):
                    raise RecordValidationError(
                        f"record {index} ({record.get('url')!r}): {key} {value!r} does not match data source "
                        f"{identifier} ({getattr(source, key)!r})"
                    )
            if isinstance(ds, Mapping) and ds.get("identifier") not in (None, source.identifier):
                raise RecordValidationError(
                    f"record {index} ({record.get('url')!r}): data_source identifier {ds.get('identifier')} is not "
                    f"{identifier}"
                )
            item = {k: v for k, v in record.items() if k not in ("program", "platform", "instrument_type")}
            item["data_source"] = {"identifier": source.identifier}
            prepared.append(item)
        return self._ingest(prepared, batch_size=DEFAULT_BATCH_SIZE, progress=None, only_source=source.identifier)

    def delete_products(self, identifier: int, urls: Iterable[str]) -> int:
        """Delete this source's products with these URLs; returns how many were deleted.

        URLs that do not exist (or belong to another source) are ignored.

        Raises:
            NotFound: no such source. CatalogError: the catalog cannot be written.
        """
        source = self.get_source(identifier)
        wanted = [u for u in dict.fromkeys(urls) if isinstance(u, str)]
        deleted = 0
        with self._write() as conn:
            days: Counter[tuple[int, int]] = Counter()
            types: Counter[tuple[int, int]] = Counter()
            for chunk in _chunks(wanted, 500):
                rows = conn.execute(
                    f"SELECT id, source_id, type, start_s FROM products WHERE source_id = ? AND url IN "
                    f"({','.join('?' * len(chunk))})",
                    [source.identifier, *chunk],
                ).fetchall()
                conn.executemany("DELETE FROM products WHERE id = ?", [(r[0],) for r in rows])
                for _, sid, code, start_s in rows:
                    days[(sid, start_s // _DAY)] -= 1
                    types[(sid, code)] -= 1
                deleted += len(rows)
            _apply_counts(conn, days, types)
        return deleted

    @contextmanager
    def _journal_for_load(self) -> Iterator[None]:
        """Run an ingest through a rollback journal when nobody else has the catalog open.

        In WAL mode every page an ingest writes is written twice (to the WAL, then by the
        checkpoint into the database, each with an fsync); with a rollback journal the new
        pages, which have no old content to save, are written once, and only the index pages
        that change are copied to the journal. Measured on 500,000-record ingests
        (bench/bench_catalog.py): COMMIT 0.7-1.5 s -> 0.3 s, into an empty or a non-empty catalog.
        SQLite refuses the switch at once (no waiting) when another connection, of this process
        or another, has the file open: the ingest then goes through the WAL as any other write,
        so a running server or dashboard keeps reading while it ingests. A reader that opens
        the catalog during a journalled ingest waits for its commit (up to the 30 s busy
        timeout). The WAL mode is restored at the end, and by the next writable open if the
        process dies mid-way (SQLite rolls the journal back first: the catalog is as before).
        """
        conn = self._conn()
        switched = False
        if not self._readonly and not conn.in_transaction:
            with self._conn_lock:
                alone = len(self._connections) == 1
            if alone:
                with suppress(sqlite3.Error):
                    switched = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        try:
            yield
        finally:
            if switched:
                with suppress(sqlite3.Error):
                    conn.execute("PRAGMA journal_mode=WAL")

    def _ingest(
        self,
        records: Iterable[Mapping[str, Any] | DataProduct],
        *,
        batch_size: int,
        progress: IngestProgress | None,
        only_source: int | None = None,
    ) -> IngestSummary:
        started = time.perf_counter()
        if batch_size < 1:
            raise RecordValidationError(f"batch_size must be at least 1, got {batch_size}")
        # The collector is paused: everything allocated is live (the rows), and its collections
        # over the caller's records cost ~2.5% of an ingest and find nothing.
        with self._journal_for_load(), self._write() as conn, _gc_paused():
            # A large page cache keeps the hot parts of the URL index in memory during big ingests.
            conn.execute("PRAGMA cache_size=-262144")
            cache = self._sources(conn)
            state = _IngestState(self, conn, cache)
            first_new_id = int(conn.execute("SELECT coalesce(max(id), 0) FROM products").fetchone()[0]) + 1
            if first_new_id == 1 and not conn.execute("SELECT 1 FROM products LIMIT 1").fetchone():
                # Empty catalog: load without the indexes and build them at the end. Readers keep
                # seeing the committed (indexed) catalog until this transaction commits.
                state.bulk = True
                for name in _PRODUCT_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
            done = 0
            for batch in _batched(records, batch_size):
                rows = state.validate(batch, done)
                state.write(rows, first_new_id, done)
                done += len(batch)
                if progress is not None:
                    progress(done)
            if only_source is not None and state.sources_added:
                raise RecordValidationError("upload records must belong to the uploaded data source")
            if state.bulk:
                state.build_indexes(first_new_id)
            state.finish()
        if state.sources_added or state.cross_changed or state.sub_codes_added:
            with self._cache_lock:
                self._cache = None
        return IngestSummary(
            inserted=state.inserted,
            updated=state.updated,
            sources_added=state.sources_added,
            seconds=time.perf_counter() - started,
        )


class _IngestState:
    """Everything one ingest call accumulates: sources, counts, metadata values."""

    def __init__(self, backend: CatalogBackend, conn: sqlite3.Connection, cache: _SourceCache) -> None:
        self.backend = backend
        self.conn = conn
        self.by_id: dict[int, DataSource] = dict(cache.by_id)
        self.by_key: dict[tuple[str, str, str], int] = dict(cache.by_key)
        self.memo: dict[Any, int] = {}
        self.new_sources: list[DataSource] = []
        self.sources_added = 0
        self.inserted = 0
        self.updated = 0
        self.times: dict[Any, int] = {}
        self.days: Counter[tuple[int, int]] = Counter()
        self.types: Counter[tuple[int, int]] = Counter()
        self.cross_keys = set(cache.cross_keys)
        self.cross_changed = False
        self.overflow: set[str] = {k for (k,) in conn.execute("SELECT key FROM metadata_keys WHERE overflow = 1")}
        self.new_values: dict[str, set[Any]] = {}
        self.bulk = False
        # type code -> {sub-type text -> sub_code}
        self.sub_codes: dict[int, dict[str, int]] = {kind: {} for kind in _TYPE_NAMES}
        for code, kind, value in conn.execute("SELECT code, type, value FROM sub_types"):
            self.sub_codes.setdefault(kind, {})[value] = code
        self.next_sub_code = max((c for d in self.sub_codes.values() for c in d.values()), default=0) + 1
        self.new_sub_codes: list[tuple[int, int, str]] = []
        self.sub_codes_added = False
        self.shapes: dict[tuple[int, tuple[str, ...]], tuple[tuple[str, ...], str | None, dict[str, int]]] = {}
        # (type code, metadata keys, values) -> (metadata JSON text, sub_code, value types). The
        # records of one hour or night at many sites (and a keogram's montage) share their
        # metadata values: a hit skips the encoding, the value collection and the sub-type lookup.
        # Equal values of other types than str and None may have different texts (1 == True
        # == 1.0): such an entry keeps the value types, and a hit must have the same types.
        self.texts: dict[tuple[Any, ...], tuple[str, int | None, tuple[type, ...] | None]] = {}
        self.encode_metadata = _dumps_encoder()

    # -- sources

    def source_id(self, ds: Any, index: int, url: str) -> int:
        if isinstance(ds, DataSource):
            memo_key: Any = ("obj", ds.identifier, ds.key)
            data: Mapping[str, Any] = ds.to_api_dict("full_record")
        elif isinstance(ds, Mapping):
            data = ds
            memo_key = (data.get("identifier"), data.get("program"), data.get("platform"), data.get("instrument_type"))
        else:
            raise RecordValidationError(f"record {index} ({url}): 'data_source' must be an object, got {ds!r}")
        try:
            return self.memo[memo_key]
        except (KeyError, TypeError):
            pass
        sid = self._resolve(data, index, url)
        with suppress(TypeError):
            self.memo[memo_key] = sid
        return sid

    def _resolve(self, data: Mapping[str, Any], index: int, url: str) -> int:
        ident = data.get("identifier")
        triple = (data.get("program"), data.get("platform"), data.get("instrument_type"))
        has_triple = all(isinstance(v, str) and v for v in triple)
        if ident is not None:
            try:
                ident = int(ident)
            except (TypeError, ValueError):
                raise RecordValidationError(
                    f"record {index} ({url}): data_source identifier {ident!r} is not an integer"
                ) from None
            known = self.by_id.get(ident)
            if known is not None:
                if has_triple and triple != known.key:
                    raise RecordValidationError(
                        f"record {index} ({url}): data_source {ident} is {'/'.join(known.key)} in the catalog but "
                        f"the record says {'/'.join(triple)}"  # type: ignore[arg-type]
                    )
                return ident
            if not has_triple:
                raise RecordValidationError(
                    f"record {index} ({url}): data_source {ident} is not in the catalog and the record does not give "
                    "its program, platform and instrument_type; ingest the data sources first"
                )
            other = self.by_key.get(triple)  # type: ignore[arg-type]
            if other is not None:
                raise RecordValidationError(
                    f"record {index} ({url}): data_source identifier {ident} conflicts with source {other}, which has "
                    f"the same program/platform/instrument_type {'/'.join(triple)}"  # type: ignore[arg-type]
                )
        else:
            if not has_triple:
                raise RecordValidationError(
                    f"record {index} ({url}): data_source needs an identifier or program, platform and instrument_type"
                )
            known_id = self.by_key.get(triple)  # type: ignore[arg-type]
            if known_id is not None:
                return known_id
            # by_id includes the sources created earlier in this call.
            ident = max(max(self.by_id, default=0), 0) + 1
        try:
            source = DataSource.from_api_dict({**data, "identifier": ident, "stats": None})
        except RecordValidationError as exc:
            raise RecordValidationError(f"record {index} ({url}): {exc}") from None
        self.by_id[ident] = source
        self.by_key[source.key] = ident
        self.new_sources.append(source)
        return ident

    # -- validation

    def epoch(self, value: Any, index: int, url: str, name: str) -> int:
        try:
            return self.times[value]
        except KeyError:
            pass
        except TypeError:  # unhashable
            raise RecordValidationError(
                f"record {index} ({url}): '{name}' must be a date/time, got {value!r}"
            ) from None
        if value is None:
            raise RecordValidationError(f"record {index} ({url}): missing '{name}'")
        if type(value) is str and len(value) == 19 and value[10] == "T":
            try:
                parsed = datetime.fromisoformat(value).replace(tzinfo=UTC)
            except ValueError:
                parsed = None
        else:
            parsed = None
        if parsed is None:
            try:
                parsed = parse_time(value, field_name=name)
            except RecordValidationError as exc:
                raise RecordValidationError(f"record {index} ({url}): {exc}") from None
        seconds = math.floor(parsed.timestamp())
        if len(self.times) > 500_000:
            self.times.clear()
        self.times[value] = seconds
        return seconds

    def validate(self, batch: list[Any], offset: int) -> list[tuple[Any, ...]]:
        """Check every record of the batch and turn it into a products row (nothing is written)."""
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        seen: set[str] = set()
        codes = TYPE_CODES
        times = self.times
        texts_get = self.texts.get
        # id(data_source) -> source id; valid for this batch only (the batch keeps the objects alive).
        by_object: dict[int, int] = {}
        converted: list[dict[str, Any]] = []
        for position, record in enumerate(batch):
            if type(record) is not dict:
                record = self._coerce(record, offset + position)
                converted.append(record)  # keeps id(data_source) unique for this batch
            url = record.get("url")
            if type(url) is not str or not url:
                self._bad_url(batch, url, offset, position)
            before = len(seen)
            seen.add(url)
            if len(seen) == before:
                self._bad_url(batch, url, offset, position)
            ds = record.get("data_source")
            sid = by_object.get(id(ds))
            if sid is None:
                if ds is None:
                    raise RecordValidationError(f"record {offset + position} ({url}): missing 'data_source'")
                sid = by_object[id(ds)] = self.source_id(ds, offset + position, url)
            kind = record.get("data_product_type")
            code = codes.get(kind) if type(kind) is str else None
            if code is None:
                raise RecordValidationError(
                    f"record {offset + position} ({url}): unknown data_product_type {kind!r}; use one of "
                    f"{', '.join(DATA_PRODUCT_TYPES)}"
                )
            value = record.get("start")
            start = times.get(value) if type(value) is str else None
            if start is None:
                start = self.epoch(value, offset + position, url, "start")
            value = record.get("end")
            end = times.get(value) if type(value) is str else None
            if end is None:
                end = self.epoch(value, offset + position, url, "end")
            if end < start:
                raise RecordValidationError(
                    f"record {offset + position} ({url}): end {record.get('end')} is before start {record.get('start')}"
                )
            md = record.get("metadata")
            if type(md) is not dict:
                md = self._coerce_metadata(md, offset + position, url)
            key = (code, tuple(md), tuple(md.values()))
            try:
                entry = texts_get(key)
            except TypeError:  # an unhashable value (a list, an object)
                entry = None
            if entry is None or (entry[2] is not None and entry[2] != tuple(map(type, key[2]))):
                entry = self._metadata_entry(key, md, offset + position, url)
            text, sub, _ = entry
            append((sid, code, start, end, url, sub, text))
        # Keys with too many distinct values (free-form ones) are not listed.
        new_values = self.new_values
        grown = [key for key, values in new_values.items() if len(values) > MAX_LISTED_VALUES]
        if grown:
            self.overflow.update(grown)
            for key in grown:
                del new_values[key]
            self.shapes.clear()
        return rows

    def _metadata_entry(
        self, key: tuple[Any, ...], md: dict[str, Any], index: int, url: str
    ) -> tuple[str, int | None, tuple[type, ...] | None]:
        """(JSON text, sub_code, value types or None) of a record's metadata, ``key`` being (type
        code, keys, values); collects the values for the filter builder and remembers the answer
        (see ``texts``)."""
        code = key[0]
        shape = (code, key[1])
        plan = self.shapes.get(shape)
        if plan is None:
            plan = self._shape(shape)
        tracked, own, subs = plan
        try:
            text = self.encode_metadata(md)
        except (TypeError, ValueError, RecursionError) as exc:
            raise RecordValidationError(f"record {index} ({url}): metadata is not JSON-serialisable ({exc})") from None
        new_values = self.new_values
        for name in tracked:
            item = md[name]
            new_values[name].add(item if type(item) is str else _listed_json(item))
        if own is None:
            sub = None
        else:
            sub = md[own]
            sub = subs.get(sub) if type(sub) is str else None
            if sub is None:
                sub = self._new_sub_code(code, md[own])
        types = tuple(map(type, key[2]))
        entry = (text, sub, None if _PLAIN_VALUE_TYPES.issuperset(types) else types)
        # Kept only when equal keys and values (of equal types) always have the same text: not
        # with floats (0.0 == -0.0), containers (a tuple (1,) == (True,)) or non-string keys
        # (1 == True, written "1" and "true").
        if _CACHEABLE_VALUE_TYPES.issuperset(types) and all(type(k) is str for k in key[1]):
            cache = self.texts
            if len(cache) >= _TEXT_CACHE_LIMIT:
                cache.clear()
            cache[key] = entry
        return entry

    @staticmethod
    def _coerce(record: Any, index: int) -> dict[str, Any]:
        if isinstance(record, DataProduct):
            return record.to_api_dict("full_record")
        if isinstance(record, Mapping):
            return dict(record)
        raise RecordValidationError(
            f"record {index}: a data product must be a JSON object, got {type(record).__name__}"
        )

    @staticmethod
    def _coerce_metadata(md: Any, index: int, url: str) -> dict[str, Any]:
        if md is None:
            return {}
        if isinstance(md, Mapping):
            return dict(md)
        raise RecordValidationError(f"record {index} ({url}): metadata must be a JSON object, got {md!r}")

    @staticmethod
    def _bad_url(batch: list[Any], url: Any, offset: int, position: int) -> None:
        index = offset + position
        if type(url) is not str or not url:
            raise RecordValidationError(
                f"record {index}: missing 'url' (every data product needs its URL, a non-empty string)"
            )
        first = next(i for i, r in enumerate(batch) if isinstance(r, Mapping) and r.get("url") == url and i < position)
        raise RecordValidationError(
            f"record {index} ({url}): duplicate URL, also record {offset + first}; a URL identifies one data product"
        )

    def _shape(self, shape: tuple[int, tuple[str, ...]]) -> tuple[tuple[str, ...], str | None, dict[str, int]]:
        """For records of this type with these metadata keys: the keys whose values are collected,
        the record's own ``<type>_type`` key if present, and that type's sub-type codes."""
        code, keys = shape
        own = _OWN_KEYS[code]
        for key in keys:
            if key in _SUB_TYPE_KEYS and key != own:
                self._cross(key)
        tracked = tuple(k for k in keys if k not in self.overflow)
        for key in tracked:
            self.new_values.setdefault(key, set())
        plan = (tracked, own if own in keys else None, self.sub_codes[code])
        self.shapes[shape] = plan
        return plan

    def _new_sub_code(self, code: int, value: Any) -> int:
        text = _as_text(value)
        known = self.sub_codes[code].get(text)
        if known is None:
            known = self.sub_codes[code][text] = self.next_sub_code
            self.next_sub_code += 1
            self.new_sub_codes.append((known, code, text))
        return known

    def _cross(self, key: str) -> None:
        if key not in self.cross_keys:
            self.cross_keys.add(key)
            self.cross_changed = True

    # -- writing

    def write(self, rows: list[tuple[Any, ...]], first_new_id: int, offset: int) -> None:
        conn = self.conn
        if self.new_sources:
            for source in self.new_sources:
                self.backend._insert_source(conn, source)
            self.sources_added += len(self.new_sources)
            self.new_sources = []
        if self.new_sub_codes:
            conn.executemany("INSERT INTO sub_types (code, type, value) VALUES (?, ?, ?)", self.new_sub_codes)
            self.new_sub_codes = []
            self.sub_codes_added = True
        days = self.days
        types = self.types
        days.update([(row[0], row[2] // _DAY) for row in rows])
        types.update([(row[0], row[1]) for row in rows])
        if self.bulk:
            # No URL index yet: duplicates across batches are found when it is built.
            conn.executemany(
                "INSERT INTO products (source_id, type, start_s, end_s, url, sub_code, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self.inserted += len(rows)
            return
        batch_first_id = int(conn.execute("SELECT coalesce(max(id), 0) FROM products").fetchone()[0]) + 1
        before = conn.total_changes
        # Insert first: on a growing archive almost every URL is new, and this avoids looking
        # each one up. URLs that exist already are skipped here and updated below.
        conn.executemany(
            "INSERT INTO products (source_id, type, start_s, end_s, url, sub_code, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO NOTHING",
            rows,
        )
        inserted = conn.total_changes - before
        updates = []
        updated = 0
        if inserted != len(rows):
            existing: dict[str, tuple[Any, ...]] = {}
            for chunk in _chunks([r[4] for r in rows], 500):
                sql = (
                    "SELECT url, id, source_id, type, start_s, end_s, sub_code, metadata FROM products "
                    f"WHERE url IN ({','.join('?' * len(chunk))})"
                )
                for url, *old in conn.execute(sql, chunk):
                    existing[url] = tuple(old)
            for position, row in enumerate(rows):
                old = existing.get(row[4])
                if old is None:
                    raise CatalogError(f"record {offset + position} ({row[4]}) was not written; nothing was changed")
                if old[0] >= batch_first_id:
                    continue  # inserted just now
                if old[0] >= first_new_id:
                    raise RecordValidationError(
                        f"record {offset + position} ({row[4]}): duplicate URL, already given earlier in this ingest; "
                        "a URL identifies one data product"
                    )
                updated += 1
                # The counts above took every row as new: take the old one off.
                days[(old[1], old[3] // _DAY)] -= 1
                types[(old[1], old[2])] -= 1
                if old[1:] != (row[0], row[1], row[2], row[3], row[5], row[6]):
                    updates.append((row[0], row[1], row[2], row[3], row[5], row[6], old[0]))
            # Only rows whose values change are written: re-ingesting the same records then
            # rewrites neither the rows nor their (source_id, start_s) and (sub_code, start_s)
            # index entries, which SQLite would otherwise delete and re-insert.
            conn.executemany(
                "UPDATE products SET source_id = ?, type = ?, start_s = ?, end_s = ?, sub_code = ?, metadata = ? "
                "WHERE id = ?",
                updates,
            )
        self.inserted += inserted
        self.updated += updated

    def build_indexes(self, first_new_id: int) -> None:
        """Create the product indexes after a bulk load (URL uniqueness first)."""
        conn = self.conn
        try:
            conn.execute(_PRODUCT_INDEXES["products_url"])
        except sqlite3.IntegrityError:
            url, first, second = conn.execute(
                "SELECT url, min(id), max(id) FROM products GROUP BY url HAVING count(*) > 1 ORDER BY min(id) LIMIT 1"
            ).fetchone()
            raise RecordValidationError(
                f"record {second - first_new_id} ({url}): duplicate URL, already given earlier in this ingest "
                f"(record {first - first_new_id}); a URL identifies one data product"
            ) from None
        for name, statement in _PRODUCT_INDEXES.items():
            if name != "products_url":
                conn.execute(statement)

    def finish(self) -> None:
        conn = self.conn
        _apply_counts(conn, self.days, self.types)
        conn.executemany(
            "INSERT INTO metadata_keys (key, overflow) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET overflow = 1",
            [(k,) for k in self.overflow],
        )
        conn.executemany("DELETE FROM metadata_values WHERE key = ?", [(k,) for k in self.overflow])
        rows = []
        for key, values in self.new_values.items():
            for value in values:
                text = value[1] if type(value) is tuple else json.dumps(value)
                rows.append((key, text))
        conn.executemany(
            "INSERT OR IGNORE INTO metadata_keys (key, overflow) VALUES (?, 0)", [(k,) for k in self.new_values]
        )
        conn.executemany("INSERT OR IGNORE INTO metadata_values (key, value) VALUES (?, ?)", rows)
        # Keys that now exceed the limit across ingests.
        over = conn.execute(
            "SELECT key FROM metadata_values GROUP BY key HAVING count(*) > ?", (MAX_LISTED_VALUES,)
        ).fetchall()
        for (key,) in over:
            conn.execute("UPDATE metadata_keys SET overflow = 1 WHERE key = ?", (key,))
            conn.execute("DELETE FROM metadata_values WHERE key = ?", (key,))
        if self.cross_changed:
            conn.execute(
                "INSERT OR REPLACE INTO catalog_meta (key, value) VALUES ('cross_keys', ?)",
                (json.dumps(sorted(self.cross_keys)),),
            )
        if self.sources_added or self.cross_changed or self.sub_codes_added:
            CatalogBackend._bump_generation(conn)
        _write_planner_stats(conn)


_LISTED_CONSTANTS: Final[dict[Any, tuple[str, str]]] = {
    (bool, True): ("\x00json", "true"),
    (bool, False): ("\x00json", "false"),
    (type(None), None): ("\x00json", "null"),
}


def _listed_json(value: Any) -> tuple[str, str]:
    """How metadata_values lists a value that is not a string: its JSON (sorted keys)."""
    known = _LISTED_CONSTANTS.get((type(value), value)) if type(value) in (bool, type(None)) else None
    return known if known is not None else ("\x00json", json.dumps(value, sort_keys=True))


def _dumps_encoder() -> Callable[[Any], str]:
    """``json.dumps(value)`` (default arguments) through the C encoder that json.dumps runs, made
    once: json.dumps builds it again on every call (~0.8 us of a 1.8 us call for a 4-key metadata
    dict). Falls back to json.dumps where the C encoder is missing or writes something else."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps
    try:
        encoder = make(None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True)

        def dumps(value: Any) -> str:
            return "".join(encoder(value, 0))

        sample = {"a": [1, 2.5, None, True, '\u00e9\n"'], "b": {"c": {}}, "d": float("nan"), "e": [], "f": -0.0}
        if dumps(sample) != json.dumps(sample):
            return json.dumps
    except Exception:  # another C signature on another Python: keep the public path
        return json.dumps
    return dumps


def _write_planner_stats(conn: sqlite3.Connection) -> None:
    """Give the query planner the products' real shape (sqlite_stat1), computed from the counts.

    ANALYZE would scan millions of rows (or, with analysis_limit, guess: it then rated both
    indexes alike and picked the sub-type index for "one site, one year, keogram_type = daily",
    25x slower than the source index). Rows per source and per sub-type code are what decide
    between the (source_id, start_s) and (sub_code, start_s) indexes.
    """
    total, sources = conn.execute("SELECT coalesce(sum(n), 0), count(DISTINCT source_id) FROM type_counts").fetchone()
    if not total:
        return
    codes = conn.execute("SELECT count(*) FROM sub_types").fetchone()[0] + 1  # + records without one
    conn.execute("ANALYZE catalog_meta")  # creates sqlite_stat1 when missing (a tiny table)
    conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'products'")
    conn.executemany(
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('products', ?, ?)",
        [
            ("products_source_start", f"{total} {max(1, total // max(1, sources))} 4"),
            ("products_sub_start", f"{total} {max(1, total // codes)} 30"),
            ("products_url", f"{total} 1"),
        ],
    )
    conn.execute("ANALYZE sqlite_schema")  # reload the statistics on this connection


def _apply_counts(conn: sqlite3.Connection, days: Counter[tuple[int, int]], types: Counter[tuple[int, int]]) -> None:
    conn.executemany(
        "INSERT INTO day_counts (source_id, day, n) VALUES (?, ?, ?) "
        "ON CONFLICT(source_id, day) DO UPDATE SET n = n + excluded.n",
        [(sid, day, n) for (sid, day), n in days.items() if n],
    )
    conn.executemany(
        "INSERT INTO type_counts (source_id, type, n) VALUES (?, ?, ?) "
        "ON CONFLICT(source_id, type) DO UPDATE SET n = n + excluded.n",
        [(sid, code, n) for (sid, code), n in types.items() if n],
    )
    conn.execute("DELETE FROM day_counts WHERE n <= 0")
    conn.execute("DELETE FROM type_counts WHERE n <= 0")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _product_setters() -> tuple[Callable[[Any, Any], None], ...]:
    """Setters for DataProduct's fields that bypass the frozen dataclass' __setattr__ guard.

    With slots, each field's member descriptor sets it directly: ~3x faster than
    object.__setattr__, which matters when building 10,000 records.
    """
    names = ("data_source", "data_product_type", "start", "end", "url", "metadata")
    setters: list[Callable[[Any, Any], None]] = []
    for name in names:
        descriptor = DataProduct.__dict__.get(name)
        setter = getattr(descriptor, "__set__", None)
        if setter is None:

            def setter(obj: Any, value: Any, _name: str = name) -> None:
                object.__setattr__(obj, _name, value)

        setters.append(setter)
    return tuple(setters)


_PRODUCT_SETTERS: Final = _product_setters()

_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many records.

    Every object built is live, so collections triggered by the allocations find nothing and
    cost ~20% of a large search. Nested/concurrent uses are counted; the collector is
    re-enabled only if it was enabled before the first one.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def _locked(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _locked_message(path: Path, what: str) -> str:
    return (
        f"cannot {what} catalog {path}: another process has been writing it for more than {BUSY_TIMEOUT_S:g} s "
        "(a large ingest holds it until it commits); try again when that write has finished"
    )


def _check_stop(cancel: CancelToken | None, deadline: float | None, timeout: float | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise SearchCancelled("the search was cancelled")
    if deadline is not None and time.perf_counter() > deadline:
        raise SearchTimeout(
            f"the search did not complete within {timeout:g} s; narrow the query (fewer sources or a shorter "
            "time range) or allow a longer timeout"
        )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _batched(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    if isinstance(records, list):
        for i in range(0, len(records), size):
            yield records[i : i + size]
        return
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _as_date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_time(value, field_name=name).date()
        except RecordValidationError as exc:
            raise QueryValidationError(str(exc)) from None
    raise QueryValidationError(f"{name} must be a date like 2020-01-01, got {value!r}")


def _micro(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True))
