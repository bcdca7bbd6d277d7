"""Backends behind one interface (:class:`Backend`): the embedded catalog and the AuroraX API."""

from .base import (
    SEARCH_STAGES,
    Availability,
    Backend,
    CancelToken,
    ProgressCallback,
    RequestTracking,
    SearchEvent,
)

__all__ = [
    "SEARCH_STAGES",
    "Availability",
    "Backend",
    "CancelToken",
    "ProgressCallback",
    "RequestTracking",
    "SearchEvent",
]
