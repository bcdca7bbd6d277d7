"""The catalog's tables in PostgreSQL (schema ``aurorax``), created and migrated by the project.

``aurorax.schema_version`` holds one row: the version the tables are at. Opening a catalog
creates the schema in a database that has none (unless read-only), upgrades an older version
step by step in one transaction (``MIGRATIONS``), and refuses one too old to upgrade or newer than
this code. Concurrent openers take turns on an advisory lock, so the schema is made once.

Tables (the same content as the SQLite catalog, in PostgreSQL's terms):

* ``sources``: one row per data source, the full record as JSON text.
* ``products``: source id, type code, start/end as epoch seconds, url (unique: the identity),
  ``sub_type`` (the text of the record's own ``<type>_type`` metadata value, e.g. ``daily``) and
  the metadata as JSON text exactly as ``json.dumps`` writes it (result sizes are then exact).
  Indexes ``(source_id, start_s)`` and ``(type, sub_type, start_s)``, as in the SQLite catalog.
* ``day_counts``: products per source, day and type, kept by every write (availability, stats).
* ``metadata_keys`` / ``metadata_values``: listed values of each metadata key (pick lists).
* ``search_requests``: requests made with ``submit`` (the CLI's request lifecycle).
* ``server_requests`` (version 2): an ``aurorax-core serve`` request store shared by instances;
  version 3 adds the instance running each search (``owner``, ``heartbeat``) and the result's
  data-source ``layout`` (server_requests.py).
"""

from __future__ import annotations

from typing import Any, Final

from ...errors import CatalogSchemaError

SCHEMA: Final = "aurorax"
SCHEMA_VERSION: Final = 3
# the oldest version this code upgrades (older ones were development layouts: rebuild them)
MIN_UPGRADABLE: Final = 1
# pg_advisory_xact_lock keys: schema changes, catalog writes (one writer at a time, as SQLite)
SCHEMA_LOCK: Final = 0x41555201
WRITE_LOCK: Final = 0x41555202

# name -> "[UNIQUE] INDEX ..." (a load into an empty catalog drops and rebuilds them)
PRODUCT_INDEXES: Final[dict[str, str]] = {
    "products_url": "UNIQUE INDEX products_url ON aurorax.products (url)",
    "products_source_start": "INDEX products_source_start ON aurorax.products (source_id, start_s)",
    "products_sub_start": "INDEX products_sub_start ON aurorax.products (type, sub_type, start_s)",
}

