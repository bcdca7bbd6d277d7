"""From product rows to records: the cached view of the sources, DataProducts, the AuroraX body.

A search row is ``(source_id, type, start_s, end_s, url, metadata)``: the metadata is the JSON
text stored at ingest (what ``json.dumps`` wrote), so a record's AuroraX JSON size is computed
from stored lengths, as the SQLite catalog does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final

from ...models import DATA_PRODUCT_TYPES, DataProduct, DataSource, format_time
from ...query import MetadataFilterExpression
from ..filters import compile_metadata_filter

# Fixed codes (never reorder): the same small integers as the SQLite catalog.
TYPE_CODES: Final[dict[str, int]] = {
    "keogram": 1,
    "montage": 2,
    "movie": 3,
    "summary_plot": 4,
    "data_availability": 5,
    "average": 6,
    "gridded_data": 7,
}
TYPE_NAMES: Final[dict[int, str]] = {v: k for k, v in TYPE_CODES.items()}
assert set(TYPE_CODES) == set(DATA_PRODUCT_TYPES)
OWN_KEYS: Final[dict[int, str]] = {code: f"{name}_type" for name, code in TYPE_CODES.items()}
SUB_TYPE_KEYS: Final[dict[str, int]] = {key: code for code, key in OWN_KEYS.items()}
ROW_COLUMNS: Final = "source_id, type, start_s, end_s, url, metadata"
_START: Final = itemgetter(2)
_URL: Final = itemgetter(4)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_EMPTY_BODY_SIZE: Final = len('{"result": []}')


@dataclass(slots=True)
class SourceIndex:
    """The sources table as Python objects, valid while the catalog's generation is unchanged."""

    generation: str
    by_id: dict[int, DataSource]
    by_key: dict[tuple[str, str, str], int]
    data_types: dict[int, dict[str, str]]
    cross_keys: frozenset[str]
    basic_len: dict[int, int] = field(default_factory=dict)

    def select(
        self, programs: Sequence[str], platforms: Sequence[str], instrument_types: Sequence[str]
    ) -> list[int] | None:
        """Source ids matching the constraints (lists OR'ed inside, AND'ed across), or None when
        there is no constraint."""
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


def source_from_row(identifier: int, record: str) -> DataSource:
    data = json.loads(record)
    data["identifier"] = identifier
    return DataSource.from_api_dict(data)


def load_sources(conn: Any, generation: str) -> SourceIndex:
    by_id: dict[int, DataSource] = {}
    by_key: dict[tuple[str, str, str], int] = {}
    data_types: dict[int, dict[str, str]] = {}
    basic_len: dict[int, int] = {}
    for identifier, record in conn.execute("SELECT identifier, record FROM aurorax.sources ORDER BY identifier"):
        source = source_from_row(identifier, record)
        by_id[identifier] = source
        by_key[source.key] = identifier
        types: dict[str, str] = {}
        for entry in source.data_product_metadata_schema or []:
            if isinstance(entry, Mapping) and entry.get("field_name") and entry.get("data_type"):
                types[str(entry["field_name"])] = str(entry["data_type"])
        data_types[identifier] = types
        basic_len[identifier] = len(json.dumps(source.to_api_dict("basic_info")))
    row = conn.execute("SELECT value FROM aurorax.catalog_meta WHERE key = 'cross_keys'").fetchone()
    cross = frozenset(json.loads(row[0])) if row else frozenset()
    return SourceIndex(generation, by_id, by_key, data_types, cross, basic_len)


def sort_rows(rows: list[tuple[Any, ...]]) -> None:
    """Sort by start time, then URL (code-point order, whatever the database's collation)."""
    rows.sort(key=_URL)
    rows.sort(key=_START)


class SourcePredicates(dict[int, Callable[[dict[str, Any]], bool] | None]):
    """``preds[source_id]``: the metadata filter compiled for that source's schema types."""

    def __init__(self, filters: Sequence[MetadataFilterExpression], logical: str, index: SourceIndex) -> None:
        super().__init__()
        self._filters = filters
        self._logical = logical
        self._types = index.data_types

    def __missing__(self, sid: int) -> Callable[[dict[str, Any]], bool] | None:
        pred = self[sid] = compile_metadata_filter(self._filters, self._logical, self._types.get(sid))
        return pred


