"""The embedded local catalog: an SQLite file searched with the exact semantics of AuroraX.

Storage (one file of 16 KiB pages, WAL journal so that several processes can read it while one
writes):

* ``sources``: one row per data source, keyed by its AuroraX ``identifier``, with the full record
  as JSON and the (program, platform, instrument_type) triple as a unique key.
* ``products``: one row per data product: source id, type code, start/end as integer epoch
  seconds (UTC), url (unique index: the record's identity), ``sub_code`` (the denormalised value
  of the record's own ``<type>_type`` metadata key, e.g. ``keogram_type = daily``, as a code of
  the small ``sub_types`` table of (type, text) pairs) and the metadata as
  JSON text exactly as :func:`json.dumps` writes it (so the AuroraX JSON size of a result is
  computed exactly from stored lengths). Indexes: ``(source_id, start_s)`` and
  ``(sub_code, start_s)``, chosen by measuring the benchmark queries (bench/bench_catalog.py).
* ``day_counts`` / ``type_counts``: per-source counts maintained by every write, so that
  availability and stats never scan the products.
* ``metadata_keys`` / ``metadata_values``: the distinct values of each metadata key (up to
  :data:`MAX_LISTED_VALUES` per key), maintained at ingest for the dashboard's filter builder.
* ``search_requests``: the last :data:`MAX_TRACKED_REQUESTS` requests made with :meth:`submit`
  (query, logs, counts, zlib-compressed result URLs), so that the request lifecycle (status,
  logs, data, resubmit) works offline. A plain :meth:`search` writes nothing.

Search plan: the data-source constraints resolve to a set of source ids in Python (the source
table is small and cached), the SQL is then ``source_id IN (...) AND start >= ? AND start <= ?
AND end <= ?`` on the ``(source_id, start)`` index, narrowed by ``sub_code IN (...)`` when the
query filters on a ``<type>_type`` key (exactly, for plain string values), and the remaining
metadata filters are evaluated exactly in Python on the prefiltered rows (typed by the source's
metadata schema). All values are bound parameters. Results are sorted by start time, then URL.

Threads: every thread gets its own SQLite connection (``threading.local``), so ``search()`` and
the other read methods may be called from many threads at once; connections of threads that have
ended are closed when a new one is opened. Writes are serialised by a lock inside the process
and by ``BEGIN IMMEDIATE`` across processes; each write call is one transaction, so a failure
(or a kill) leaves the catalog as it was before the call. An ingest into a catalog that no other
connection has open goes through a rollback journal (half the disk writes of the WAL; see
``CatalogBackend._journal_for_load``). An ingest into an empty catalog drops
the product indexes and builds them at the end of the same transaction (other processes keep
seeing the committed catalog, indexes included).

Modules (each with one reason to change): :mod:`.store` (schema, connections, the write
transaction, the source cache), :mod:`.planner` (query -> SQL, pushdown, start ranges),
:mod:`.codec` (rows -> DataProduct, rows -> response body), :mod:`.search`, :mod:`.reads`
(sources, availability, stats), :mod:`.requests` (request tracking), :mod:`.writes` (sources,
upload, delete), :mod:`.ingest` (the ingest state machine). The AuroraX filter semantics are
engine-neutral: :mod:`aurorax_core.backends.filters`.
"""

from __future__ import annotations

# Kept importable from here for backends/remote.py and backends/_wire.py (the remote backend).
from ..._gcpause import gc_paused as _gc_paused  # noqa: F401
from ..filters import compile_metadata_filter
from .codec import _PRODUCT_SETTERS  # noqa: F401
from .requests import _RequestTracking
from .store import (
    APPLICATION_ID,
    BUSY_TIMEOUT_S,
    DEFAULT_BATCH_SIZE,
    MAX_LISTED_VALUES,
    MAX_TRACKED_REQUESTS,
    PAGE_SIZE,
    SCHEMA_VERSION,
    TYPE_CODES,
)
from .writes import IngestProgress, IngestSummary, _Writes

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "DEFAULT_BATCH_SIZE",
    "MAX_LISTED_VALUES",
    "MAX_TRACKED_REQUESTS",
    "PAGE_SIZE",
    "SCHEMA_VERSION",
    "TYPE_CODES",
    "CatalogBackend",
    "IngestProgress",
    "IngestSummary",
    "compile_metadata_filter",
]


class CatalogBackend(_RequestTracking, _Writes):
    """The embedded local catalog (an SQLite file): a :class:`Backend` with request tracking.

    Args:
        path: the catalog file. It is created (with its directory, when the parent chain can be
            created) when missing, unless ``readonly``.
        readonly: open for reading only; every write method then raises :class:`CatalogError`.

    Raises:
        CatalogError: the file cannot be created or opened, is not an SQLite database, is an
            SQLite database without the aurorax-core schema, or was written by a newer version.
    """
