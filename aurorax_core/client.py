"""The pyaurorax-shaped entry points: ``search(...)``, ``describe(...)``, ``open_backend(...)``."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from .backends.base import Backend
from .backends.registry import open_backend
from .errors import QueryValidationError
from .events import CancelToken, ProgressCallback
from .progress import logger as search_logger
from .query import DataProductQuery, MetadataFilterExpression
from .results import SearchResult


def _filters_from_argument(
    metadata_filters: Any, logical_operator: str | None
) -> tuple[tuple[MetadataFilterExpression, ...], str]:
    if metadata_filters is None:
        return (), (logical_operator or "AND")
    if isinstance(metadata_filters, Mapping):
        # The AuroraX JSON block: {"expressions": [...], "logical_operator": "AND"}
        expressions = metadata_filters.get("expressions") or []
        logical_operator = metadata_filters.get("logical_operator") or logical_operator
    elif isinstance(metadata_filters, Iterable) and not isinstance(metadata_filters, (str, bytes)):
        expressions = list(metadata_filters)
    else:
        raise QueryValidationError(
            f"metadata_filters must be a list of {{'key', 'operator', 'values'}} dicts, got {metadata_filters!r}"
        )
    parsed = tuple(
        e if isinstance(e, MetadataFilterExpression) else MetadataFilterExpression.from_api_dict(e) for e in expressions
    )
    return parsed, (logical_operator or "AND")


def build_query(
    start: datetime | str,
    end: datetime | str,
    programs: Iterable[str] | None = None,
    platforms: Iterable[str] | None = None,
    instrument_types: Iterable[str] | None = None,
    data_product_types: Iterable[str] | None = None,
    metadata_filters: Any = None,
    metadata_filters_logical_operator: str | None = None,
) -> DataProductQuery:
    """A validated :class:`DataProductQuery` from pyaurorax-style arguments."""
    filters, logical = _filters_from_argument(metadata_filters, metadata_filters_logical_operator)
    return DataProductQuery(
        start=start,  # type: ignore[arg-type]  # validated and converted in __post_init__
        end=end,  # type: ignore[arg-type]
        programs=programs,  # type: ignore[arg-type]
        platforms=platforms,  # type: ignore[arg-type]
        instrument_types=instrument_types,  # type: ignore[arg-type]
        data_product_types=data_product_types,  # type: ignore[arg-type]
        metadata_filters=filters,
        metadata_filters_logical_operator=logical,
    )


@contextmanager
def _verbose_output(enabled: bool) -> Iterator[None]:
    """Print the search stages to the terminal, each prefixed with a timestamp like pyaurorax."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s"))
    previous_level = search_logger.level
    search_logger.addHandler(handler)
    search_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        search_logger.removeHandler(handler)
        search_logger.setLevel(previous_level)


def search(
    start: datetime | str,
    end: datetime | str,
    programs: Iterable[str] | None = None,
    platforms: Iterable[str] | None = None,
    instrument_types: Iterable[str] | None = None,
    data_product_types: Iterable[str] | None = None,
    metadata_filters: Any = None,
    metadata_filters_logical_operator: str | None = None,
    verbose: bool = False,
    *,
    backend: Backend | str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float | None = None,
) -> SearchResult:
    """Search data products, like ``aurorax.search.data_products.search(...)``.

    Args:
        start, end: the UTC time range (datetimes, naive = UTC, or AuroraX strings). A product
            matches when it lies entirely inside the range.
        programs, platforms, instrument_types: data-source constraints (OR within a list).
        data_product_types: e.g. ``["keogram", "movie"]``; empty means all.
        metadata_filters: a list of ``{"key", "operator", "values"}`` dicts (or
            :class:`MetadataFilterExpression`), or the AuroraX ``{"expressions", "logical_operator"}`` block.
        metadata_filters_logical_operator: ``"AND"`` (default) or ``"OR"``.
        verbose: print the search stages to the terminal as the AuroraX tools do.
        backend: an AuroraX API URL, a catalog path, a Backend, or None for the default.
        progress: called with each :class:`SearchEvent`.
        cancel: a :class:`CancelToken` another thread may use to stop the search.
        timeout: an overall deadline in seconds.

    Returns:
        A :class:`SearchResult` (``.data``, ``.to_dataframe()``, ``.request_id``, ``.logs``...).

    Raises:
        QueryValidationError: the arguments do not form a valid query.
        SearchCancelled, SearchTimeout, SearchFailed, BackendError, CatalogError.
    """
    query = build_query(
        start,
        end,
        programs,
        platforms,
        instrument_types,
        data_product_types,
        metadata_filters,
        metadata_filters_logical_operator,
    )
    return run_query(query, verbose=verbose, backend=backend, progress=progress, cancel=cancel, timeout=timeout)


def run_query(
    query: DataProductQuery,
    *,
    verbose: bool = False,
    backend: Backend | str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float | None = None,
) -> SearchResult:
    """Run an already-built query on a backend (see :func:`search`)."""
    owned = not isinstance(backend, Backend)
    resolved = open_backend(backend)
    started = time.perf_counter()
    try:
        with _verbose_output(verbose):
            result = resolved.search(query, progress=progress, cancel=cancel, timeout=timeout)
    finally:
        if owned:
            resolved.close()
    if not result.elapsed_s:
        object.__setattr__(result, "elapsed_s", time.perf_counter() - started)
    return result


def describe(query: DataProductQuery | Mapping[str, Any], *, backend: Backend | str | Path | None = None) -> str:
    """The AuroraX-style description of a query (asks the API when the backend is remote)."""
    if not isinstance(query, DataProductQuery):
        query = DataProductQuery.from_api_payload(query)
    if backend is None:
        return query.describe()
    owned = not isinstance(backend, Backend)
    resolved = open_backend(backend)
    try:
        return resolved.describe(query)
    finally:
        if owned:
            resolved.close()