def _setters() -> tuple[Callable[[Any, Any], None], ...]:
    """Field setters of the frozen, slotted DataProduct (its member descriptors): ~3x faster than
    the dataclass __init__ when building tens of thousands of records."""
    out: list[Callable[[Any, Any], None]] = []
    for name in ("data_source", "data_product_type", "start", "end", "url", "metadata"):
        setter = getattr(DataProduct.__dict__.get(name), "__set__", None)
        if setter is None:

            def setter(obj: Any, value: Any, _name: str = name) -> None:
                object.__setattr__(obj, _name, value)

        out.append(setter)
    return tuple(out)


_SET: Final = _setters()


def build_products(
    rows: Sequence[tuple[Any, ...]],
    filters: Sequence[MetadataFilterExpression],
    logical: str,
    index: SourceIndex,
    check: Callable[[], None],
) -> tuple[list[DataProduct], int]:
    """DataProducts of the (sorted) rows that pass the metadata filters, and the exact size of
    their AuroraX JSON body (``{"result": [...]}`` with basic_info sources)."""
    preds = SourcePredicates(filters, logical, index) if filters else None
    set_source, set_type, set_start, set_end, set_url, set_metadata = _SET
    new = DataProduct.__new__
    loads = json.loads
    fromts = datetime.fromtimestamp
    times: dict[int, datetime] = {}
    kinds: dict[int, tuple[DataSource, str, int]] = {}
    parsed: dict[str, dict[str, Any]] = {}
    products: list[DataProduct] = []
    append = products.append
    size = 0
    escapes = 0
    for number, (sid, code, start_s, end_s, url, meta) in enumerate(rows):
        if not number % 4096:
            check()
        md = parsed.get(meta)
        if md is None:
            md = loads(meta)
            if len(parsed) < 4096 and all(type(v) in _SCALARS for v in md.values()):
                parsed[meta] = md
                md = md.copy()
        else:
            md = md.copy()
        if preds is not None:
            pred = preds[sid]
            if pred is not None and not pred(md):
                continue
        start = times.get(start_s)
        if start is None:
            start = times[start_s] = fromts(start_s, UTC)
        end = times.get(end_s)
        if end is None:
            end = times[end_s] = fromts(end_s, UTC)
        kind = kinds.get(sid * 16 + code)
        if kind is None:
            name = TYPE_NAMES[code]
            # {"data_source": DS, "data_product_type": "T", "start": "S", "end": "E", "url": U,
            # "metadata": M}: 129 fixed characters around the variable parts
            kind = kinds[sid * 16 + code] = (index.by_id[sid], name, index.basic_len[sid] + len(name) + 129)
        product = new(DataProduct)
        set_source(product, kind[0])
        set_type(product, kind[1])
        set_start(product, start)
        set_end(product, end)
        set_url(product, url)
        set_metadata(product, md)
        append(product)
        size += kind[2] + len(url) + len(meta)
        if not url.isascii() or '"' in url or "\\" in url or not url.isprintable():
            escapes += len(json.dumps(url)) - len(url) - 2
    if products:
        size += escapes + 2 * (len(products) - 1)
    return products, size + _EMPTY_BODY_SIZE


def encode_body(products: Sequence[DataProduct]) -> bytes:
    """The AuroraX data endpoint's body for these records (basic_info sources)."""
    return json.dumps({"result": [p.to_api_dict("basic_info") for p in products]}).encode()


def time_text(seconds: int) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def products_by_url(conn: Any, urls: Sequence[str], index: SourceIndex) -> list[DataProduct]:
    """The products with these URLs, in the given order; unknown URLs are skipped."""
    found: dict[str, tuple[Any, ...]] = {}
    for first in range(0, len(urls), 5000):
        chunk = list(urls[first : first + 5000])
        sql = f"SELECT {ROW_COLUMNS} FROM aurorax.products WHERE url = ANY(%s)"
        for row in conn.execute(sql, (chunk,)):
            found[row[4]] = row
    rows = [found[u] for u in urls if u in found]
    return build_products(rows, (), "AND", index, lambda: None)[0]
