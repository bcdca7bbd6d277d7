"""The data-source, upload, availability and admin routes (PROTOCOL §4-§6, §3.9).

Reads use the catalog's ``list_sources`` / ``get_source`` / ``availability``; writes need an API key
and a backend with the :class:`~aurorax_core.backends.base.WritableCatalog` ability, and each is one
transaction in the catalog (all of a batch or nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from ..errors import RecordValidationError
from ..models import DATA_SOURCE_FIELDS, DataProduct, DataSource, format_time, parse_time
from .base import BaseHandler
from .search_routes import request_entry
from .wire import MAX_AVAILABILITY_SPAN, ApiError, parse_bool, parse_date, parse_identifier, parse_source_format

_UPLOAD_KEYS: Final = frozenset(
    {"program", "platform", "instrument_type", "start", "end", "url", "data_product_type", "metadata", "data_source"}
)
# A data-source body may carry any DataSource field, plus the "format" pyaurorax echoes.
_SOURCE_WRITE_KEYS: Final = frozenset(DATA_SOURCE_FIELDS) | {"format"}
_STATS_KEYS: Final = (
    "ephemeris_count",
    "data_product_count",
    "earliest_ephemeris_loaded",
    "latest_ephemeris_loaded",
    "earliest_data_product_loaded",
    "latest_data_product_loaded",
)


def stats_document(source: DataSource) -> dict[str, Any]:
    """The six-key stats object pyaurorax reads for every source when stats are asked for."""
    stats = source.stats if isinstance(source.stats, Mapping) else {}
    out: dict[str, Any] = {}
    for key in _STATS_KEYS:
        value = stats.get(key)
        if key.endswith("_count"):
            out[key] = int(value) if isinstance(value, (int, float)) else 0
        else:
            out[key] = _stats_time(value)
    return out


def _stats_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, str) and value.strip():
        return value.strip().rstrip("Z")[:19]
    return None


def source_document(source: DataSource, data_source_format: str, include_stats: bool) -> dict[str, Any]:
    """A data source as the API returns it: the format's keys, plus ``stats`` only when asked for."""
    out = source.to_api_dict(data_source_format)
    if include_stats:
        out["stats"] = stats_document(source)
    return out


# --- data sources -------------------------------------------------------------------------------


