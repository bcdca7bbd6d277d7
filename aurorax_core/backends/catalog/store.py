"""The catalog file: schema, migrations, connections, the write transaction and the source cache.

One reason to change: how the catalog is stored in SQLite. See the package docstring for the
tables. Everything above this (search, writes, ingest, request tracking) goes through
:class:`CatalogStore`'s connections and :meth:`CatalogStore._write`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from ...errors import CatalogError
from ...models import DATA_PRODUCT_TYPES, DataSource
from ..filters import schema_types
from .migrations import upgrade

SCHEMA_VERSION: Final = 3
# 1: development catalogs with a text sub_type column (refused: rebuild); 2: day_counts without
# the per-type columns (upgraded in place by migrations.py on the first writable open).
OLDEST_UPGRADABLE: Final = 2
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
# day_counts' per-type columns, in type-code order: the availability breakdown without a scan.
TYPE_COLUMNS: Final[tuple[str, ...]] = tuple(f"n_{name}" for name in TYPE_CODES)
_SUB_TYPE_KEYS: Final[dict[str, int]] = {f"{name}_type": code for name, code in TYPE_CODES.items()}
_OWN_KEYS: Final[dict[int, str]] = {code: f"{name}_type" for name, code in TYPE_CODES.items()}

_SQLITE_HEADER: Final = b"SQLite format 3\x00"
_DAY: Final = 86400

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
    f"""CREATE TABLE IF NOT EXISTS day_counts (
        source_id INTEGER NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL,
        {", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in TYPE_COLUMNS)},
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


class CatalogStore:
    """The catalog file and its per-thread connections (the base of :class:`CatalogBackend`).

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

    def __enter__(self) -> CatalogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._path)!r}{', readonly=True' if self._readonly else ''})"

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
            if version < OLDEST_UPGRADABLE:
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
            if version < SCHEMA_VERSION:
                if self._readonly:
                    raise CatalogError(
                        f"catalog {path} has schema version {version} and this aurorax-core reads version "
                        f"{SCHEMA_VERSION}; open it once with write access (for example `aurorax-core --catalog "
                        f"{path} catalog stats`) to upgrade it in place (one pass over its records; the data is kept)"
                    )
                upgrade(conn, path)
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
            data_types[identifier] = schema_types(source.data_product_metadata_schema)
            basic_len[identifier] = len(json.dumps(source.to_api_dict("basic_info")))
        row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'cross_keys'").fetchone()
        cross = frozenset(json.loads(row[0])) if row else frozenset()
        sub_codes: dict[int, dict[str, int]] = {}
        for code, kind, value in conn.execute("SELECT code, type, value FROM sub_types"):
            sub_codes.setdefault(kind, {})[value] = code
        return _SourceCache(generation, by_id, by_key, data_types, cross, basic_len, sub_codes)

    # --- data sources --------------------------------------------------------------------------

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
        if conn.in_transaction:
            # A write inside another write of this thread (a sync chunk's records, deletions and
            # ledger entry) joins the outer transaction, so all of it commits or none does.
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
        bump_generation(conn)

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


def bump_generation(conn: sqlite3.Connection) -> None:
    """Mark the sources (or sub-types, cross keys) as changed: every process reloads its cache."""
    conn.execute("INSERT OR REPLACE INTO catalog_meta (key, value) VALUES ('generation', ?)", (uuid.uuid4().hex,))


def _locked(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _locked_message(path: Path, what: str) -> str:
    return (
        f"cannot {what} catalog {path}: another process has been writing it for more than {BUSY_TIMEOUT_S:g} s "
        "(a large ingest holds it until it commits); try again when that write has finished"
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
