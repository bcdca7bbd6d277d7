"""Exports of the current results and query: CSV, aurorax-cli JSON, URL list, query file, Python.

Pure functions over aurorax_core values, so they are tested without a browser.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

from aurorax_core import DataProduct, DataProductQuery, products_to_dataframe

from .state.fields import python_arguments


def results_csv(products: Sequence[DataProduct]) -> str:
    """The results as CSV, one row per product, with the DATAFRAME_COLUMNS (times in ISO 8601 UTC)."""
    frame = products_to_dataframe(products)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return buffer.getvalue()


def results_json(products: Sequence[DataProduct]) -> str:
    """The results in aurorax-cli's data-file format: the list of AuroraX records, sorted by start."""
    records = [p.to_api_dict() for p in sorted(products, key=lambda p: (p.start, p.url))]
    return json.dumps(records, indent=2)


def url_list(products: Sequence[DataProduct]) -> str:
    """One product URL per line (e.g. for ``wget -i``)."""
    return "".join(f"{p.url}\n" for p in products)


def query_file(query: DataProductQuery) -> str:
    """The query as an aurorax-cli query file (``aurorax-cli search data_products search FILE``)."""
    return query.to_json(indent=2) + "\n"


def python_core(query: DataProductQuery, *, api_url: str | None = None) -> str:
    """The same search with aurorax_core (embedded catalog, or the API URL when given)."""
    lines = ["import datetime", "", "import aurorax_core", "", "result = aurorax_core.search("]
    lines += python_arguments(query)
    lines.append("    verbose=True,")
    if api_url:
        lines.append(f"    backend={api_url!r},")
    lines += [")", "print(result.to_dataframe())", ""]
    return "\n".join(lines)


def python_pyaurorax(query: DataProductQuery, *, api_url: str | None = None) -> str:
    """The equivalent pyaurorax call (``aurorax.search.data_products.search``)."""
    lines = ["import datetime", "", "import pyaurorax", ""]
    if api_url and api_url.rstrip("/") != "https://api.aurorax.space":
        lines.append(f"aurorax = pyaurorax.PyAuroraX(api_base_url={api_url.rstrip('/')!r})")
    else:
        lines.append("aurorax = pyaurorax.PyAuroraX()")
    lines += ["s = aurorax.search.data_products.search("]
    lines += python_arguments(query)
    lines += ["    verbose=True,", ")", "print(len(s.data), 'records')", ""]
    return "\n".join(lines)
