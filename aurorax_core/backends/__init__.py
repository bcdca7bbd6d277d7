"""Backends behind one interface (:class:`Backend`), its optional abilities, and the URL registry."""

from .base import (
    SEARCH_STAGES,
    Availability,
    AvailabilityCounts,
    Backend,
    CancelToken,
    ConnectivityCheck,
    MetadataValues,
    ProgressCallback,
    RequestTracking,
    SearchEvent,
    TimeSpan,
)
from .registry import open_backend, register_backend, registered_schemes

__all__ = [
    "SEARCH_STAGES",
    "Availability",
    "AvailabilityCounts",
    "Backend",
    "CancelToken",
    "ConnectivityCheck",
    "MetadataValues",
    "ProgressCallback",
    "RequestTracking",
    "SearchEvent",
    "TimeSpan",
    "open_backend",
    "register_backend",
    "registered_schemes",
]
