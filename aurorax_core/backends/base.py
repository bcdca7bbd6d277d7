"""The one interface every backend implements, and the optional abilities some backends declare.

``Backend`` is what every search needs. An ability a caller only sometimes needs (distinct metadata
values for a form, the time span a catalog covers, a connectivity check, request tracking, per-day
availability counts) is its own small Protocol here: callers test ``isinstance(backend, Ability)``
rather than probing with ``getattr``, so a new backend sees in one place what it may offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..events import SEARCH_STAGES, CancelToken, ProgressCallback, SearchEvent
from ..models import DataSource
from ..query import DataProductQuery
from ..results import SearchBody, SearchResult

if TYPE_CHECKING:
    from ..sync import LedgerEntry, SyncChunk

__all__ = [
    "SEARCH_STAGES",
    "Availability",
    "AvailabilityCounts",
    "Backend",
    "CancelToken",
    "CatalogStats",
    "ConnectivityCheck",
    "MetadataValues",
    "ProgressCallback",
    "RequestTracking",
    "SearchBodies",
    "SearchEvent",
    "SourceLookup",
    "SyncLedger",
    "TimeSpan",
    "WritableCatalog",
]


@dataclass(frozen=True, slots=True)
class Availability:
    """How many data products one source has per day (``YYYY-MM-DD`` -> count).

    ``by_type`` breaks each day's count down by data product type (``YYYY-MM-DD`` -> type -> count)
    where the backend knows it (the embedded catalogs); it is empty where it does not (the AuroraX
    API's availability answers totals only) and is never sent on the wire.
    """

    data_source: DataSource
    available_data_products: dict[str, int]
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_api_dict(self, data_source_format: str = "basic_info") -> dict[str, Any]:
        return {
            "data_source": self.data_source.to_api_dict(data_source_format),
            "available_data_products": dict(self.available_data_products),
        }


@runtime_checkable
class Backend(Protocol):
    """A place to search data products: the embedded catalog or an AuroraX(-compatible) API."""

    @property
    def name(self) -> str:
        """A short, human-readable description (a catalog path or an API URL)."""
        ...

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
        """Data sources matching every given constraint (lists OR'ed inside), full records."""
        ...

    def search(
        self,
        query: DataProductQuery,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Run a data-product search to completion.

        Raises:
            SearchCancelled, SearchTimeout, SearchFailed, BackendError, CatalogError.
        """
        ...

    def describe(self, query: DataProductQuery) -> str:
        """The AuroraX-style description of a query."""
        ...

    def close(self) -> None:
        """Release connections/files."""
        ...


@runtime_checkable
class RequestTracking(Protocol):
    """Backends that keep search requests by id (the AuroraX request lifecycle).

    Used by the CLI's ``get_status`` / ``get_logs`` / ``get_data`` / ``search_resubmit``.
    """

    def submit(self, query: DataProductQuery) -> str:
        """Start a search and return its request id without waiting for the data."""
        ...

    def request_status(self, request_id: str) -> dict[str, Any]:
        """The AuroraX status document (``logs``, ``search_request``, ``search_result``).

        Raises:
            NotFound: the request id is unknown (or malformed, or expired).
        """
        ...

    def request_data(self, request_id: str) -> list[dict[str, Any]]:
        """The raw AuroraX records of a completed request (the ``result`` list).

        Raises:
            NotFound: unknown id; SearchFailed: the request failed; BackendError: not complete.
        """
        ...

    def cancel_request(self, request_id: str) -> None:
        """Cancel a running request (no-op when it already finished)."""
        ...


@runtime_checkable
class AvailabilityCounts(Protocol):
    """Backends that count data products per source and day (AuroraX's availability endpoint)."""

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
    ) -> list[Availability]:
        """Per-source, per-day record counts between two dates (inclusive)."""
        ...


@runtime_checkable
class MetadataValues(Protocol):
    """Backends that know the distinct values of each metadata key (for pick lists)."""

    def metadata_values(self, keys: Any = None) -> dict[str, list[Any]]:
        """Key -> sorted distinct values; an empty list for free-form keys with too many values."""
        ...


@runtime_checkable
class TimeSpan(Protocol):
    """Backends that know the time range their products cover."""

    def time_span(self) -> tuple[datetime, datetime] | None:
        """(earliest product start, latest product start), UTC; None when there are no products."""
        ...


@runtime_checkable
class ConnectivityCheck(Protocol):
    """Backends behind a network that can prove they answer before the first search."""

    def check_connectivity(self) -> None:
        """Return when the backend answers; raise a BackendError subclass saying why not."""
        ...


@runtime_checkable
class CatalogStats(Protocol):
    """Catalogs that summarise themselves (``aurorax-core catalog stats``)."""

    def stats(self) -> dict[str, Any]:
        """``records``, ``sources``, ``per_type``, ``earliest``/``latest``, size figures ..."""
        ...


@runtime_checkable
class SearchBodies(Protocol):
    """Backends that write a search's AuroraX data body themselves and can split a search by start
    time (what ``aurorax-core serve`` needs to answer searches, in threads or worker processes)."""

    def search_body(
        self,
        query: DataProductQuery,
        *,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
        starting: tuple[datetime, datetime] | None = None,
    ) -> SearchBody:
        """The encoded ``{"result": [...]}`` body of ``query`` (only records starting in ``starting``).

        Raises:
            SearchCancelled, SearchTimeout, CatalogError.
        """
        ...

    def start_ranges(self, query: DataProductQuery, parts: int) -> list[tuple[datetime, datetime]]:
        """At most ``parts`` start-time ranges of about equal size that together cover ``query``."""
        ...


@runtime_checkable
class SourceLookup(Protocol):
    """Backends that find one data source by its identifier."""

    def get_source(self, identifier: int, *, include_stats: bool = False) -> DataSource:
        """The source (with its six stats when asked for).

        Raises:
            NotFound: no such source.
        """
        ...


@runtime_checkable
class WritableCatalog(Protocol):
    """Backends whose data sources and data products can be changed (the server's upload, delete
    and data-source routes). Each call is one transaction: all of it or nothing."""

    def add_source(self, source: DataSource) -> DataSource: ...

    def update_source(self, identifier: int, changes: Mapping[str, Any]) -> DataSource: ...

    def delete_source(self, identifier: int) -> None: ...

    def upload_products(self, identifier: int, records: Iterable[Mapping[str, Any]]) -> Any: ...

    def delete_products(self, identifier: int, urls: Iterable[str]) -> int: ...


@runtime_checkable
class SyncLedger(Protocol):
    """Catalogs that keep a synced copy of an AuroraX API and remember what was synced (``catalog sync``)."""

    def ledger_entries(self, origin: str | None = None) -> list[LedgerEntry]:
        """What was synced (per origin, source and time window), optionally for one origin URL."""
        ...

    def local_urls(self, chunk: SyncChunk) -> set[str]:
        """URLs of the local products inside a chunk's source and window (to find upstream deletions)."""
        ...

    def apply_chunk(self, chunk: SyncChunk, stale_urls: set[str]) -> None:
        """Write a chunk's records, delete ``stale_urls`` and record the ledger entry in ONE transaction."""
        ...


@runtime_checkable
class SharedRequestStore(Protocol):
    """Catalogs in a database server that keep ``aurorax-core serve``'s search requests and results
    where every server instance over that database reads them (several instances behind a balancer
    answer each other's request ids; a restarted instance loses no finished result)."""

    def server_requests(self) -> Any:
        """The store (for PostgreSQL: ``backends.postgres.server_requests.ServerRequestTable``).

        Raises:
            CatalogError: the catalog was opened read-only.
        """
        ...
