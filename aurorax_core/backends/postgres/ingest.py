"""Writing data products and sources: COPY in batches, in ONE transaction, idempotent.

Records are validated batch by batch (``validate.RecordChecker``) and streamed with ``COPY``: the
memory an ingest holds is one batch, whatever the number of records. Into an empty catalog the
rows go straight into ``products`` (its unique URL index catches a URL given twice); otherwise
into a temporary staging table that is merged at the end: rows whose URL is new are inserted,
rows whose values changed are updated, unchanged rows are not written at all (re-ingesting the
same records changes nothing). Day counts, pick-list values and cross keys are updated in the
same transaction. Writers take turns on an advisory lock; readers never wait. Any error, a
dropped connection or a killed process rolls everything back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from ...errors import RecordValidationError
from ...models import DataSource
from ..catalog import IngestSummary
from .rows import SourceIndex
from .schema import PRODUCT_INDEXES, WRITE_LOCK
from .validate import MAX_LISTED_VALUES, RecordChecker

_DAY: Final = 86400
_COLUMNS: Final = "source_id, type, start_s, end_s, url, sub_type, metadata"
# the catalog is re-analysed after a load that grows it by more than this fraction
_ANALYZE_GROWTH: Final = 0.1


def source_params(source: DataSource) -> tuple[Any, ...]:
    return (
        source.identifier,
        source.program,
        source.platform,
        source.instrument_type,
        source.source_type,
        source.display_name,
        source.owner,
        json.dumps(source.to_api_dict("full_record")),
    )


INSERT_SOURCE: Final = (
    "INSERT INTO aurorax.sources (identifier, program, platform, instrument_type, source_type, display_name, owner, "
    "record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
UPDATE_SOURCE: Final = (
    "UPDATE aurorax.sources SET program = %s, platform = %s, instrument_type = %s, source_type = %s, "
    "display_name = %s, owner = %s, record = %s WHERE identifier = %s"
)


def bump_generation(conn: Any) -> None:
    conn.execute(
        "INSERT INTO aurorax.catalog_meta (key, value) VALUES ('generation', %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (uuid.uuid4().hex,),
    )


def _batched(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def replace_sources(conn: Any, sources: Iterable[Mapping[str, Any] | DataSource]) -> None:
    """Empty the catalog and load ``sources`` in the caller's transaction (``replace_catalog``)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    # DELETE, not TRUNCATE: readers keep seeing the old catalog (TRUNCATE would block them)
    for table in ("products", "sources", "day_counts", "metadata_keys", "metadata_values"):
        conn.execute(f"DELETE FROM aurorax.{table}")  # fixed names
    conn.execute("DELETE FROM aurorax.catalog_meta WHERE key = 'cross_keys'")
    upsert_sources(conn, sources)


def upsert_sources(conn: Any, records: Iterable[Mapping[str, Any] | DataSource]) -> IngestSummary:
    """Insert or replace data sources (matched by identifier, else by the triple) in the caller's
    transaction."""
    from dataclasses import replace

    from ...errors import DuplicateError

    started = time.perf_counter()
    parsed: list[DataSource] = []
    for number, record in enumerate(records):
        if isinstance(record, DataSource):
            parsed.append(record)
            continue
        try:
            parsed.append(DataSource.from_api_dict(record))  # type: ignore[arg-type]
        except RecordValidationError as exc:
            raise RecordValidationError(f"data source record {number}: {exc}") from None
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    added = updated = 0
    for source in parsed:
        row = conn.execute(
            "SELECT identifier FROM aurorax.sources WHERE program = %s AND platform = %s AND instrument_type = %s",
            source.key,
        ).fetchone()
        by_key = row[0] if row else None
        source = replace(source, stats=None)
        if source.identifier is None:
            if by_key is None:
                next_id = conn.execute("SELECT coalesce(max(identifier), 0) + 1 FROM aurorax.sources").fetchone()[0]
                source = replace(source, identifier=int(next_id))
            else:
                source = replace(source, identifier=by_key)
        elif by_key is not None and by_key != source.identifier:
            raise DuplicateError(
                f"data source {source.identifier} has the program/platform/instrument type of the existing source "
                f"{by_key} ({'/'.join(source.key)}); fix the identifier or delete the other source"
            )
        params = source_params(source)
        exists = conn.execute("SELECT 1 FROM aurorax.sources WHERE identifier = %s", (source.identifier,)).fetchone()
        if exists:
            conn.execute(UPDATE_SOURCE, (*params[1:], source.identifier))
            updated += 1
        else:
            conn.execute(INSERT_SOURCE, params)
            added += 1
    bump_generation(conn)
    return IngestSummary(sources_added=added, sources_updated=updated, seconds=time.perf_counter() - started)


