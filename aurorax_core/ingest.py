"""Loading AuroraX JSON into the embedded catalog.

Accepted files (detected from the content):

* data products: ``{"result": [...]}`` (the AuroraX data endpoint), a plain list (an aurorax-cli
  output file ``<request_id>_data.json``), ``{"records": [...]}`` / ``{"data": [...]}``, or JSON
  Lines (``.jsonl`` / ``.ndjson``: one record per line);
* data sources: a list of AuroraX data-source records, or ``{"records"/"result"/"data": [...]}``.

Large files are streamed (the list is decoded element by element), written in batches inside one
transaction per call: a failure, or a kill, leaves the catalog exactly as it was before the call.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final, Literal

from .backends.catalog import DEFAULT_BATCH_SIZE, CatalogBackend, IngestProgress, IngestSummary
from .errors import RecordValidationError
from .models import DataProduct, DataSource

__all__ = [
    "IngestSummary",
    "detect_kind",
    "ingest_file",
    "ingest_records",
    "ingest_sources",
    "iter_records",
]

_CHUNK: Final = 1 << 20
_WRAPPER_KEYS: Final = ("result", "records", "data", "data_products", "data_sources")
_WRAPPER_RE: Final = re.compile(r'\{\s*"(result|records|data|data_products|data_sources)"\s*:\s*\[')
_PRODUCT_KEYS: Final = frozenset({"url", "data_product_type"})

FileKind = Literal["auto", "products", "sources"]


def _open_catalog(catalog: CatalogBackend | str | os.PathLike[str]) -> tuple[Any, bool]:
    if isinstance(catalog, CatalogBackend):
        return catalog, False
    if not isinstance(catalog, (str, os.PathLike)):
        return catalog, False  # another engine's catalog (e.g. PostgresBackend): same write methods
    from .backends.registry import scheme_of

    scheme = scheme_of(catalog) if isinstance(catalog, str) else None
    if scheme not in (None, "sqlite", "file"):
        # a catalog URL (postgresql://...): the registry opens it
        from .backends.registry import open_spec

        return open_spec(catalog), True
    return CatalogBackend(catalog), True


def iter_records(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Yield the records of an AuroraX JSON file one by one (streaming; see the module doc).

    Raises:
        RecordValidationError: the file is missing, unreadable, empty, not JSON, or not a list
            of records (the message says where).
    """
    path = Path(path)
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise RecordValidationError(f"records file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise RecordValidationError(f"cannot read records file {str(path)!r}: {exc.strerror or exc}") from None
    with handle:
        try:
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                yield from _iter_json_lines(handle, path)
            else:
                yield from _iter_json_file(handle, path)
        except UnicodeDecodeError as exc:
            raise RecordValidationError(f"{path} is not UTF-8 text ({exc.reason}); give an AuroraX JSON file") from None


def _iter_json_lines(handle: IO[str], path: Path) -> Iterator[Any]:
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordValidationError(f"{path} line {number}: not valid JSON ({exc.msg})") from None


def _iter_json_file(handle: IO[str], path: Path) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    buf = handle.read(_CHUNK)
    eof = len(buf) < _CHUNK
    head = buf.lstrip()
    if not head:
        raise RecordValidationError(f'{path} is empty; it must hold a JSON list of records or {{"result": [...]}}')
    pos = len(buf) - len(head)
    if head[0] == "{":
        match = _WRAPPER_RE.match(buf, pos)
        if match is None:
            # Not the usual wrapper first: decode the whole object (small files in practice).
            rest = buf + handle.read()
            try:
                payload = json.loads(rest)
            except json.JSONDecodeError as exc:
                raise RecordValidationError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
            yield from _records_from_payload(payload, path)
            return
        pos = match.end()
    elif head[0] == "[":
        pos += 1
    else:
        raise RecordValidationError(
            f"{path} is not an AuroraX JSON file: it must start with '[' or '{{' (a list of records or "
            '{"result": [...]})'
        )
    consumed = 0  # characters dropped from the front of buf, for error positions
    first = True
    while True:
        # Skip whitespace, refilling as needed.
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or eof:
                break
            consumed += pos
            buf, pos = handle.read(_CHUNK), 0
            eof = len(buf) < _CHUNK
        if pos >= len(buf):
            raise RecordValidationError(f"{path}: the JSON list is not closed (the file is truncated)")
        char = buf[pos]
        if char == "]":
            return
        if not first:
            if char != ",":
                raise RecordValidationError(
                    f"{path}: expected ',' or ']' at character {consumed + pos}, found {char!r}"
                )
            pos += 1
            first = True
            continue
        try:
            value, end = decoder.raw_decode(buf, pos)
            complete = end < len(buf) or eof
        except json.JSONDecodeError as exc:
            if eof:
                raise RecordValidationError(
                    f"{path}: not valid JSON at character {consumed + exc.pos} ({exc.msg})"
                ) from None
            complete = False
        if not complete:
            more = handle.read(_CHUNK)
            eof = len(more) < _CHUNK
            consumed += pos
            buf, pos = buf[pos:] + more, 0
            continue
        yield value
        pos = end
        first = False


def _records_from_payload(payload: Any, path: Path | str) -> Iterator[Any]:
    if isinstance(payload, list):
        yield from payload
        return
    if isinstance(payload, Mapping):
        for key in _WRAPPER_KEYS:
            if isinstance(payload.get(key), list):
                yield from payload[key]
                return
        if "url" in payload or "program" in payload:
            yield payload  # a single record
            return
    raise RecordValidationError(
        f"{path}: expected a list of records, or an object with a 'result' list (the AuroraX data endpoint), "
        f"got {type(payload).__name__}"
    )


def detect_kind(record: Any) -> Literal["products", "sources"]:
    """``products`` when the record looks like a data product (has url / data_product_type), else ``sources``."""
    if isinstance(record, DataProduct):
        return "products"
    if isinstance(record, DataSource):
        return "sources"
    if isinstance(record, Mapping) and _PRODUCT_KEYS & set(record):
        return "products"
    if isinstance(record, Mapping) and {"program", "platform", "instrument_type"} <= set(record):
        return "sources"
    return "products"  # validation then explains what is missing


def ingest_records(
    records: Iterable[Mapping[str, Any] | DataProduct],
    catalog: CatalogBackend | str | os.PathLike[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: IngestProgress | None = None,
) -> IngestSummary:
    """Insert or update data products (AuroraX JSON dicts or DataProduct) in one transaction.

    ``catalog`` is an open :class:`CatalogBackend` or a catalog path. See
    :meth:`CatalogBackend.ingest_products` for the rules (URL is identity; a product's unknown
    data source is brought in from its own ``data_source``).

    Raises:
        RecordValidationError: a record is invalid (index and URL named); nothing is written.
        CatalogError: the catalog cannot be opened or written; nothing is written.
    """
    backend, owned = _open_catalog(catalog)
    try:
        return backend.ingest_products(records, batch_size=batch_size, progress=progress)
    finally:
        if owned:
            backend.close()


def ingest_sources(
    records: Iterable[Mapping[str, Any] | DataSource], catalog: CatalogBackend | str | os.PathLike[str]
) -> IngestSummary:
    """Insert or replace data sources (AuroraX JSON dicts or DataSource) in one transaction.

    Raises:
        RecordValidationError: a record is invalid; DuplicateError: identifier/triple clash;
        CatalogError: the catalog cannot be opened or written.
    """
    backend, owned = _open_catalog(catalog)
    try:
        return backend.ingest_sources(records)
    finally:
        if owned:
            backend.close()


def ingest_file(
    path: str | os.PathLike[str],
    catalog: CatalogBackend | str | os.PathLike[str],
    *,
    kind: FileKind = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: IngestProgress | None = None,
) -> IngestSummary:
    """Load one AuroraX JSON file (data products or data sources) into the catalog.

    ``kind="auto"`` looks at the first record: a record with ``url``/``data_product_type`` means
    data products, one with program/platform/instrument_type and no url means data sources.
    Data products are streamed and written in batches of ``batch_size`` inside ONE transaction;
    ``progress(records_done)`` is called after each batch (the CLI drives a tqdm bar with it).

    Raises:
        RecordValidationError: the file is missing, not JSON, not a list of records, or a record
            is invalid (index and URL named); nothing is written.
        CatalogError: the catalog cannot be opened or written; nothing is written.
    """
    if kind not in ("auto", "products", "sources"):
        raise RecordValidationError(f"kind must be 'auto', 'products' or 'sources', got {kind!r}")
    records = iter_records(path)
    try:
        first = next(records)
    except StopIteration:
        return IngestSummary()
    if kind == "auto":
        kind = detect_kind(first)

    def chained() -> Iterator[Any]:
        yield first
        yield from records

    if kind == "sources":
        return ingest_sources(chained(), catalog)
    return ingest_records(chained(), catalog, batch_size=batch_size, progress=progress)
