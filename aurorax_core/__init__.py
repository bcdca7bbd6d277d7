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
    SyncLedger,
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
    CatalogAccessDenied,
    CatalogError,
    CatalogSchemaError,
    CatalogUnavailable,
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
    from .availability_status import (
        AVAILABILITY_STATUSES,
        AvailabilityReport,
        SourceDay,
        availability,
        site_coordinates,
    )
    from .backends.remote import RemoteBackend
    from .basket import Basket, BasketError, BasketGroup
    from .bundle import BundleError, load_manifest, write_bundle
    from .citations import acknowledgements_markdown, dataset_for
    from .demo import DemoBuildProgress, ensure_demo_catalog
    from .download import Downloader, DownloadError, DownloadReport
    from .sky import IMAGING_SUN_ELEVATION, ExpectedImaging, expected_imaging
    from .sync import SyncError, SyncReport, sync_catalog, sync_query
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
    "AVAILABILITY_STATUSES": ".availability_status",
    "AvailabilityReport": ".availability_status",
    "SourceDay": ".availability_status",
    "availability": ".availability_status",
    "site_coordinates": ".availability_status",
    "ExpectedImaging": ".sky",
    "IMAGING_SUN_ELEVATION": ".sky",
    "expected_imaging": ".sky",
    # take-away: basket, bundles, downloads, citations, catalog sync
    "Basket": ".basket",
    "BasketError": ".basket",
    "BasketGroup": ".basket",
    "BundleError": ".bundle",
    "load_manifest": ".bundle",
    "write_bundle": ".bundle",
    "acknowledgements_markdown": ".citations",
    "dataset_for": ".citations",
    "Downloader": ".download",
    "DownloadError": ".download",
    "DownloadReport": ".download",
    "SyncError": ".sync",
    "SyncReport": ".sync",
    "sync_catalog": ".sync",
    "sync_query": ".sync",
    "natural_size": ".progress",
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
    "AVAILABILITY_STATUSES",
    "DATAFRAME_COLUMNS",
    "DATA_PRODUCT_TYPES",
    "DEFAULT_ALLOWED_HOSTS",
    "IMAGING_SUN_ELEVATION",
    "METADATA_OPERATORS",
    "SEARCH_STAGES",
    "SEARCH_TEMPLATE",
    "SYNTHETIC_METADATA_KEY",
    "AuroraXCoreError",
    "Availability",
    "AvailabilityCounts",
    "AvailabilityReport",
    "Backend",
    "BackendConfigurationError",
    "BackendError",
    "BackendHTTPError",
    "BackendTimeout",
    "BackendUnavailable",
    "Basket",
    "BasketError",
    "BasketGroup",
    "BundleError",
    "CancelToken",
    "CatalogAccessDenied",
    "CatalogBackend",
    "CatalogError",
    "CatalogSchemaError",
    "CatalogUnavailable",
    "ConflictError",
    "ConnectivityCheck",
    "DataProduct",
    "DataProductQuery",
    "DataSource",
    "DemoBuildProgress",
    "DownloadError",
    "DownloadReport",
    "Downloader",
    "DuplicateError",
    "ExpectedImaging",
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
    "SourceDay",
    "SyncError",
    "SyncLedger",
    "SyncReport",
    "ThumbnailService",
    "TimeSpan",
    "Unauthorized",
    "__version__",
    "acknowledgements_markdown",
    "availability",
    "build_query",
    "coastlines",
    "dataset_for",
    "default_catalog_path",
    "describe",
    "dipole_latitude",
    "ensure_demo_catalog",
    "expected_imaging",
    "format_time",
    "fov_radius_deg",
    "ingest_file",
    "ingest_records",
    "ingest_sources",
    "load_manifest",
    "local_night_window",
    "natural_size",
    "open_backend",
    "parse_time",
    "products_to_dataframe",
    "register_backend",
    "registered_schemes",
    "run_query",
    "search",
    "site_code",
    "site_coordinates",
    "site_location",
    "sync_catalog",
    "sync_query",
    "write_bundle",
]
