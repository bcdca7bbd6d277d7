"""The CLI's request lifecycle over a PostgreSQL catalog (``submit``, status, data, cancel).

The same documents as the SQLite catalog: the last ``MAX_TRACKED_REQUESTS`` requests keep their
query, logs, counts and the zlib-compressed URLs of their result; the data is read back from the
catalog by URL.
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from ...errors import CatalogError, NotFound, SearchFailed
from ...query import DataProductQuery
from ...results import LogEntry, SearchResult

MAX_TRACKED_REQUESTS: Final = 200
_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _micro(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def echoed_query(query: DataProductQuery) -> dict[str, Any]:
    """The query as AuroraX echoes it in a status document."""
    payload = query.to_api_payload()
    filters = payload["data_sources"]["data_product_metadata_filters"] or {}
    payload["data_sources"]["data_product_metadata_filters"] = {
        "expressions": filters.get("expressions", []),
        "logical_operator": filters.get("logical_operator", "AND"),
    }
    payload["request_id"] = None
    return payload


class RequestLog:
    """Stored requests of one catalog; ``connection(doing)`` is the backend's pooled connection."""

    def __init__(self, connection: Callable[[str], Any]) -> None:
        self._connection = connection

    def submit(self, query: DataProductQuery, search: Callable[[DataProductQuery], SearchResult]) -> str:
        requested = datetime.now(UTC)
        try:
            result = search(query)
        except (CatalogError, SearchFailed) as exc:
            request_id = str(uuid.uuid4())
            logs = [
                LogEntry("debug", "Search request arrived and saved", requested),
                LogEntry("error", str(exc), datetime.now(UTC)),
            ]
            self._store(request_id, query, requested, logs, [], 0, 0, True)
            return request_id
        urls = [p.url for p in result.data]
        self._store(
            result.request_id,
            query,
            requested,
            result.logs,
            urls,
            result.file_size,
            round(result.query_duration_ms),
            False,
        )
        return result.request_id

    def _store(
        self,
        request_id: str,
        query: DataProductQuery,
        requested: datetime,
        logs: list[LogEntry],
        urls: list[str],
        file_size: int,
        duration_ms: int,
        error: bool,
    ) -> None:
        blob = zlib.compress("\n".join(urls).encode("utf-8"), 6)
        with self._connection("record the search request") as conn, conn.transaction():
            conn.execute(
                "INSERT INTO aurorax.search_requests (id, requested, completed, query, logs, result_count, "
                "file_size, query_duration, error_condition, urls) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    request_id,
                    _micro(requested),
                    _micro(datetime.now(UTC)),
                    json.dumps(echoed_query(query)),
                    json.dumps([e.to_api_dict() for e in logs]),
                    len(urls),
                    file_size,
                    duration_ms,
                    error,
                    blob,
                ),
            )
            conn.execute(
                "DELETE FROM aurorax.search_requests WHERE seq <= "
                "(SELECT seq FROM aurorax.search_requests ORDER BY seq DESC LIMIT 1 OFFSET %s)",
                (MAX_TRACKED_REQUESTS,),
            )

    def row(self, request_id: str) -> tuple[Any, ...]:
        if not isinstance(request_id, str) or not _UUID_RE.match(request_id.strip()):
            raise NotFound(f"request ID not found: {request_id!r} is not a search request id", 404)
        with self._connection("read the search request") as conn:
            row = conn.execute(
                "SELECT id, requested, completed, query, logs, result_count, file_size, query_duration, "
                "error_condition, urls FROM aurorax.search_requests WHERE id = %s",
                (request_id.strip().lower(),),
            ).fetchone()
        if row is None:
            raise NotFound(
                f"request ID not found: {request_id} (unknown, or older than the last {MAX_TRACKED_REQUESTS} "
                "requests this catalog keeps)",
                404,
            )
        return tuple(row)

    def status(self, request_id: str) -> dict[str, Any]:
        rid, requested, completed, query, logs, count, size, duration, error, _ = self.row(request_id)
        return {
            "logs": json.loads(logs),
            "search_request": {
                "query": json.loads(query),
                "request_id": rid,
                "request_type": "data_product",
                "requested": requested,
            },
            "search_result": {
                "completed_timestamp": completed,
                "data_uri": f"/api/v1/data_products/requests/{rid}/data",
                "error_condition": bool(error),
                "file_size": size,
                "query_duration": duration,
                "result_count": count,
                "result_file_deleted_timestamp": None,
            },
        }

    def urls(self, request_id: str) -> list[str]:
        """The result's URLs in order. Raises SearchFailed when the request failed."""
        row = self.row(request_id)
        if row[8]:
            logs = json.loads(row[4])
            raise SearchFailed(logs[-1]["summary"] if logs else "the search failed")
        text = zlib.decompress(bytes(row[9])).decode("utf-8") if row[9] else ""
        return text.split("\n") if text else []
