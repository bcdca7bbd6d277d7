"""The AuroraX stages and log lines of a search, as the SQLite catalog reports them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from ...events import (
    STAGE_AVAILABLE,
    STAGE_CREATED,
    STAGE_REQUEST_ID,
    STAGE_RETRIEVED,
    STAGE_RETRIEVING,
    STAGE_SUBMITTED,
    STAGE_WAITING,
    ProgressCallback,
)
from ...models import DataProduct
from ...progress import emit, natural_size
from ...query import DataProductQuery
from ...results import LogEntry, SearchResult


def begin(progress: ProgressCallback | None) -> tuple[str, list[LogEntry]]:
    """Emit the stages up to "Waiting for data"; returns (request id, logs so far)."""
    request_id = str(uuid.uuid4())
    emit(progress, STAGE_CREATED, "Search object created")
    logs = [LogEntry("debug", "Search request arrived and saved", datetime.now(UTC))]
    emit(progress, STAGE_SUBMITTED, "Request submitted", request_id)
    emit(progress, STAGE_REQUEST_ID, f"Request ID: {request_id}", request_id)
    emit(progress, STAGE_WAITING, "Waiting for data ...", request_id)
    logs.append(LogEntry("info", f"Starting query for {request_id}", datetime.now(UTC)))
    return request_id, logs


def finish(
    query: DataProductQuery,
    products: list[DataProduct],
    size: int,
    started: float,
    request_id: str,
    logs: list[LogEntry],
    progress: ProgressCallback | None,
    backend: str,
) -> SearchResult:
    """The remaining log lines and stages, and the result."""
    n = len(products)
    finished = time.perf_counter()
    now = datetime.now(UTC)
    logs.append(LogEntry("info", f"Finished query in {finished - started:.2f} seconds.", now))
    logs.append(LogEntry("debug", "Starting to write data to file", now))
    logs.append(LogEntry("info", f"Finished writing data, found {n} records in 0.00 seconds.", now))
    logs.append(LogEntry("debug", f"File size is {size} bytes.", now))
    logs.append(LogEntry("info", f"Finished search in {finished - started:.2f} seconds and found {n} records.", now))
    emit(progress, STAGE_AVAILABLE, "Data is now available", request_id)
    emit(progress, STAGE_RETRIEVING, "Retrieving data ...", request_id)
    emit(
        progress,
        STAGE_RETRIEVED,
        f"Retrieved {natural_size(size)} of data containing {n} records",
        request_id,
        result_count=n,
        file_size=size,
    )
    return SearchResult(
        query=query,
        data=products,
        request_id=request_id,
        logs=logs,
        file_size=size,
        query_duration_ms=(finished - started) * 1000.0,
        elapsed_s=finished - started,
        backend=backend,
    )
