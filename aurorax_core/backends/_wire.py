"""AuroraX JSON -> typed models: one parser per endpoint of the AuroraX API.

Every parser takes the decoded JSON of one response plus ``where`` (e.g. ``"GET http://host/api/v1/..."``)
and either returns typed values or raises :class:`MalformedResponse` saying what was wrong with the
answer. No KeyError/TypeError/ValueError escapes: a server that does not speak the protocol gets a
message, not a traceback.

The shapes are the real ones recorded from api.aurorax.space (see PROTOCOL.md §3 and
``tests/remote/data/``): status documents from 2020 (extra keys), 2022 (``Z`` timestamps) and 2024
(naive microsecond timestamps), the ``{"result": [...]}`` data envelope, data sources and availability.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from ..errors import BackendHTTPError, MalformedResponse, NotFound, RecordValidationError, Unauthorized
from ..models import DATA_PRODUCT_TYPES, DataProduct, DataSource, parse_time
from ..results import LogEntry
from .base import Availability
from .catalog import _PRODUCT_SETTERS

_PRODUCT_TYPES = frozenset(DATA_PRODUCT_TYPES)
_LOG_LEVELS = frozenset({"debug", "info", "warn", "warning", "error"})


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _malformed(where: str, what: str) -> MalformedResponse:
    return MalformedResponse(
        f"{where} answered with {what}; the server does not follow the AuroraX protocol "
        "(check that the URL points at an AuroraX API)"
    )


# --- times ------------------------------------------------------------------------------------


def _fixed_time(value: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SS`` exactly (naive, so UTC) -> aware datetime; None for any other text.

    Strings of this one shape sort like the times they denote, which parse_data_products uses.
    """
    if (
        len(value) == 19
        and value[10] == "T"
        and value[4] == "-"
        and value[7] == "-"
        and value[13] == ":"
        and value[16] == ":"
        and value.isascii()
    ):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
    return None


def parse_wire_time(value: Any, *, field_name: str = "time") -> datetime:
    """An AuroraX timestamp as an aware UTC datetime.

    Fast path for exactly ``YYYY-MM-DDTHH:MM:SS`` (every data-product record); anything else
    (``Z``, fractional seconds, offsets) goes through :func:`aurorax_core.models.parse_time`.

    Raises:
        RecordValidationError: the value is not a date/time.
    """
    if type(value) is str:
        parsed = _fixed_time(value)
        if parsed is not None:
            return parsed
    return parse_time(value, field_name=field_name)


