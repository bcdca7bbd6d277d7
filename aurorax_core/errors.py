"""Typed errors: every failure the library reports derives from :class:`AuroraXCoreError`.

Messages are written for the person at the keyboard: what was wrong and how to fix it.
"""

from __future__ import annotations


class AuroraXCoreError(Exception):
    """Root of every error raised by aurorax_core."""


class QueryValidationError(AuroraXCoreError, ValueError):
    """A query (or a query file) is not valid; the message says which field and why."""


class RecordValidationError(AuroraXCoreError, ValueError):
    """A data-product or data-source record is malformed (missing url, bad dates, ...)."""


class CatalogError(AuroraXCoreError):
    """The embedded catalog cannot be opened, read or written."""


class SearchCancelled(AuroraXCoreError):
    """The search was cancelled by the caller before it completed."""


class SearchFailed(AuroraXCoreError):
    """The backend accepted the search but reported that it failed (AuroraX ``error_condition``)."""


class SearchTimeout(AuroraXCoreError):
    """The search did not complete before the caller's deadline."""


class BackendError(AuroraXCoreError):
    """A backend (the AuroraX API or a compatible server) could not answer."""


class BackendUnavailable(BackendError):
    """The server could not be reached (connection refused, DNS failure, dropped connection)."""


class BackendTimeout(BackendError):
    """The server did not answer within the timeout."""


class BackendHTTPError(BackendError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(BackendHTTPError):
    """401/403: the API key is missing, wrong, or lacks permission."""


class NotFound(BackendHTTPError):
    """404: the request id, data source or resource does not exist (or has expired)."""


class Maintenance(BackendHTTPError):
    """503: the AuroraX API is in maintenance mode."""


class MalformedResponse(BackendError):
    """The server answered with something that is not the AuroraX protocol (bad JSON, wrong shape)."""


class PreviewUnavailable(AuroraXCoreError):
    """No preview/thumbnail could be produced for a data product; the message says why."""


class DuplicateError(AuroraXCoreError):
    """A record with the same identity already exists (AuroraX answers 409 Conflict)."""


class ConflictError(AuroraXCoreError):
    """The change conflicts with existing data, e.g. deleting a data source that still has products (409)."""


class BackendConfigurationError(AuroraXCoreError, ValueError):
    """A backend is mis-specified (e.g. an API URL that is not http(s), a non-positive timeout)."""


class CatalogUnavailable(CatalogError):
    """A catalog server (PostgreSQL) cannot be reached, dropped the connection, or has no free connection."""


class CatalogAccessDenied(CatalogError):
    """A catalog server refused the credentials (wrong user or password) or the permission."""


class CatalogSchemaError(CatalogError):
    """A catalog database has no aurorax-core schema, or one this version cannot use (older/newer)."""
