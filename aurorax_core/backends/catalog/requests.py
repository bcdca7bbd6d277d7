"""Request tracking: the AuroraX request lifecycle (submit, status, data, cancel) offline.

The catalog keeps the last :data:`MAX_TRACKED_REQUESTS` requests made with ``submit`` (query,
logs, counts, zlib-compressed result URLs) in ``search_requests``; a plain search writes nothing.
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any, Final

from ...errors import CatalogError, NotFound, SearchFailed
from ...query import DataProductQuery
from ...results import LogEntry
from .search import _Search
from .store import MAX_TRACKED_REQUESTS

_UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class _RequestTracking(_Search):
    """submit / request_status / request_data / cancel_request over ``search_requests``."""

    def submit(self, query: DataProductQuery) -> str:
        """Run the search now and record it as a request; returns its request id.

        The catalog keeps the last :data:`MAX_TRACKED_REQUESTS` requests (query, logs, counts,
        the URLs of the result) for :meth:`request_status` / :meth:`request_data`. A search that
        fails is recorded with ``error_condition`` true and the error as its last log line.

        Raises:
            CatalogError: the catalog is read-only or cannot be written.
        """
        self._require_writable("record a search request")
        requested = datetime.now(UTC)
        try:
            result = self.search(query)
        except (CatalogError, SearchFailed) as exc:
            request_id = str(uuid.uuid4())
            logs = [
                LogEntry("debug", "Search request arrived and saved", requested),
                LogEntry("error", str(exc), datetime.now(UTC)),
            ]
            self._store_request(request_id, query, requested, logs, [], 0, 0, True)
            return request_id
        urls = [p.url for p in result.data]
        self._store_request(
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

    def _store_request(
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
        payload = query.to_api_payload()
        filters = payload["data_sources"]["data_product_metadata_filters"] or {}
        payload["data_sources"]["data_product_metadata_filters"] = {
            "expressions": filters.get("expressions", []),
            "logical_operator": filters.get("logical_operator", "AND"),
        }
        payload["request_id"] = None
        blob = zlib.compress("\n".join(urls).encode("utf-8"), 6)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO search_requests (id, requested, completed, query, logs, result_count, file_size, "
                "query_duration, error_condition, urls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    _micro(requested),
                    _micro(datetime.now(UTC)),
                    json.dumps(payload),
                    json.dumps([e.to_api_dict() for e in logs]),
                    len(urls),
                    file_size,
                    duration_ms,
                    int(error),
                    blob,
                ),
            )
            conn.execute(
                "DELETE FROM search_requests WHERE seq <= "
                "(SELECT seq FROM search_requests ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (MAX_TRACKED_REQUESTS,),
            )

    def _request_row(self, request_id: str) -> tuple[Any, ...]:
        if not isinstance(request_id, str) or not _UUID_RE.match(request_id.strip()):
            raise NotFound(f"request ID not found: {request_id!r} is not a search request id", 404)
        row = (
            self._conn()
            .execute(
                "SELECT id, requested, completed, query, logs, result_count, file_size, query_duration, "
                "error_condition, urls FROM search_requests WHERE id = ?",
                (request_id.strip().lower(),),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(
                f"request ID not found: {request_id} (unknown, or older than the last {MAX_TRACKED_REQUESTS} "
                "requests this catalog keeps)",
                404,
            )
        return row

    def request_status(self, request_id: str) -> dict[str, Any]:
        """The AuroraX status document (PROTOCOL §3.2) of a request made with :meth:`submit`.

        Raises:
            NotFound: the id is unknown, malformed or expired.
        """
        rid, requested, completed, query, logs, count, size, duration, error, _ = self._request_row(request_id)
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

    def request_data(self, request_id: str) -> list[dict[str, Any]]:
        """The AuroraX records (basic_info data sources) of a request made with :meth:`submit`.

        The catalog stores the result's URLs and reads the records back, so a record deleted
        since the request is missing from the list.

        Raises:
            NotFound: unknown id; SearchFailed: the request failed.
        """
        row = self._request_row(request_id)
        if row[8]:
            logs = json.loads(row[4])
            raise SearchFailed(logs[-1]["summary"] if logs else "the search failed")
        text = zlib.decompress(row[9]).decode("utf-8") if row[9] else ""
        urls = text.split("\n") if text else []
        return [p.to_api_dict("basic_info") for p in self.products_by_url(urls)]

    def cancel_request(self, request_id: str) -> None:
        """Catalog requests complete inside :meth:`submit`, so this only checks that the id exists.

        Raises:
            NotFound: the id is unknown.
        """
        self._request_row(request_id)


def _micro(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
