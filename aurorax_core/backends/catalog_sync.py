"""The SQLite side of ``catalog sync``: the ledger table and one-transaction chunk writes.

``CatalogSyncLedger(catalog)`` gives a :class:`~aurorax_core.backends.catalog.CatalogBackend` the
:class:`~aurorax_core.backends.base.SyncLedger` ability. It keeps its own table, ``sync_ledger``,
created on the first synced chunk, and otherwise uses only the catalog's public write methods
(``ingest_products``, ``delete_products``) inside the catalog's ``_write()`` transaction: those join
it, so a chunk's records, its deletions and its ledger row commit together or not at all (a kill -9
mid-chunk leaves the catalog as before the chunk, and the ledger does not claim it).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from ..errors import CatalogError
from ..models import format_time
from ..query import DataProductQuery

if TYPE_CHECKING:
    from ..sync import LedgerEntry, SyncChunk
    from .catalog import CatalogBackend

__all__ = ["LEDGER_TABLE", "CatalogSyncLedger"]

LEDGER_TABLE: Final = "sync_ledger"
_CREATE: Final = f"""
CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
    origin TEXT NOT NULL,
    program TEXT NOT NULL,
    platform TEXT NOT NULL,
    instrument_type TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    month TEXT NOT NULL,
    source_id INTEGER,
    upstream_signal INTEGER,
    records INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (origin, program, platform, instrument_type, window_start, window_end)
)
"""
_COLUMNS: Final = (
    "origin, program, platform, instrument_type, window_start, window_end, month, source_id, "
    "upstream_signal, records, checksum, synced_at"
)


class CatalogSyncLedger:
    """The sync ledger of one catalog (see the module doc)."""

    def __init__(self, catalog: CatalogBackend) -> None:
        self.catalog = catalog

    def _has_table(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LEDGER_TABLE,)).fetchone()
        return row is not None

    def ledger_entries(self, origin: str | None = None) -> list[LedgerEntry]:
        from ..sync import LedgerEntry

        conn = self.catalog._conn()
        try:
            if not self._has_table(conn):
                return []
            sql = f"SELECT {_COLUMNS} FROM {LEDGER_TABLE}"
            params: tuple[str, ...] = ()
            if origin is not None:
                sql += " WHERE origin = ?"
                params = (origin,)
            rows = conn.execute(sql + " ORDER BY origin, month, program, platform, instrument_type", params).fetchall()
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot read the sync ledger of {self.catalog.path} ({exc})") from None
        return [
            LedgerEntry(
                origin=r[0],
                program=r[1],
                platform=r[2],
                instrument_type=r[3],
                window_start=_parse(r[4]),
                window_end=_parse(r[5]),
                month=r[6],
                source_id=r[7],
                upstream_signal=r[8],
                records=r[9],
                checksum=r[10],
                synced_at=_parse(r[11]),
            )
            for r in rows
        ]

    def local_urls(self, chunk: SyncChunk) -> set[str]:
        source = chunk.source
        query = DataProductQuery(
            start=chunk.window_start,
            end=chunk.window_end,
            programs=(source.program,),
            platforms=(source.platform,),
            instrument_types=(source.instrument_type,),
        )
        result = self.catalog.search(query)
        return {p.url for p in result.data if p.start < chunk.start_before}

    def apply_chunk(self, chunk: SyncChunk, stale_urls: set[str]) -> None:
        catalog = self.catalog
        source = chunk.source
        with catalog._write() as conn:
            conn.execute(_CREATE)
            if chunk.records:
                catalog.ingest_products(chunk.records)
            if stale_urls and source.identifier is not None:
                catalog.delete_products(source.identifier, sorted(stale_urls))
            conn.execute(
                f"INSERT OR REPLACE INTO {LEDGER_TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk.origin,
                    source.program,
                    source.platform,
                    source.instrument_type,
                    format_time(chunk.window_start),
                    format_time(chunk.window_end),
                    chunk.month,
                    source.identifier,
                    chunk.upstream_signal,
                    len(chunk.records),
                    chunk.checksum,
                    format_time(datetime.now(UTC)),
                ),
            )


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
