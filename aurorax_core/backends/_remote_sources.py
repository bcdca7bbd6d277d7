"""The AuroraX endpoints around searches: describe, data sources, availability, uploads and deletes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from ..errors import (
    QueryValidationError,
    Unauthorized,
)
from ..models import DataProduct, DataSource
from ..query import DataProductQuery
from . import _wire
from ._remote_http import (
    AVAILABILITY_PATH,
    DESCRIBE_PATH,
    SOURCES_PATH,
    SOURCES_SEARCH_PATH,
    UPLOAD_CHUNK,
    _bool_param,
    _day,
    _DeadlineExceeded,
    _HttpCore,
)
from .base import Availability


class _SourcesAndWrites(_HttpCore):
    """Describe, data sources, availability, and the writes that need an API key."""

    # --- describe, sources, availability ------------------------------------------------------

    def describe(self, query: DataProductQuery) -> str:
        """The API's description of a query (a sentence like "Find data_products for ...").

        Raises:
            QueryValidationError: not a DataProductQuery. BackendError (typed subclasses), MalformedResponse.
        """
        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        body = self._call_json("POST", DESCRIBE_PATH, what="the query description", body=query.to_api_payload())
        return _wire.parse_describe(body, where=f"POST {self._url(DESCRIBE_PATH)}")

    def list_sources(
        self,
        *,
        programs: tuple[str, ...] | list[str] = (),
        platforms: tuple[str, ...] | list[str] = (),
        instrument_types: tuple[str, ...] | list[str] = (),
        source_type: str | None = None,
        owner: str | None = None,
        include_stats: bool = False,
    ) -> list[DataSource]:
        """Full records of the sources matching every constraint, sorted by identifier.

        One value per list uses ``GET /api/v1/data_sources`` (exact match); several use
        ``POST /api/v1/data_sources/search`` and filter source_type/owner here. Adhoc sources
        (negative identifiers) are dropped, as pyaurorax does.

        Raises:
            QueryValidationError: a constraint is not a list of strings.
            BackendError (typed subclasses), MalformedResponse.
        """
        lists = {
            "programs": _strings("programs", programs),
            "platforms": _strings("platforms", platforms),
            "instrument_types": _strings("instrument_types", instrument_types),
        }
        if all(len(values) <= 1 for values in lists.values()):
            params = {
                "program": (lists["programs"] or [None])[0],
                "platform": (lists["platforms"] or [None])[0],
                "instrument_type": (lists["instrument_types"] or [None])[0],
                "source_type": source_type,
                "owner": owner,
                "format": "full_record",
                "include_stats": _bool_param(include_stats),
            }
            body = self._call_json("GET", SOURCES_PATH, what="the data-source list", params=params)
            sources = _wire.parse_sources(body, where=f"GET {self._url(SOURCES_PATH)}")
        else:
            sources = self.search_sources(include_stats=include_stats, **lists)
            sources = [
                s
                for s in sources
                if (source_type is None or s.source_type == source_type) and (owner is None or s.owner == owner)
            ]
        return sorted(
            (s for s in sources if s.identifier is None or s.identifier >= 0),
            key=lambda s: (s.identifier is None, s.identifier or 0),
        )

    def search_sources(
        self,
        *,
        programs: Sequence[str] = (),
        platforms: Sequence[str] = (),
        instrument_types: Sequence[str] = (),
        include_stats: bool = False,
        data_source_format: str = "full_record",
    ) -> list[DataSource]:
        """``POST /api/v1/data_sources/search``: lists OR'ed inside, AND'ed together.

        Raises:
            QueryValidationError: bad arguments. BackendError (typed subclasses), MalformedResponse.
        """
        body = {
            "programs": _strings("programs", programs),
            "platforms": _strings("platforms", platforms),
            "instrument_types": _strings("instrument_types", instrument_types),
        }
        params = {"format": data_source_format, "include_stats": _bool_param(include_stats)}
        answer = self._call_json("POST", SOURCES_SEARCH_PATH, what="the data-source search", params=params, body=body)
        return sorted(
            _wire.parse_sources(answer, where=f"POST {self._url(SOURCES_SEARCH_PATH)}"),
            key=lambda s: (s.identifier is None, s.identifier or 0),
        )

    def get_source(self, identifier: int, *, include_stats: bool = False) -> DataSource:
        """The full record of one data source.

        Raises:
            QueryValidationError: the identifier is not an integer.
            NotFound: no such source (the message is the server's). BackendError, MalformedResponse.
        """
        if isinstance(identifier, bool) or not isinstance(identifier, int):
            raise QueryValidationError(f"a data source identifier is an integer like 103, got {identifier!r}")
        path = f"{SOURCES_PATH}/{identifier:d}"
        body = self._call_json(
            "GET",
            path,
            what=f"data source {identifier}",
            params={"format": "full_record", "include_stats": _bool_param(include_stats)},
            not_found=f"the AuroraX API at {self._base_url} has no data source {identifier}",
        )
        return _wire.parse_source(body, where=f"GET {self._url(path)}")

    def availability(
        self,
        start: date,
        end: date,
        *,
        program: str | None = None,
        platform: str | None = None,
        instrument_type: str | None = None,
        source_type: str | None = None,
        owner: str | None = None,
        slow: bool = False,
    ) -> list[Availability]:
        """Per-source, per-day data-product counts between two dates (inclusive).

        Raises:
            QueryValidationError: a date is invalid or end < start.
            BackendError (typed subclasses), MalformedResponse.
        """
        first, last = _day(start, "start"), _day(end, "end")
        if last < first:
            raise QueryValidationError(f"end date {last} is before start date {first}; swap them")
        params = {
            "start": first.isoformat(),
            "end": last.isoformat(),
            "program": program,
            "platform": platform,
            "instrument_type": instrument_type,
            "source_type": source_type,
            "owner": owner,
            "format": "basic_info",
            "slow": _bool_param(slow),
        }
        body = self._call_json("GET", AVAILABILITY_PATH, what="the data-product availability", params=params)
        return _wire.parse_availability(body, where=f"GET {self._url(AVAILABILITY_PATH)}")

    # --- writes (API key needed) ------------------------------------------------------------

    def _require_key(self, what: str) -> None:
        if not self.api_key:
            raise Unauthorized(
                f"{what} needs an AuroraX API key; pass --api-key, set AURORAX_API_KEY or RemoteBackend(api_key=...)",
                401,
            )

    def upload_products(self, identifier: int, records: Sequence[DataProduct]) -> int:
        """Upload data products to a source (``POST /api/v1/data_sources/{id}/data_products``, 500 per call).

        Returns the number of records sent. Times keep their seconds (pyaurorax truncates them).

        Raises:
            Unauthorized: no API key, or the key may not write to this source.
            QueryValidationError: bad identifier or records. BackendError (typed subclasses).
        """
        self._require_key("uploading data products")
        if isinstance(identifier, bool) or not isinstance(identifier, int):
            raise QueryValidationError(f"a data source identifier is an integer like 103, got {identifier!r}")
        items = list(records)
        for item in items:
            if not isinstance(item, DataProduct):
                raise QueryValidationError(f"upload_products takes DataProduct records, got {type(item).__name__}")
        path = f"{SOURCES_PATH}/{identifier:d}/data_products"
        for offset in range(0, len(items), UPLOAD_CHUNK):
            chunk = [_upload_dict(p) for p in items[offset : offset + UPLOAD_CHUNK]]
            try:
                self._request(
                    "POST",
                    self._url(path),
                    what=f"the upload to data source {identifier}",
                    body=chunk,
                    ok=range(200, 300),
                    not_found=f"the AuroraX API at {self._base_url} has no data source {identifier}",
                )
            except _DeadlineExceeded:
                raise self._deadline_error(f"the upload to data source {identifier}") from None
        return len(items)

    def delete_products(self, source: int | DataSource, urls: Sequence[str]) -> None:
        """Delete data products of a source by URL (``DELETE /api/v1/data_sources/{id}/data_products``).

        Raises:
            Unauthorized: no API key, or the key may not write to this source.
            QueryValidationError: bad arguments. NotFound: unknown source. BackendError (typed subclasses).
        """
        self._require_key("deleting data products")
        url_list = _strings("urls", urls)
        if isinstance(source, DataSource):
            if source.identifier is None:
                raise QueryValidationError("the data source has no identifier; fetch it with get_source() first")
            data_source = source
        else:
            data_source = self.get_source(source)
        identifier = data_source.identifier
        body = {
            "program": data_source.program,
            "platform": data_source.platform,
            "instrument_type": data_source.instrument_type,
            "urls": url_list,
        }
        try:
            self._request(
                "DELETE",
                self._url(f"{SOURCES_PATH}/{identifier:d}/data_products"),
                what=f"the deletion of data products of source {identifier}",
                body=body,
                ok=range(200, 300),
                not_found=f"the AuroraX API at {self._base_url} has no data source {identifier}",
            )
        except _DeadlineExceeded:
            raise self._deadline_error(f"the deletion of data products of source {identifier}") from None


def _strings(name: str, values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise QueryValidationError(f'{name} must be a list of strings, e.g. ["trex"], got {values!r}')
    items = list(values)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise QueryValidationError(f"{name}: every entry must be a non-empty string, got {item!r}")
    return items


def _upload_dict(product: DataProduct) -> dict[str, Any]:
    source = product.data_source
    metadata = {
        key: (value.isoformat() if isinstance(value, (datetime, date)) else value)
        for key, value in product.metadata.items()
    }
    return {
        "data_product_type": product.data_product_type,
        "start": product.start.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "end": product.end.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "url": product.url,
        "metadata": metadata,
        "program": source.program,
        "platform": source.platform,
        "instrument_type": source.instrument_type,
    }