_V1: Final[tuple[str, ...]] = (
    "CREATE SCHEMA IF NOT EXISTS aurorax",
    "CREATE TABLE aurorax.schema_version (version integer NOT NULL, changed timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE aurorax.catalog_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE aurorax.sources (
        identifier integer PRIMARY KEY,
        program text NOT NULL,
        platform text NOT NULL,
        instrument_type text NOT NULL,
        source_type text NOT NULL,
        display_name text NOT NULL,
        owner text,
        record text NOT NULL,
        UNIQUE (program, platform, instrument_type))""",
    """CREATE TABLE aurorax.products (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source_id integer NOT NULL,
        type smallint NOT NULL,
        start_s bigint NOT NULL,
        end_s bigint NOT NULL CHECK (end_s >= start_s),
        url text NOT NULL,
        sub_type text,
        metadata text NOT NULL)""",
    *(f"CREATE {statement}" for statement in PRODUCT_INDEXES.values()),
    """CREATE TABLE aurorax.day_counts (
        source_id integer NOT NULL, day integer NOT NULL, type smallint NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (source_id, day, type))""",
    "CREATE TABLE aurorax.metadata_keys (key text PRIMARY KEY, overflow boolean NOT NULL DEFAULT false)",
    "CREATE TABLE aurorax.metadata_values (key text NOT NULL, value text NOT NULL)",
    # by digest: a listed value may be longer than a b-tree entry can be (~2.7 kB)
    "CREATE UNIQUE INDEX metadata_values_key_value ON aurorax.metadata_values (key, md5(value))",
    """CREATE TABLE aurorax.search_requests (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        requested text NOT NULL,
        completed text,
        query text NOT NULL,
        logs text NOT NULL,
        result_count integer,
        file_size bigint,
        query_duration integer,
        error_condition boolean NOT NULL DEFAULT false,
        urls bytea)""",
)

_V2: Final[tuple[str, ...]] = (
    """CREATE TABLE aurorax.server_requests (
        id text PRIMARY KEY,
        requested timestamptz NOT NULL DEFAULT now(),
        state text NOT NULL,
        query text NOT NULL,
        client_ip text NOT NULL DEFAULT '',
        logs text NOT NULL,
        completed timestamptz,
        result bytea,
        result_count integer,
        file_size bigint,
        query_duration integer,
        error_message text,
        expires timestamptz)""",
    "CREATE INDEX server_requests_expires ON aurorax.server_requests (expires)",
)

_V3: Final[tuple[str, ...]] = (
    "ALTER TABLE aurorax.server_requests ADD COLUMN owner text NOT NULL DEFAULT '', "
    "ADD COLUMN heartbeat timestamptz, ADD COLUMN layout bytea",
    # the owner's poll of its running searches and the upkeep's look for abandoned ones
    "CREATE INDEX server_requests_pending ON aurorax.server_requests (heartbeat) WHERE state = 'pending'",
    "CREATE INDEX server_requests_completed ON aurorax.server_requests (completed)",
)

# version reached -> statements that take the previous version there
MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {1: _V1, 2: _V2, 3: _V3}


def _exists(conn: Any) -> tuple[bool, int | None]:
    """(whether the aurorax schema exists, its version or None when it has no version table)."""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (SCHEMA, "schema_version"),
    ).fetchone()
    has_schema = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()[0] > 0
    if not row[0]:
        return has_schema, None
    version = conn.execute("SELECT max(version) FROM aurorax.schema_version").fetchone()[0]
    return True, version


def ensure_schema(conn: Any, display: str, *, readonly: bool) -> int:
    """Create or upgrade the catalog schema on an autocommit connection; returns the version.

    Raises:
        CatalogSchemaError: no schema and read-only; a schema too old to upgrade (or one without
            a version) and read-only; a newer schema.
        psycopg.Error: the database refused (the caller types it).
    """
    has_schema, version = _exists(conn)
    if version == SCHEMA_VERSION:
        return version
    _check(has_schema, version, display, readonly=readonly)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        has_schema, version = _exists(conn)  # another process may have done it meanwhile
        _check(has_schema, version, display, readonly=readonly)
        current = version or 0
        for target in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            if target == 1:
                conn.execute("INSERT INTO aurorax.catalog_meta (key, value) VALUES ('generation', md5(random()::text))")
        conn.execute("DELETE FROM aurorax.schema_version")
        conn.execute("INSERT INTO aurorax.schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
    return SCHEMA_VERSION


def _check(has_schema: bool, version: int | None, display: str, *, readonly: bool) -> None:
    if version == SCHEMA_VERSION:
        return
    if version is not None and version > SCHEMA_VERSION:
        raise CatalogSchemaError(
            f"catalog {display} was written by a newer aurorax-core (schema version {version}; this version reads "
            f"up to {SCHEMA_VERSION}); upgrade aurorax-core"
        )
    if has_schema and version is None:
        raise CatalogSchemaError(
            f"database {display} has a schema named 'aurorax' that is not an aurorax-core catalog (no "
            "schema_version table); use another database, or drop that schema"
        )
    if version is not None and version < MIN_UPGRADABLE:
        raise CatalogSchemaError(
            f"catalog {display} has schema version {version}, older than this version can upgrade (from "
            f"{MIN_UPGRADABLE}); rebuild it: drop the schema 'aurorax' (DROP SCHEMA aurorax CASCADE) and ingest again"
        )
    if readonly:
        if version is None:
            raise CatalogSchemaError(
                f"database {display} has no aurorax-core catalog (no 'aurorax' schema); create it by opening it "
                "writable, e.g. `aurorax-core --catalog URL catalog ingest FILE` or `catalog demo`"
            )
        raise CatalogSchemaError(
            f"catalog {display} has schema version {version} and needs an upgrade to {SCHEMA_VERSION}, but it was "
            "opened read-only; open it once writable (e.g. `aurorax-core --catalog URL catalog stats`)"
        )