def _single(name: str, value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


class DataSourcesHandler(BaseHandler):
    """``GET`` lists sources (exact-match filters); ``POST`` adds one (API key)."""

    async def get(self) -> None:
        fmt = parse_source_format(self.arg("format"))
        include_stats = parse_bool("include_stats", self.arg("include_stats"))
        sources = await self.read(
            self.state.catalog.list_sources,
            programs=_single("program", self.arg("program")),
            platforms=_single("platform", self.arg("platform")),
            instrument_types=_single("instrument_type", self.arg("instrument_type")),
            source_type=self.arg("source_type") or None,
            owner=self.arg("owner") or None,
            include_stats=include_stats,
        )
        self.send_json([source_document(s, fmt, include_stats) for s in _sorted(sources)])

    async def post(self) -> None:
        self.require_write_key()
        body = self.json_body(what="the data source")
        source = _source_from_body(body, require_all=True)
        created = await self.read(self.writable_catalog().add_source, source)
        self.send_json(source_document(created, "full_record", False))


def _sorted(sources: Iterable[DataSource]) -> list[DataSource]:
    return sorted(sources, key=lambda s: (s.identifier is None, s.identifier or 0))


def _source_from_body(body: Any, *, require_all: bool) -> DataSource:
    if not isinstance(body, dict):
        raise ApiError(400, f"a data source must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - _SOURCE_WRITE_KEYS)
    if unknown:
        raise ApiError(400, f"unknown data source field(s) {', '.join(unknown)}")
    for key in ("program", "platform", "instrument_type", "source_type", "display_name", "owner"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ApiError(400, f"data source field {key!r} must be a string, got {body[key]!r}")
    if body.get("identifier") is not None and (
        isinstance(body["identifier"], bool) or not isinstance(body["identifier"], int)
    ):
        raise ApiError(400, f"data source identifier must be an integer, got {body['identifier']!r}")
    for key in ("ephemeris_metadata_schema", "data_product_metadata_schema", "maintainers"):
        if body.get(key) is not None and not isinstance(body[key], list):
            raise ApiError(400, f"data source field {key!r} must be a list, got {body[key]!r}")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise ApiError(400, f"data source field 'metadata' must be an object, got {body['metadata']!r}")
    if require_all:
        missing = [
            k for k in ("program", "platform", "instrument_type", "source_type", "display_name") if not body.get(k)
        ]
        if missing:
            raise ApiError(400, f"the data source is missing {', '.join(missing)}")
    data = {k: v for k, v in body.items() if k not in ("stats", "format")}
    try:
        return DataSource.from_api_dict(data) if require_all else DataSource(**_partial(data))
    except RecordValidationError as exc:
        raise ApiError(400, str(exc)) from None


def _partial(data: dict[str, Any]) -> dict[str, Any]:
    # For PATCH: unset fields stay None ("omitted fields are ignored" by the catalog's update).
    fields = dict.fromkeys(("identifier", "program", "platform", "instrument_type"), None)
    fields.update({k: v for k, v in data.items() if v is not None})
    return fields


class DataSourcesSearchHandler(BaseHandler):
    """``POST /api/v1/data_sources/search``: lists of programs/platforms/instrument types."""

    async def post(self) -> None:
        fmt = parse_source_format(self.arg("format"))
        include_stats = parse_bool("include_stats", self.arg("include_stats"))
        body = self.json_body(default={}, what="the data source search")
        if not isinstance(body, dict):
            raise ApiError(400, 'the body must be an object like {"programs": ["trex"], "platforms": [], ...}')
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("programs", "platforms", "instrument_types"):
            value = body.get(key)
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ApiError(400, f"{key} must be a list of strings, got {value!r}")
            lists[key] = tuple(value)
        sources = await self.read(self.state.catalog.list_sources, include_stats=include_stats, **lists)
        self.send_json([source_document(s, fmt, include_stats) for s in _sorted(sources)])


class DataSourceHandler(BaseHandler):
    """``GET``/``PATCH``/``DELETE /api/v1/data_sources/{identifier}``."""

    async def get(self, identifier: str) -> None:
        fmt = parse_source_format(self.arg("format"))
        include_stats = parse_bool("include_stats", self.arg("include_stats"))
        source = await self._source(identifier, include_stats)
        self.send_json(source_document(source, fmt, include_stats))

    async def patch(self, identifier: str) -> None:
        self.require_write_key()
        number = parse_identifier(identifier)
        await self._source(identifier, False)
        body = self.json_body(what="the data source update")
        if isinstance(body, dict) and body.get("identifier") not in (None, number):
            raise ApiError(400, f"the body's identifier {body['identifier']!r} differs from the URL's {number}")
        changes = {k: v for k, v in (body.items() if isinstance(body, dict) else ()) if v is not None}
        _source_from_body(body, require_all=False)  # type checks
        changes.pop("identifier", None)
        changes.pop("stats", None)
        changes.pop("format", None)
        updated = await self.read(self.writable_catalog().update_source, number, changes)
        self.send_json(source_document(updated, "full_record", False))

    async def delete(self, identifier: str) -> None:
        self.require_write_key()
        number = parse_identifier(identifier)
        await self._source(identifier, False)
        await self.read(self.writable_catalog().delete_source, number)
        self.send_empty(200)

    async def _source(self, identifier: str, include_stats: bool) -> DataSource:
        return await get_source(self, identifier, include_stats)


async def get_source(handler: BaseHandler, identifier: str, include_stats: bool = False) -> DataSource:
    """The catalog's source for a path identifier.

    Raises:
        ApiError: 400 for a non-integer id, 404 (AuroraX wording) for an unknown one.
    """
    number = parse_identifier(identifier)
    try:
        source = await handler.read(handler.state.catalog.get_source, number, include_stats=include_stats)
    except ApiError as exc:
        if exc.status != 404:
            raise
        source = None
    if source is None:
        raise ApiError(404, f"No Data Source record found in AuroraX for identifier {number}")
    return source


class DataProductsUploadHandler(BaseHandler):
    """``POST`` uploads records to a source, ``DELETE`` removes records by URL (API key for both)."""

    async def post(self, identifier: str) -> None:
        self.require_write_key()
        body = self.json_body(what="the data products to upload")
        source = await get_source(self, identifier)
        if not isinstance(body, list):
            raise ApiError(400, f"the upload body must be a JSON array of data products, got {type(body).__name__}")
        products = validate_upload(source, body)
        records = [
            {
                "data_product_type": p.data_product_type,
                "start": format_time(p.start),
                "end": format_time(p.end),
                "url": p.url,
                "metadata": p.metadata,
            }
            for p in products
        ]
        # the catalog writes the whole batch in one transaction (nothing on error)
        await self.read(self.writable_catalog().upload_products, source.identifier, records)
        self.send_empty(202)

    async def delete(self, identifier: str) -> None:
        self.require_write_key()
        body = self.json_body(what="the delete request")
        source = await get_source(self, identifier)
        if not isinstance(body, dict):
            raise ApiError(400, 'the body must be {"program", "platform", "instrument_type", "urls": [...]}')
        _check_triple(source, body, "the delete request")
        urls = body.get("urls")
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise ApiError(400, f"'urls' must be a list of non-empty strings, got {urls!r}")
        if urls:
            await self.read(self.writable_catalog().delete_products, source.identifier, list(dict.fromkeys(urls)))
        self.send_empty(200)


def _check_triple(source: DataSource, record: Mapping[str, Any], where: str) -> None:
    for key, expected in zip(("program", "platform", "instrument_type"), source.key, strict=True):
        value = record.get(key)
        if value is None:
            raise ApiError(400, f"{where} has no {key!r}; it must be {expected!r} for data source {source.identifier}")
        if value != expected:
            raise ApiError(
                400,
                f"{where}: {key} {value!r} does not match data source {source.identifier} "
                f"({'/'.join(source.key)}); upload it to the right data source",
            )


def validate_upload(source: DataSource, records: list[Any]) -> list[DataProduct]:
    """Check a whole upload batch before anything is written.

    Raises:
        ApiError: 400 naming the first bad record.
    """
    products: list[DataProduct] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        where = f"record {index}"
        if not isinstance(record, dict):
            raise ApiError(400, f"{where} is not a JSON object")
        unknown = sorted(set(record) - _UPLOAD_KEYS)
        if unknown:
            raise ApiError(400, f"{where} has unknown field(s) {', '.join(unknown)}")
        _check_triple(source, record, where)
        missing = [k for k in ("start", "end", "url", "data_product_type") if record.get(k) in (None, "")]
        if missing:
            raise ApiError(400, f"{where} is missing {', '.join(missing)}")
        data = {k: v for k, v in record.items() if k not in ("program", "platform", "instrument_type", "data_source")}
        try:
            product = DataProduct.from_api_dict(data, data_source=source)
        except RecordValidationError as exc:
            raise ApiError(400, f"{where}: {exc}") from None
        if product.url in seen:
            raise ApiError(400, f"{where}: url {product.url!r} appears twice in the upload; URLs identify records")
        seen.add(product.url)
        products.append(product)
    return products


class AvailabilityHandler(BaseHandler):
    """``GET /api/v1/availability/data_products``: per-source, per-day counts."""

    async def get(self) -> None:
        today = datetime.now(UTC).date()
        start = parse_date("start", self.arg("start"), date(today.year, 1, 1))
        try:
            default_end = start + timedelta(days=365)  # the API's default: twelve months
        except OverflowError:
            default_end = date.max
        end = parse_date("end", self.arg("end"), default_end)
        if end < start:
            raise ApiError(400, f"end ({end}) is before start ({start}); swap them")
        if end - start > MAX_AVAILABILITY_SPAN:
            raise ApiError(400, f"the range {start} .. {end} spans more than 25 years; narrow it")
        fmt = parse_source_format(self.arg("format"))
        parse_bool("slow", self.arg("slow"))  # every count is exact here; validated only
        items = await self.read(
            self.state.catalog.availability,
            start,
            end,
            program=self.arg("program") or None,
            platform=self.arg("platform") or None,
            instrument_type=self.arg("instrument_type") or None,
            source_type=self.arg("source_type") or None,
            owner=self.arg("owner") or None,
        )
        self.send_json([item.to_api_dict(fmt) for item in items])


class AdminSearchRequestsHandler(BaseHandler):
    """``GET /api/v1/utils/admin/search_requests``: the kept requests (any configured key is admin)."""

    async def get(self) -> None:
        self.require_write_key()
        search_type = self.arg("search_type")
        if search_type not in (None, "", "data_product", "conjunction", "ephemeris"):
            raise ApiError(400, f"search_type {search_type!r} must be data_product, conjunction or ephemeris")
        active = self.arg("active")
        want_active = None if active is None else parse_bool("active", active)
        error = self.arg("error_condition")
        want_error = None if error is None else parse_bool("error_condition", error)
        since = _optional_time(self.arg("start"), "start")
        until = _optional_time(self.arg("end"), "end")
        minimums = {
            key: _optional_number(self.arg(key), key) for key in ("file_size", "result_count", "query_duration")
        }
        out = []
        if search_type in (None, "", "data_product"):
            for entry in await self.registry_call(self.state.registry.entries):
                listing = entry.listing()
                if want_active is not None and listing["active"] != want_active:
                    continue
                if want_error is not None and listing["error_condition"] is not want_error:
                    continue
                if (since is not None and entry.requested < since) or (until is not None and entry.requested > until):
                    continue
                size_kb = (listing["file_size"] or 0) / 1000
                values = {"file_size": size_kb, "result_count": listing["result_count"] or 0}
                values["query_duration"] = listing["query_duration"] or 0
                if any(m is not None and values[k] < m for k, m in minimums.items()):
                    continue
                out.append(listing)
        self.send_json(out)


class AdminSearchRequestHandler(BaseHandler):
    """``DELETE /api/v1/utils/admin/search_requests/{id}``: forget a request and its result."""

    async def delete(self, request_id: str) -> None:
        self.require_write_key()
        await request_entry(self, request_id, with_result=False)
        try:
            await self.registry_call(self.state.registry.remove, request_id.lower())
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        self.send_json({})


def _optional_time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value, field_name=name)
    except RecordValidationError as exc:
        raise ApiError(400, str(exc)) from None


def _optional_number(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise ApiError(400, f"query parameter {name}={value!r} is not a number") from None
