"""Failures as (title, advice) pairs for the page's alerts: what failed and what to try."""

from __future__ import annotations

from aurorax_core import (
    AuroraXCoreError,
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    CatalogError,
    Maintenance,
    MalformedResponse,
    QueryValidationError,
    SearchCancelled,
    SearchFailed,
    SearchTimeout,
    Unauthorized,
)


def friendly_error(exc: BaseException, *, action: str = "The search") -> tuple[str, str]:
    """A (title, message) pair for an alert: what failed and what to try. Never a traceback."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, QueryValidationError):
        return "The query is not valid", f"{detail}. Fix the highlighted field and search again."
    if isinstance(exc, SearchCancelled):
        return "Search cancelled", "The search was cancelled. Change the query or press Search to run it again."
    if isinstance(exc, SearchTimeout):
        return (
            f"{action} timed out",
            f"{detail}. Narrow the time range or the data sources, or try again later.",
        )
    if isinstance(exc, SearchFailed):
        return (
            f"{action} failed on the server",
            f"The AuroraX server reported an error: {detail}. Check the metadata filters, narrow the query, "
            "or try again later.",
        )
    if isinstance(exc, Unauthorized):
        return "Not authorised", f"{detail}. Check the API key (AURORAX_API_KEY)."
    if isinstance(exc, Maintenance):
        return "AuroraX is in maintenance", f"{detail}. Try again later or switch to the embedded catalog."
    if isinstance(exc, BackendUnavailable):
        # The core's message may already say what to check: then say it once.
        advice = "Check the API URL and your network, or switch" if "check" not in detail.lower() else "Or switch"
        return "Cannot reach the AuroraX server", f"{detail.rstrip('.')}. {advice} to the embedded catalog."
    if isinstance(exc, BackendTimeout):
        return "The AuroraX server did not answer in time", f"{detail}. Try again, or switch to the embedded catalog."
    if isinstance(exc, MalformedResponse):
        return (
            "The server's answer is not AuroraX data",
            f"{detail}. Check that the URL points at an AuroraX API (e.g. https://api.aurorax.space).",
        )
    if isinstance(exc, BackendHTTPError):
        return "The AuroraX server returned an error", f"{detail}. Check the URL, or try again later."
    if isinstance(exc, BackendError):
        return "The backend could not answer", f"{detail}. Check the backend settings, or try again later."
    if isinstance(exc, CatalogError):
        return (
            "The embedded catalog cannot be read",
            f"{detail}. Rebuild it with `aurorax-core --catalog PATH catalog demo --replace` or pick another catalog.",
        )
    if isinstance(exc, AuroraXCoreError):
        return f"{action} failed", detail
    return f"{action} failed unexpectedly", f"{type(exc).__name__}: {detail}. Try again; if it persists, report it."
