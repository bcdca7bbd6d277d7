"""The one interface every backend implements: the embedded catalog and the AuroraX HTTP API."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol, runtime_checkable

from ..errors import SearchCancelled
from ..models import DataSource
from ..query import DataProductQuery
from ..results import SearchResult

# Stages of a search, in order, as the AuroraX tools print them with verbose=True.
STAGE_CREATED: Final = "created"  # "Search object created"
STAGE_SUBMITTED: Final = "submitted"  # "Request submitted"
STAGE_REQUEST_ID: Final = "request_id"  # "Request ID: <id>"
STAGE_WAITING: Final = "waiting"  # "Waiting for data ..."
STAGE_AVAILABLE: Final = "available"  # "Data is now available"
STAGE_RETRIEVING: Final = "retrieving"  # "Retrieving data ..."
STAGE_RETRIEVED: Final = "retrieved"  # "Retrieved 419.9 kB of data containing 164 records"
SEARCH_STAGES: Final = (
    STAGE_CREATED,
    STAGE_SUBMITTED,
    STAGE_REQUEST_ID,
    STAGE_WAITING,
    STAGE_AVAILABLE,
    STAGE_RETRIEVING,
    STAGE_RETRIEVED,
)


@dataclass(frozen=True, slots=True)
class SearchEvent:
    """A progress report from a running search."""

    stage: str
    message: str
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


ProgressCallback = Callable[[SearchEvent], None]


class CancelToken:
    """Shared flag a caller sets to cancel a running search (thread-safe)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; return True early if cancelled."""
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise SearchCancelled("the search was cancelled")


@dataclass(frozen=True, slots=True)
class Availability:
    """How many data products one source has per day (``YYYY-MM-DD`` -> count)."""

    data_source: DataSource
    available_data_products: dict[str, int]

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
