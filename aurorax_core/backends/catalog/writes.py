"""Writes: data sources (add, upsert, update, delete), data products (ingest, upload, delete).

Each call is one transaction (:meth:`CatalogStore._write`); the ingest's record-by-record work is
:mod:`.ingest`'s.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...errors import ConflictError, DuplicateError, NotFound, RecordValidationError
from ...models import DATA_SOURCE_FIELDS, DataProduct, DataSource
from .ingest import _apply_counts, _IngestState
from .reads import _Reads
from .store import _DAY, _PRODUCT_INDEXES, DEFAULT_BATCH_SIZE, _chunks, _source_record_json, _SourceCache


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


class _Writes(_Reads):
    """Data-source and data-product writes."""

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
            days: Counter[tuple[int, int, int]] = Counter()
            types: Counter[tuple[int, int]] = Counter()
            for chunk in _chunks(wanted, 500):
                rows = conn.execute(
                    f"SELECT id, source_id, type, start_s FROM products WHERE source_id = ? AND url IN "
                    f"({','.join('?' * len(chunk))})",
                    [source.identifier, *chunk],
                ).fetchall()
                conn.executemany("DELETE FROM products WHERE id = ?", [(r[0],) for r in rows])
                for _, sid, code, start_s in rows:
                    days[(sid, start_s // _DAY, code)] -= 1
                    types[(sid, code)] -= 1
                deleted += len(rows)
            _apply_counts(conn, days, types)
        return deleted

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
        # No garbage-collector pause (there was one): 200,000-record ingests took the same CPU
        # time with and without it (1.09 vs 1.11 s), and it paused the collector process-wide.
        with self._journal_for_load(), self._write() as conn:
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
