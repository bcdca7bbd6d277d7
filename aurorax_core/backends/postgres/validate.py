"""Checking AuroraX data-product records and turning them into product rows (nothing written).

The rules and messages are the SQLite catalog's: the URL is the identity, a record's unknown data
source comes in from its own ``data_source`` (by identifier when given, else by program / platform
/ instrument type), times are UTC, metadata is a JSON object stored as ``json.dumps`` writes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Final

from ...errors import RecordValidationError
from ...models import DATA_PRODUCT_TYPES, DataProduct, DataSource, parse_time
from ..urls import url_problem
from .plan import as_text
from .rows import OWN_KEYS, SUB_TYPE_KEYS, TYPE_CODES, SourceIndex

_WEB: Final = ("https://", "http://")  # almost every record: no scheme parsing needed

MAX_LISTED_VALUES: Final = 100
# a b-tree entry holds ~2,700 bytes: longer URLs could not be in the unique URL index
MAX_URL_LENGTH: Final = 2000
_CACHE_LIMIT: Final = 200_000
_CACHEABLE: Final = frozenset({str, type(None), bool, int})


class RecordChecker:
    """Validates batches of one ingest call; remembers the sources it creates and the values seen.

    Row: ``(source_id, type, start_s, end_s, url, sub_type, metadata_json)``.
    """

    def __init__(self, index: SourceIndex, overflow: set[str]) -> None:
        self.by_id: dict[int, DataSource] = dict(index.by_id)
        self.by_key: dict[tuple[str, str, str], int] = dict(index.by_key)
        self.memo: dict[Any, int] = {}
        self.new_sources: list[DataSource] = []
        self.times: dict[Any, int] = {}
        self.texts: dict[Any, tuple[str, str | None]] = {}
        self.cross_keys = set(index.cross_keys)
        self.cross_changed = False
        self.overflow = set(overflow)
        # key -> values seen (str as is, anything else as its JSON text in a 1-tuple)
        self.values: dict[str, set[Any]] = {}
        self.shapes: dict[tuple[int, tuple[str, ...]], tuple[str, ...]] = {}

    # --- sources

    def source_id(self, ds: Any, index: int, url: str) -> int:
        if isinstance(ds, DataSource):
            key: Any = ("obj", ds.identifier, ds.key)
            data: Mapping[str, Any] = ds.to_api_dict("full_record")
        elif isinstance(ds, Mapping):
            data = ds
            key = (data.get("identifier"), data.get("program"), data.get("platform"), data.get("instrument_type"))
        else:
            raise RecordValidationError(f"record {index} ({url}): 'data_source' must be an object, got {ds!r}")
        with suppress(KeyError, TypeError):
            return self.memo[key]
        sid = self._resolve(data, index, url)
        with suppress(TypeError):
            self.memo[key] = sid
        return sid

    def _resolve(self, data: Mapping[str, Any], index: int, url: str) -> int:
        ident = data.get("identifier")
        triple = (data.get("program"), data.get("platform"), data.get("instrument_type"))
        has_triple = all(isinstance(v, str) and v for v in triple)
        named = "/".join(str(v) for v in triple)
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
                        f"the record says {named}"
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
                    f"the same program/platform/instrument_type {named}"
                )
        else:
            if not has_triple:
                raise RecordValidationError(
                    f"record {index} ({url}): data_source needs an identifier or program, platform and instrument_type"
                )
            known_id = self.by_key.get(triple)  # type: ignore[arg-type]
            if known_id is not None:
                return known_id
            ident = max(max(self.by_id, default=0), 0) + 1
        try:
            source = DataSource.from_api_dict({**data, "identifier": ident, "stats": None})
        except RecordValidationError as exc:
            raise RecordValidationError(f"record {index} ({url}): {exc}") from None
        self.by_id[ident] = source
        self.by_key[source.key] = ident
        self.new_sources.append(source)
        return ident

    # --- records

    def epoch(self, value: Any, index: int, url: str, name: str) -> int:
        try:
            return self.times[value]
        except KeyError:
            pass
        except TypeError:
            raise RecordValidationError(
                f"record {index} ({url}): '{name}' must be a date/time, got {value!r}"
            ) from None
        if value is None:
            raise RecordValidationError(f"record {index} ({url}): missing '{name}'")
        parsed = None
        if type(value) is str and len(value) == 19 and value[10] == "T":
            with suppress(ValueError):
                parsed = datetime.fromisoformat(value).replace(tzinfo=UTC)
        if parsed is None:
            try:
                parsed = parse_time(value, field_name=name)
            except RecordValidationError as exc:
                raise RecordValidationError(f"record {index} ({url}): {exc}") from None
        seconds = math.floor(parsed.timestamp())
        if len(self.times) > _CACHE_LIMIT:
            self.times.clear()
        self.times[value] = seconds
        return seconds

    def check(self, batch: list[Any], offset: int) -> list[tuple[Any, ...]]:
        """Every record of the batch as a row (RecordValidationError naming the first bad one)."""
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        seen: set[str] = set()
        by_object: dict[int, int] = {}
        keep_alive: list[Any] = []
        for position, record in enumerate(batch):
            index = offset + position
            if type(record) is not dict:
                record = _coerce(record, index)
                keep_alive.append(record)  # keeps id(data_source) unique within the batch
            url = record.get("url")
            if type(url) is not str or not url:
                raise RecordValidationError(
                    f"record {index}: missing 'url' (every data product needs its URL, a non-empty string)"
                )
            if url in seen:
                first = next(i for i, r in enumerate(batch) if isinstance(r, Mapping) and r.get("url") == url)
                raise RecordValidationError(
                    f"record {index} ({url}): duplicate URL, also record {offset + first}; a URL identifies one data "
                    "product"
                )
            seen.add(url)
            if "\x00" in url or len(url) > MAX_URL_LENGTH:
                self._bad_url_text(url, index)
            if not url.startswith(_WEB):
                problem = url_problem(url)
                if problem is not None:
                    raise RecordValidationError(f"record {index} ({url!r}): {problem}")
            ds = record.get("data_source")
            sid = by_object.get(id(ds))
            if sid is None:
                if ds is None:
                    raise RecordValidationError(f"record {index} ({url}): missing 'data_source'")
                sid = by_object[id(ds)] = self.source_id(ds, index, url)
            kind = record.get("data_product_type")
            code = TYPE_CODES.get(kind) if type(kind) is str else None
            if code is None:
                raise RecordValidationError(
                    f"record {index} ({url}): unknown data_product_type {kind!r}; use one of "
                    f"{', '.join(DATA_PRODUCT_TYPES)}"
                )
            value = record.get("start")
            start = self.times.get(value) if type(value) is str else None
            if start is None:
                start = self.epoch(value, index, url, "start")
            value = record.get("end")
            end = self.times.get(value) if type(value) is str else None
            if end is None:
                end = self.epoch(value, index, url, "end")
            if end < start:
                raise RecordValidationError(
                    f"record {index} ({url}): end {record.get('end')} is before start {record.get('start')}"
                )
            md = record.get("metadata")
            if type(md) is not dict:
                md = _coerce_metadata(md, index, url)
            text, sub = self._metadata(code, md, index, url)
            append((sid, code, start, end, url, sub, text))
        for key in [k for k, v in self.values.items() if len(v) > MAX_LISTED_VALUES]:
            self.overflow.add(key)
            del self.values[key]
            self.shapes.clear()
        return rows

    @staticmethod
    def _bad_url_text(url: str, index: int) -> None:
        if "\x00" in url:
            raise RecordValidationError(f"record {index} ({url!r}): the URL contains a NUL character")
        raise RecordValidationError(
            f"record {index} ({url[:80]}...): the URL is {len(url):,} characters long; a PostgreSQL catalog indexes "
            f"URLs of up to {MAX_URL_LENGTH:,}"
        )

    def _metadata(self, code: int, md: dict[str, Any], index: int, url: str) -> tuple[str, str | None]:
        """(JSON text, own sub-type text) of a record's metadata; collects values for pick lists."""
        values = tuple(md.values())
        key = (code, tuple(md), values)
        types = tuple(map(type, values))
        cacheable = _CACHEABLE.issuperset(types)
        if cacheable:
            hit = self.texts.get((key, types))
            if hit is not None:
                return hit
        shape = (code, key[1])
        tracked = self.shapes.get(shape)
        if tracked is None:
            tracked = self._shape(shape)
        try:
            text = json.dumps(md)
        except (TypeError, ValueError, RecursionError) as exc:
            raise RecordValidationError(f"record {index} ({url}): metadata is not JSON-serialisable ({exc})") from None
        collected = self.values
        for name in tracked:
            item = md[name]
            collected[name].add(item if type(item) is str else (json.dumps(item, sort_keys=True),))
        own = OWN_KEYS[code]
        entry = (text, as_text(md[own]) if own in md else None)
        if cacheable and all(type(k) is str for k in key[1]):
            if len(self.texts) >= _CACHE_LIMIT:
                self.texts.clear()
            self.texts[(key, types)] = entry
        return entry

    def _shape(self, shape: tuple[int, tuple[str, ...]]) -> tuple[str, ...]:
        code, keys = shape
        own = OWN_KEYS[code]
        for name in keys:
            if name in SUB_TYPE_KEYS and name != own and name not in self.cross_keys:
                self.cross_keys.add(name)
                self.cross_changed = True
        tracked = tuple(k for k in keys if k not in self.overflow)
        for name in tracked:
            self.values.setdefault(name, set())
        self.shapes[shape] = tracked
        return tracked

    def listed(self) -> list[tuple[str, str]]:
        """(key, value as JSON text) of every value collected for the pick lists."""
        return [
            (key, item[0] if type(item) is tuple else json.dumps(item))
            for key, items in self.values.items()
            for item in items
        ]


def _coerce(record: Any, index: int) -> dict[str, Any]:
    if isinstance(record, DataProduct):
        return record.to_api_dict("full_record")
    if isinstance(record, Mapping):
        return dict(record)
    raise RecordValidationError(f"record {index}: a data product must be a JSON object, got {type(record).__name__}")


def _coerce_metadata(md: Any, index: int, url: str) -> dict[str, Any]:
    if md is None:
        return {}
    if isinstance(md, Mapping):
        return dict(md)
    raise RecordValidationError(f"record {index} ({url}): metadata must be a JSON object, got {md!r}")
