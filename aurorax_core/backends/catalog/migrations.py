"""Schema upgrades of existing catalogs, each in one transaction (a failure leaves the file as it was).

Version 2 -> 3: ``day_counts`` gains one count column per data product type
(:data:`~.store.TYPE_COLUMNS`), so that ``availability()`` answers with the per-type breakdown
from the counts alone. The columns are filled from the products (one grouped pass over them:
about half a minute for 5.9 million records). Days are UTC days: ``floor(start_s / 86400)``,
as the ingest computes them (SQLite's ``/`` truncates towards zero, so negative epochs are
floored explicitly).
"""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from pathlib import Path

from ...errors import CatalogError

# Written out (not imported from store) so that this upgrade stays what it was when store moves on.
_V3_TYPE_COLUMNS = (
    "n_keogram",
    "n_montage",
    "n_movie",
    "n_summary_plot",
    "n_data_availability",
    "n_average",
    "n_gridded_data",
)


def _to_v3(conn: sqlite3.Connection) -> None:
    present = {row[1] for row in conn.execute("PRAGMA table_info(day_counts)")}
    for column in _V3_TYPE_COLUMNS:
        if column not in present:
            conn.execute(f"ALTER TABLE day_counts ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    per_type = ", ".join(f"sum(type = {code})" for code in range(1, len(_V3_TYPE_COLUMNS) + 1))
    conn.execute("DELETE FROM day_counts")
    conn.execute(
        f"INSERT INTO day_counts (source_id, day, n, {', '.join(_V3_TYPE_COLUMNS)}) "
        f"SELECT source_id, (start_s - ((start_s % 86400) + 86400) % 86400) / 86400 AS d, count(*), {per_type} "
        "FROM products GROUP BY source_id, d"
    )


_STEPS = {2: _to_v3}


def upgrade(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the catalog on ``conn`` to the current schema version (another process may have done
    it while this one waited for the write lock: the version is read again inside the transaction).

    Raises:
        CatalogError: the upgrade failed (the catalog is unchanged).
    """
    from .store import SCHEMA_VERSION

    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            while version < SCHEMA_VERSION:
                _STEPS[version](conn)
                version += 1
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise CatalogError(
            f"cannot upgrade catalog {path} to schema version {SCHEMA_VERSION} ({exc}); it is unchanged. Check that "
            "the file and its directory are writable and the disk has space, then open it again"
        ) from None