class ProductLoad:
    """One ingest call on one connection, inside the caller's transaction."""

    def __init__(self, conn: Any, index: SourceIndex) -> None:
        self.conn = conn
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        overflow = {k for (k,) in conn.execute("SELECT key FROM aurorax.metadata_keys WHERE overflow")}
        self.checker = RecordChecker(index, overflow)
        self.before = int(
            conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'aurorax.products'::regclass").fetchone()[0]
        )
        self.empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM aurorax.products)").fetchone()[0]
        self.days: Counter[tuple[int, int, int]] = Counter()
        self.inserted = 0
        self.updated = 0
        self.sources_added = 0
        if self.empty:
            # Into an empty catalog: load without the indexes and build them at the end (sorting
            # once is several times faster than maintaining three b-trees row by row). Readers
            # wait for this transaction meanwhile (DROP INDEX locks the table): the catalog is empty.
            for name in PRODUCT_INDEXES:
                conn.execute(f"DROP INDEX aurorax.{name}")  # fixed names
        else:
            conn.execute(
                "CREATE TEMP TABLE aurorax_staging (ord bigint NOT NULL, source_id integer NOT NULL, type smallint "
                "NOT NULL, start_s bigint NOT NULL, end_s bigint NOT NULL, url text NOT NULL, sub_type text, "
                "metadata text NOT NULL) ON COMMIT DROP"
            )

    def run(self, records: Iterable[Any], batch_size: int, progress: Callable[[int], None] | None) -> None:
        """Validate and send the records; one COPY stays open for the whole stream, so that the
        server takes in one batch while the next is being validated."""
        from psycopg.copy import QueuedLibpqWriter

        done = 0
        target = "aurorax.products" if self.empty else "aurorax_staging"
        columns = _COLUMNS if self.empty else f"ord, {_COLUMNS}"
        cursor = self.conn.cursor()
        # the writer thread sends while this one validates
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN", writer=QueuedLibpqWriter(cursor)) as copy:
            write = copy.write_row
            for batch in _batched(records, batch_size):
                rows = self.checker.check(batch, done)
                # every row counted as new; the merge takes off the rows it replaces
                self.days.update([(r[0], r[2] // _DAY, r[1]) for r in rows])
                if self.empty:
                    for row in rows:
                        write(row)
                else:
                    for number, row in enumerate(rows, done):
                        write((number, *row))
                done += len(batch)
                if progress is not None:
                    progress(done)
        self._write_sources()  # sources have no foreign key: written after the products is fine
        if self.empty:
            self._build_indexes()
            self.inserted = done
        elif done:
            self._merge()
        self._apply_days()
        self._finish()

    def _write_sources(self) -> None:
        new = self.checker.new_sources
        if new:
            self.conn.cursor().executemany(INSERT_SOURCE, [source_params(s) for s in new])
            self.sources_added += len(new)
            self.checker.new_sources = []

    def _build_indexes(self) -> None:
        import psycopg

        conn = self.conn
        conn.execute("SELECT set_config('maintenance_work_mem', '256MB', true)")
        try:
            with conn.transaction():
                conn.execute(f"CREATE {PRODUCT_INDEXES['products_url']}")
        except psycopg.errors.UniqueViolation:
            url, first, second = conn.execute(
                "SELECT url, min(id), max(id) FROM aurorax.products GROUP BY url HAVING count(*) > 1 ORDER BY 3 LIMIT 1"
            ).fetchone()
            base = conn.execute("SELECT min(id) FROM aurorax.products").fetchone()[0]  # the first record's id
            self._duplicate(url, second - base, first - base)
        for name, statement in PRODUCT_INDEXES.items():
            if name != "products_url":
                conn.execute(f"CREATE {statement}")

    def _apply_days(self) -> None:
        changes = [(sid, day, code, n) for (sid, day, code), n in self.days.items() if n]
        if not changes:
            return
        columns = [list(c) for c in zip(*changes, strict=True)]
        # one statement for all the (source, day, type) changes, not one per row
        self.conn.execute(
            "INSERT INTO aurorax.day_counts (source_id, day, type, n) "
            "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::smallint[], %s::bigint[]) "
            "ON CONFLICT (source_id, day, type) DO UPDATE SET n = aurorax.day_counts.n + EXCLUDED.n",
            columns,
        )
        self.conn.execute("DELETE FROM aurorax.day_counts WHERE n <= 0")

    def _merge(self) -> None:
        """Staged rows into products: one join finds the URLs that exist already (for the counts
        and the updates); new rows are inserted, changed ones updated by id, unchanged ones left."""
        import psycopg

        conn = self.conn
        conn.execute("ANALYZE aurorax_staging")
        conn.execute(
            "CREATE TEMP TABLE aurorax_existing ON COMMIT DROP AS "
            "SELECT s.ord, p.id, p.source_id, p.type, p.start_s, "
            "(p.source_id, p.type, p.start_s, p.end_s, p.sub_type, p.metadata) IS DISTINCT FROM "
            "(s.source_id, s.type, s.start_s, s.end_s, s.sub_type, s.metadata) AS changed "
            "FROM aurorax_staging AS s JOIN aurorax.products AS p ON p.url = s.url"
        )
        repeated = conn.execute("SELECT count(*) - count(DISTINCT id) FROM aurorax_existing").fetchone()[0]
        if repeated:  # an existing URL given twice in this ingest
            ords = conn.execute(
                "SELECT min(ord), max(ord) FROM aurorax_existing GROUP BY id HAVING count(*) > 1 ORDER BY 2 LIMIT 1"
            ).fetchone()
            url = conn.execute("SELECT url FROM aurorax_staging WHERE ord = %s", (ords[0],)).fetchone()[0]
            self._duplicate(url, ords[1], ords[0])
        for sid, day, code, n in conn.execute(
            "SELECT source_id, floor(start_s / 86400.0)::int, type, count(*) FROM aurorax_existing GROUP BY 1, 2, 3"
        ):
            self.days[(sid, day, code)] -= n
        conn.execute(
            "UPDATE aurorax.products AS p SET source_id = s.source_id, type = s.type, start_s = s.start_s, "
            "end_s = s.end_s, sub_type = s.sub_type, metadata = s.metadata "
            "FROM aurorax_existing AS e JOIN aurorax_staging AS s ON s.ord = e.ord WHERE e.changed AND p.id = e.id"
        )
        try:
            with conn.transaction():  # a savepoint: a URL repeated among the new rows is looked for below
                cursor = conn.execute(
                    f"INSERT INTO aurorax.products ({_COLUMNS}) SELECT {_COLUMNS} FROM aurorax_staging AS s "
                    "WHERE NOT EXISTS (SELECT 1 FROM aurorax_existing AS e WHERE e.ord = s.ord) ORDER BY s.ord"
                )
        except psycopg.errors.UniqueViolation:
            url, first, second = conn.execute(
                "SELECT url, min(ord), max(ord) FROM aurorax_staging GROUP BY url HAVING count(*) > 1 "
                "ORDER BY 3 LIMIT 1"
            ).fetchone()
            self._duplicate(url, second, first)
        self.inserted = cursor.rowcount
        self.updated = conn.execute("SELECT count(*) FROM aurorax_existing").fetchone()[0]

    @staticmethod
    def _duplicate(url: str, second: int, first: int) -> None:
        raise RecordValidationError(
            f"record {second} ({url}): duplicate URL, already given earlier in this ingest (record {first}); a "
            "URL identifies one data product"
        )

    def _finish(self) -> None:
        conn = self.conn
        checker = self.checker
        if checker.overflow:
            conn.cursor().executemany(
                "INSERT INTO aurorax.metadata_keys (key, overflow) VALUES (%s, true) "
                "ON CONFLICT (key) DO UPDATE SET overflow = true",
                [(k,) for k in checker.overflow],
            )
            conn.execute("DELETE FROM aurorax.metadata_values WHERE key = ANY(%s)", (sorted(checker.overflow),))
        conn.cursor().executemany(
            "INSERT INTO aurorax.metadata_keys (key, overflow) VALUES (%s, false) ON CONFLICT (key) DO NOTHING",
            [(k,) for k in checker.values],
        )
        conn.cursor().executemany(
            "INSERT INTO aurorax.metadata_values (key, value) VALUES (%s, %s) ON CONFLICT (key, md5(value)) DO NOTHING",
            checker.listed(),
        )
        grown = [
            k
            for (k,) in conn.execute(
                "SELECT key FROM aurorax.metadata_values GROUP BY key HAVING count(*) > %s", (MAX_LISTED_VALUES,)
            )
        ]
        if grown:
            conn.execute("UPDATE aurorax.metadata_keys SET overflow = true WHERE key = ANY(%s)", (grown,))
            conn.execute("DELETE FROM aurorax.metadata_values WHERE key = ANY(%s)", (grown,))
        if checker.cross_changed:
            conn.execute(
                "INSERT INTO aurorax.catalog_meta (key, value) VALUES ('cross_keys', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (json.dumps(sorted(checker.cross_keys)),),
            )
        if self.sources_added or checker.cross_changed:
            bump_generation(conn)
        if self.inserted > max(1000, _ANALYZE_GROWTH * max(self.before, 0)):
            # fresh statistics, so that the planner picks the right index for the new rows
            conn.execute("ANALYZE aurorax.products")
            conn.execute("ANALYZE aurorax.day_counts")
