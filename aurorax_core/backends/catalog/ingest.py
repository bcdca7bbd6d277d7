"""The ingest state machine: validate each batch of AuroraX records into rows, write them, and
keep the counts, sub-types, cross keys and listed metadata values in step, in the caller's
transaction.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, Final

from ...errors import CatalogError, RecordValidationError
from ...models import DATA_PRODUCT_TYPES, DataProduct, DataSource, parse_time
from ..filters import as_text
from ..urls import url_problem
from .store import (
    _DAY,
    _OWN_KEYS,
    _PRODUCT_INDEXES,
    _SUB_TYPE_KEYS,
    _TYPE_NAMES,
    MAX_LISTED_VALUES,
    TYPE_CODES,
    TYPE_COLUMNS,
    _chunks,
    _SourceCache,
    bump_generation,
)

if TYPE_CHECKING:
    from .writes import _Writes

_WEB: Final = ("https://", "http://")
_TEXT_CACHE_LIMIT: Final = 200_000
_PLAIN_VALUE_TYPES: Final = frozenset({str, type(None)})
_CACHEABLE_VALUE_TYPES: Final = frozenset({str, type(None), bool, int})


class _SourceResolver:
    """The source id of each record's ``data_source``: a known source (by identifier or by
    program/platform/instrument_type), or a new one that the ingest creates."""

    def __init__(self, cache: _SourceCache) -> None:
        self.by_id: dict[int, DataSource] = dict(cache.by_id)
        self.by_key: dict[tuple[str, str, str], int] = dict(cache.by_key)
        self.memo: dict[Any, int] = {}
        self.new_sources: list[DataSource] = []

    def take_new(self) -> list[DataSource]:
        """The sources created since the last call (to be written)."""
        new, self.new_sources = self.new_sources, []
        return new

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


class _IngestState:
    """Everything one ingest call accumulates: sources, counts, metadata values."""

    def __init__(self, backend: _Writes, conn: sqlite3.Connection, cache: _SourceCache) -> None:
        self.backend = backend
        self.conn = conn
        self.sources = _SourceResolver(cache)
        self.sources_added = 0
        self.inserted = 0
        self.updated = 0
        self.times: dict[Any, int] = {}
        self.days: Counter[tuple[int, int, int]] = Counter()  # (source, day, type) -> records
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
            if not url.startswith(_WEB):
                problem = url_problem(url)
                if problem is not None:
                    raise RecordValidationError(f"record {offset + position} ({_shown(url)}): {problem}")
            before = len(seen)
            seen.add(url)
            if len(seen) == before:
                self._bad_url(batch, url, offset, position)
            ds = record.get("data_source")
            sid = by_object.get(id(ds))
            if sid is None:
                if ds is None:
                    raise RecordValidationError(f"record {offset + position} ({url}): missing 'data_source'")
                sid = by_object[id(ds)] = self.sources.source_id(ds, offset + position, url)
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
        text = as_text(value)
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
        new_sources = self.sources.take_new()
        if new_sources:
            for source in new_sources:
                self.backend._insert_source(conn, source)
            self.sources_added += len(new_sources)
        if self.new_sub_codes:
            conn.executemany("INSERT INTO sub_types (code, type, value) VALUES (?, ?, ?)", self.new_sub_codes)
            self.new_sub_codes = []
            self.sub_codes_added = True
        days = self.days
        types = self.types
        days.update([(row[0], row[2] // _DAY, row[1]) for row in rows])
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
                days[(old[1], old[3] // _DAY, old[2])] -= 1
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
            bump_generation(conn)
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


def _apply_counts(
    conn: sqlite3.Connection, days: Counter[tuple[int, int, int]], types: Counter[tuple[int, int]]
) -> None:
    """Add the changes of a write to the counts: ``days`` (source, day, type code) -> change,
    ``types`` (source, type code) -> change. In the write's transaction, like the rows."""
    per_day: dict[tuple[int, int], list[int]] = {}
    width = len(TYPE_COLUMNS)
    for (sid, day, code), n in days.items():
        if n:
            row = per_day.get((sid, day))
            if row is None:
                row = per_day[(sid, day)] = [0] * (width + 1)
            row[0] += n
            row[code] += n
    columns = ", ".join(TYPE_COLUMNS)
    conn.executemany(
        f"INSERT INTO day_counts (source_id, day, n, {columns}) VALUES (?, ?, ?, {', '.join('?' * width)}) "
        "ON CONFLICT(source_id, day) DO UPDATE SET n = n + excluded.n, "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in TYPE_COLUMNS),
        [(sid, day, *counts) for (sid, day), counts in per_day.items()],
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


def _shown(url: str) -> str:
    """The URL for an error message: quoted, control characters escaped, at most 80 characters."""
    text = repr(url)
    return text if len(text) <= 80 else text[:77] + "..."
