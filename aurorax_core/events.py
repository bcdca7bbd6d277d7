"""What a running search reports and how a caller stops it.

These sit below everything else (``progress``, ``backends``, the server, the dashboard) so that
nothing has to import upward to report a stage or honour a cancel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from .errors import SearchCancelled

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
