"""Turning pyaurorax results and catalog results into comparable rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aurorax_core import DataProduct, DataProductQuery
from aurorax_core.backends.catalog import CatalogBackend


def row_of_pyaurorax(record: Any) -> tuple[Any, ...]:
    """A pyaurorax ``DataProductData`` as a tuple (times are naive UTC datetimes there)."""
    ds = record.data_source
    return (
        ds.identifier,
        ds.program,
        ds.platform,
        ds.instrument_type,
        ds.source_type,
        ds.display_name,
        record.data_product_type,
        record.start,
        record.end,
        record.url,
        record.metadata,
    )


def row_of_product(product: DataProduct) -> tuple[Any, ...]:
    ds = product.data_source
    return (
        ds.identifier,
        ds.program,
        ds.platform,
        ds.instrument_type,
        ds.source_type,
        ds.display_name,
        product.data_product_type,
        _naive(product.start),
        _naive(product.end),
        product.url,
        product.metadata,
    )


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def catalog_rows(catalog: CatalogBackend, **query: Any) -> list[tuple[Any, ...]]:
    """The in-process catalog's answer to a query given in pyaurorax's keyword form."""
    if "data_product_types" in query and query["data_product_types"] is None:
        query.pop("data_product_types")
    return [row_of_product(p) for p in catalog.search(DataProductQuery(**query)).data]
