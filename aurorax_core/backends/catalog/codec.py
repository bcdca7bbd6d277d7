"""Rows to results: catalog rows -> :class:`DataProduct` records, and rows -> the AuroraX data
endpoint's response body (bytes), each applying the metadata filters that the SQL could not.

One reason to change: what a result looks like (the AuroraX record and its JSON).
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import accumulate
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Final

from ...events import CancelToken
from ...models import DataProduct, DataSource, format_time
from ...query import MetadataFilterExpression
from ...results import SourceLayout
from ..filters import CompiledFilter, MetadataPredicate, compile_filter, mode_for
from .deadline import _check_stop, rows_per_check
from .store import _TYPE_NAMES, _SourceCache

# Characters json.dumps writes verbatim inside a string (anything else is escaped).
_JSON_PLAIN_RE: Final = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")
# the same set as bytes.translate's delete argument: a text is plain when deleting these leaves nothing
_JSON_PLAIN_BYTES: Final = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


class _SourcePredicates(dict[int, MetadataPredicate | None]):
    """``preds[source_id]``: the metadata filter compiled for that source's schema types (or None
    when there is no filter). Sources whose schemas give the filter's keys the same comparison
    modes share one compiled filter (a query of 20,000 expressions is compiled once, not once
    per source)."""

    def __init__(self, filters: Sequence[MetadataFilterExpression], logical: str, cache: _SourceCache) -> None:
        super().__init__()
        self._filters = filters
        self._logical = logical
        self._data_types = cache.data_types
        self._keys = tuple(dict.fromkeys(e.key for e in filters))
        self._by_modes: dict[tuple[str, ...], CompiledFilter | None] = {}
        self.cost = 0

    def __missing__(self, sid: int) -> MetadataPredicate | None:
        types = self._data_types.get(sid) or {}
        modes = tuple(mode_for(types.get(k)) for k in self._keys)
        if modes in self._by_modes:
            compiled = self._by_modes[modes]
        else:
            compiled = self._by_modes[modes] = compile_filter(self._filters, self._logical, types)
        if compiled is not None:
            self.cost = max(self.cost, compiled.cost)
        pred = self[sid] = None if compiled is None else compiled.predicate
        return pred

    def compile_all(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Compile the filter for every source in ``rows``; the highest per-row cost."""
        for sid in {row[0] for row in rows}:
            self[sid]
        return self.cost


def encode_body(
    rows: list[tuple[Any, ...]],
    filters: Sequence[MetadataFilterExpression],
    logical: str,
    cache: _SourceCache,
    cancel: CancelToken | None,
    deadline: float | None,
    timeout: float | None,
) -> tuple[bytes, SourceLayout]:
    """The body from rows whose url and metadata are UTF-8 bytes (``CatalogBackend._select(as_bytes=True)``).

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
        every = rows_per_check(preds.compile_all(rows))
        for index, row in enumerate(rows):
            if watch and not index % every:
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


def build_products(
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
    every = rows_per_check(preds.compile_all(rows)) if filters else rows_per_check(0)
    for index, (sid, code, start_s, end_s, url, meta) in enumerate(rows):
        if watch and not index % every:
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
