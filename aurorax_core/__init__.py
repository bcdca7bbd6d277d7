"""aurorax_core: search AuroraX data products (keograms, montages, movies ...) online or offline.

The public API is exactly what ``__all__`` lists; the dashboard imports nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .backends.base import (
    Availability,
    AvailabilityCounts,
    Backend,
    ConnectivityCheck,
    MetadataValues,
    RequestTracking,
    TimeSpan,
)
from .backends.catalog import CatalogBackend, IngestSummary
from .backends.registry import register_backend, registered_schemes
from .client import build_query, describe, open_backend, run_query, search
from .config import default_catalog_path
from .errors import (
    AuroraXCoreError,
    BackendConfigurationError,
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    CatalogError,
    ConflictError,
    DuplicateError,
    Maintenance,
    MalformedResponse,
    NotFound,
    PreviewUnavailable,
    QueryValidationError,
    RecordValidationError,
    SearchCancelled,
    SearchFailed,
    SearchTimeout,
    Unauthorized,
)
from .events import SEARCH_STAGES, CancelToken, ProgressCallback, SearchEvent
from .geo import (
    SiteLocation,
    coastlines,
    dipole_latitude,
    fov_radius_deg,
    local_night_window,
    site_code,
    site_location,
)
from .ingest import ingest_file, ingest_records, ingest_sources
from .models import DATA_PRODUCT_TYPES, SYNTHETIC_METADATA_KEY, DataProduct, DataSource, format_time, parse_time
from .query import METADATA_OPERATORS, SEARCH_TEMPLATE, DataProductQuery, MetadataFilterExpression
from .results import DATAFRAME_COLUMNS, LogEntry, SearchResult, products_to_dataframe

if TYPE_CHECKING:
    from .backends.remote import RemoteBackend
    from .demo import DemoBuildProgress, ensure_demo_catalog
    from .thumbnails import DEFAULT_ALLOWED_HOSTS, Preview, ThumbnailService

# Imported on first use: requests, numpy and Pillow cost ~150 ms, which every CLI command and a
# plain catalog search would otherwise pay at start-up.
_LAZY = {
    "RemoteBackend": ".backends.remote",
    "DemoBuildProgress": ".demo",
    "ensure_demo_catalog": ".demo",
    "DEFAULT_ALLOWED_HOSTS": ".thumbnails",
    "Preview": ".thumbnails",
    "ThumbnailService": ".thumbnails",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aurorax_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "DATAFRAME_COLUMNS",
    "DATA_PRODUCT_TYPES",
    "DEFAULT_ALLOWED_HOSTS",
    "METADATA_OPERATORS",
    "SEARCH_STAGES",
    "SEARCH_TEMPLATE",
    "SYNTHETIC_METADATA_KEY",
    "AuroraXCoreError",
    "Availability",
    "AvailabilityCounts",
    "Backend",
    "BackendConfigurationError",
    "BackendError",
    "BackendHTTPError",
    "BackendTimeout",
    "BackendUnavailable",
    "CancelToken",
    "CatalogBackend",
    "CatalogError",
    "ConflictError",
    "ConnectivityCheck",
    "DataProduct",
    "DataProductQuery",
    "DataSource",
    "DemoBuildProgress",
    "DuplicateError",
    "IngestSummary",
    "LogEntry",
    "Maintenance",
    "MalformedResponse",
    "MetadataFilterExpression",
    "MetadataValues",
    "NotFound",
    "Preview",
    "PreviewUnavailable",
    "ProgressCallback",
    "QueryValidationError",
    "RecordValidationError",
    "RemoteBackend",
    "RequestTracking",
    "SearchCancelled",
    "SearchEvent",
    "SearchFailed",
    "SearchResult",
    "SearchTimeout",
    "SiteLocation",
    "ThumbnailService",
    "TimeSpan",
    "Unauthorized",
    "__version__",
    "build_query",
    "coastlines",
    "default_catalog_path",
    "describe",
    "dipole_latitude",
    "ensure_demo_catalog",
    "format_time",
    "fov_radius_deg",
    "ingest_file",
    "ingest_records",
    "ingest_sources",
    "local_night_window",
    "open_backend",
    "parse_time",
    "products_to_dataframe",
    "register_backend",
    "registered_schemes",
    "run_query",
    "search",
    "site_code",
    "site_location",
]