def _optional_time(value: Any, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_wire_time(value, field_name=name)
    except RecordValidationError as exc:
        raise _malformed(where, f"an unreadable timestamp in {name} ({exc})") from None


# --- error bodies -----------------------------------------------------------------------------

_TAG_RE = re.compile(r"<[^>]+>")


def error_reason(body: bytes, content_type: str | None = None) -> str:
    """The human part of an error response: the ErrorDocument's ``error_message``, else the text."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if "\ufffd" in text[:200] or any(ord(c) < 32 and c not in "\t\r\n" for c in text[:200]):
        return f"{len(body)} bytes of binary data"
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        message = doc.get("error_message") or doc.get("message") or doc.get("detail")
        if isinstance(message, str) and message.strip():
            return _short(message.strip(), 400)
        error = doc.get("error")
        if isinstance(error, dict) and isinstance(error.get("error_message"), str):
            return _short(error["error_message"], 400)
        return _short(json.dumps(doc), 400)
    if isinstance(doc, str):
        return _short(doc, 400)
    if "html" in (content_type or "").lower() or text.lstrip().startswith("<"):
        text = _TAG_RE.sub(" ", text)
    return _short(text, 400)


# --- request status ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """The fields of an AuroraX request-status document that clients act on.

    ``raw`` is the whole document, unchanged (the CLI prints the query from it).
    """

    request_id: str | None
    logs: list[LogEntry]
    data_uri: str | None
    completed_timestamp: datetime | None
    error_condition: bool | None
    file_size: int | None
    result_count: int | None
    query_duration_ms: float | None
    requested: datetime | None
    query: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def completed(self) -> bool:
        """Ready: ``data_uri`` is set (the only signal pyaurorax uses)."""
        return self.data_uri is not None

    @property
    def last_log(self) -> str | None:
        return self.logs[-1].summary if self.logs else None


def parse_logs(value: Any, where: str) -> list[LogEntry]:
    """The ``logs`` array of a status document (missing or null -> [])."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(where, f"'logs' that is not a list ({_short(value)})")
    logs: list[LogEntry] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _malformed(where, f"log entry {index} that is not an object ({_short(item)})")
        summary = item.get("summary")
        if not isinstance(summary, str):
            raise _malformed(where, f"log entry {index} without a text 'summary' ({_short(item)})")
        level = item.get("level")
        level = level.lower() if isinstance(level, str) and level.lower() in _LOG_LEVELS else "info"
        level = "warn" if level == "warning" else level  # the CLI filters on debug|info|warn|error
        stamp = _optional_time(item.get("timestamp"), where, f"logs[{index}].timestamp")
        # A log line without a time is still worth showing; the epoch marks it as unknown.
        logs.append(LogEntry(level=level, summary=summary, timestamp=stamp or datetime(1970, 1, 1, tzinfo=UTC)))
    return logs


def _optional_int(value: Any, where: str, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _malformed(where, f"a non-numeric {name} ({_short(value)})")
    return int(value)


def parse_status(doc: Any, *, where: str) -> RequestStatus:
    """Parse ``GET /api/v1/data_products/requests/{id}``.

    Raises:
        MalformedResponse: the document is not a request status.
    """
    if not isinstance(doc, dict):
        raise _malformed(where, f"a request status that is not a JSON object ({_short(doc)})")
    result = doc.get("search_result")
    if not isinstance(result, dict):
        raise _malformed(where, "a request status without a 'search_result' object")
    request = doc.get("search_request")
    if request is not None and not isinstance(request, dict):
        raise _malformed(where, "a 'search_request' that is not an object")
    request = request or {}
    data_uri = result.get("data_uri")
    if data_uri is not None and not isinstance(data_uri, str):
        raise _malformed(where, f"a non-text data_uri ({_short(data_uri)})")
    error_condition = result.get("error_condition")
    if error_condition is not None and not isinstance(error_condition, bool):
        raise _malformed(where, f"a non-boolean error_condition ({_short(error_condition)})")
    duration = result.get("query_duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))):
        raise _malformed(where, f"a non-numeric query_duration ({_short(duration)})")
    request_id = request.get("request_id")
    query = request.get("query")
    return RequestStatus(
        request_id=request_id if isinstance(request_id, str) else None,
        logs=parse_logs(doc.get("logs"), where),
        data_uri=data_uri,
        completed_timestamp=_optional_time(result.get("completed_timestamp"), where, "completed_timestamp"),
        error_condition=error_condition,
        file_size=_optional_int(result.get("file_size"), where, "file_size"),
        result_count=_optional_int(result.get("result_count"), where, "result_count"),
        query_duration_ms=None if duration is None else float(duration),
        requested=_optional_time(request.get("requested"), where, "requested"),
        query=query if isinstance(query, dict) else None,
        raw=doc,
    )


# --- data -------------------------------------------------------------------------------------


def _raise_error_document(error: Any, where: str) -> None:
    """A data body of the form ``{"error": {"error_code", "error_message"}}`` -> a typed error."""
    code = error.get("error_code") if isinstance(error, dict) else None
    message = error.get("error_message") if isinstance(error, dict) else None
    text = f"{code}: {message}" if code and message else str(message or code or _short(error))
    if code == "NotFound":
        raise NotFound(f"{where}: the server could not return the data ({text}); run the search again", 404)
    if code in ("NotAuthorized", "NotAuthenticated", "NotPermitted"):
        raise Unauthorized(f"{where}: the server refused to return the data ({text}); check your API key", 403)
    raise BackendHTTPError(f"{where}: the server could not return the data ({text})", None)


def result_list(body: Any, *, where: str) -> list[Any]:
    """The ``result`` list of a data response, unparsed.

    Raises:
        MalformedResponse: no ``result`` list. NotFound/Unauthorized/BackendHTTPError: an error body.
    """
    if isinstance(body, dict):
        if "result" in body:
            records = body["result"]
            if not isinstance(records, list):
                raise _malformed(where, f"a 'result' that is not a list ({_short(records)})")
            return records
        if "error" in body:
            _raise_error_document(body["error"], where)
    raise _malformed(where, f'data without the {{"result": [...]}} envelope ({_short(body)})')


_RECORD_FIELDS = itemgetter("data_source", "data_product_type", "start", "end", "url", "metadata")


def _checked_record(
    record: Any,
    sources: dict[Any, tuple[dict[str, Any], DataSource]],
    times: dict[str, datetime],
    resolve: Callable[[int], DataSource | None] | None = None,
) -> tuple[DataSource, str, datetime, datetime, str, dict[str, Any]]:
    """Validate one record in full (the path of first sightings and of anything unusual).

    Fills ``sources`` (by identifier) and ``times`` (fixed-format strings only).

    Raises:
        RecordValidationError: the record is malformed.
    """
    if type(record) is not dict:
        raise RecordValidationError(f"a record is not a JSON object: {_short(record)}")
    url = record.get("url")
    if not url or type(url) is not str:
        raise RecordValidationError(f"a record has no 'url': {_short(record)}")
    raw_source = record.get("data_source")
    if type(raw_source) is not dict:
        raise RecordValidationError(f"record {url!r} has no 'data_source' object")
    key = raw_source.get("identifier")
    cached = sources.get(key) if type(key) in (int, str) or key is None else None
    if cached is not None and cached[0] == raw_source:
        source = cached[1]
    elif resolve is not None and type(key) is int and raw_source.get("program") is None:
        named = resolve(key)
        if named is None:
            raise RecordValidationError(
                f"record {url!r} names data source {key}, which is not in the server's data-source list"
            )
        source = named
        sources[key] = (raw_source, source)
    else:
        source = DataSource.from_api_dict(raw_source)
        sources[key] = (raw_source, source)
    product_type = record.get("data_product_type")
    if type(product_type) is not str or product_type not in _PRODUCT_TYPES:
        raise RecordValidationError(
            f"record {url!r}: unknown data_product_type {product_type!r}; "
            f"expected one of {', '.join(DATA_PRODUCT_TYPES)}"
        )
    raw_start = record.get("start")
    raw_end = record.get("end")
    stamps = []
    for raw, name in ((raw_start, "start"), (raw_end, "end")):
        stamp = times.get(raw) if type(raw) is str else None
        if stamp is None:
            stamp = _fixed_time(raw) if type(raw) is str else None
            if stamp is not None:
                times[raw] = stamp
            else:
                stamp = parse_time(raw, field_name=f"{url}: {name}")
        stamps.append(stamp)
    start, end = stamps
    if end < start:
        raise RecordValidationError(f"record {url!r}: end {raw_end} is before start {raw_start}")
    metadata = record.get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        raise RecordValidationError(f"record {url!r}: metadata is not a JSON object")
    return source, product_type, start, end, url, metadata


def parse_data_products(
    body: Any, *, where: str, resolve: Callable[[int], DataSource | None] | None = None
) -> list[DataProduct]:
    """Parse ``GET /api/v1/data_products/requests/{id}/data`` into DataProducts.

    Sources are shared by identifier (one DataSource per source, not per record) and exact
    ``YYYY-MM-DDTHH:MM:SS`` times are parsed once per distinct string: a 5,000-record answer has a
    handful of sources and a few hundred distinct times. ``resolve`` names the source of a record
    whose ``data_source`` carries only its identifier (``data_source_record_format=identifier_only``,
    other keys absent or null).

    Raises:
        MalformedResponse: the envelope or a record is malformed (the message names the record).
        NotFound/Unauthorized/BackendHTTPError: the server returned an error document.
    """
    records = result_list(body, where=where)
    sources: dict[Any, tuple[dict[str, Any], DataSource]] = {}
    times: dict[str, datetime] = {}
    out: list[DataProduct] = []
    append = out.append
    fields = _RECORD_FIELDS
    product_types = _PRODUCT_TYPES
    # Every field is checked before the construction, so records are built through the slot
    # descriptors (as the catalog does): ~1.6 us less per record than the frozen __init__.
    new = DataProduct.__new__
    set_source, set_type, set_start, set_end, set_url, set_metadata = _PRODUCT_SETTERS
    for index, record in enumerate(records):
        # Fast path: a record like the ones before it (a known source, sent identically; times
        # already seen in the fixed format, which compare as strings). Any miss -- a new source or
        # time, a missing key, an unhashable or wrongly typed value -- takes the full check,
        # which fills the caches or raises with a message naming the record.
        try:
            raw_source, product_type, raw_start, raw_end, url, metadata = fields(record)
            cached = sources[raw_source["identifier"]]
            start = times[raw_start]
            end = times[raw_end]
            if (
                cached[0] != raw_source
                or product_type not in product_types
                or type(url) is not str
                or not url
                or type(metadata) is not dict
                or raw_end < raw_start
            ):
                raise KeyError(index)
            source = cached[1]
        except (KeyError, TypeError):
            try:
                source, product_type, start, end, url, metadata = _checked_record(record, sources, times, resolve)
            except RecordValidationError as exc:
                raise _malformed(where, f"a malformed data-product record at result[{index}]: {exc}") from None
        product = new(DataProduct)
        set_source(product, source)
        set_type(product, product_type)
        set_start(product, start)
        set_end(product, end)
        set_url(product, url)
        set_metadata(product, metadata)
        append(product)
    return out


# --- data sources -----------------------------------------------------------------------------


def parse_source(body: Any, *, where: str) -> DataSource:
    """Parse ``GET /api/v1/data_sources/{identifier}``.

    Raises:
        MalformedResponse: not a data-source object.
    """
    try:
        return DataSource.from_api_dict(body)
    except RecordValidationError as exc:
        raise _malformed(where, f"a malformed data source ({exc})") from None


def parse_sources(body: Any, *, where: str) -> list[DataSource]:
    """Parse ``GET /api/v1/data_sources`` and ``POST /api/v1/data_sources/search`` (a JSON array).

    Raises:
        MalformedResponse: not an array of data-source objects.
    """
    if not isinstance(body, list):
        raise _malformed(where, f"a data-source list that is not a JSON array ({_short(body)})")
    out: list[DataSource] = []
    for index, item in enumerate(body):
        try:
            out.append(DataSource.from_api_dict(item))
        except RecordValidationError as exc:
            raise _malformed(where, f"a malformed data source at [{index}] ({exc})") from None
    return out


# --- availability -----------------------------------------------------------------------------


def parse_availability(body: Any, *, where: str) -> list[Availability]:
    """Parse ``GET /api/v1/availability/data_products``.

    Raises:
        MalformedResponse: not an array of ``{data_source, available_data_products}`` objects.
    """
    if not isinstance(body, list):
        raise _malformed(where, f"availability that is not a JSON array ({_short(body)})")
    out: list[Availability] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise _malformed(where, f"availability entry {index} that is not an object")
        counts = item.get("available_data_products")
        if counts is None:
            counts = {}
        if not isinstance(counts, dict):
            raise _malformed(where, f"availability entry {index} whose available_data_products is not an object")
        clean: dict[str, int] = {}
        for day, count in counts.items():
            if isinstance(count, bool) or not isinstance(count, (int, float)):
                raise _malformed(where, f"availability entry {index}: a non-numeric count for {day!r}")
            try:
                date.fromisoformat(str(day)[:10])
            except ValueError:
                raise _malformed(where, f"availability entry {index}: {day!r} is not a YYYY-MM-DD date") from None
            clean[str(day)[:10]] = int(count)
        try:
            source = DataSource.from_api_dict(item.get("data_source"))
        except RecordValidationError as exc:
            raise _malformed(where, f"availability entry {index} with a malformed data source ({exc})") from None
        out.append(Availability(data_source=source, available_data_products=clean))
    return out


# --- describe ---------------------------------------------------------------------------------


def parse_describe(body: Any, *, where: str) -> str:
    """Parse ``POST /api/v1/utils/describe/query/data_products``: a JSON string.

    The third-party spec says an array of strings; those are joined with newlines.

    Raises:
        MalformedResponse: neither a string nor a list of strings.
    """
    if isinstance(body, str):
        return body
    if isinstance(body, list) and all(isinstance(item, str) for item in body):
        return "\n".join(body)
    raise _malformed(where, f"a query description that is not a JSON string ({_short(body)})")
