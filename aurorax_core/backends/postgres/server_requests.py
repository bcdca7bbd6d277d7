"""The request store every ``aurorax-core serve`` instance over one PostgreSQL catalog shares.

One row of ``aurorax.server_requests`` per search request: its query, state, logs, counts and,
once finished, the encoded result body (and its data-source layout), kept until ``expires``. Any
instance reads any row, so instances behind a balancer answer each other's request ids, and a
finished result outlives the instance that computed it.

How the instances cooperate without talking to each other:

* the instance running a search (``owner``) refreshes ``heartbeat`` on its pending rows; a pending
  row whose heartbeat is older than ``stale_after`` seconds belongs to an instance that died
  (``kill -9``): readers and the upkeep mark it failed, saying so, so no client polls forever;
* a cancel on any instance is an UPDATE of the row's state; the owner polls the states of its
  pending rows and stops the search where it runs;
* the upkeep (any one instance at a time: an advisory lock) deletes expired rows and keeps the
  finished rows within the entry and byte bounds, oldest first.

Every statement binds its values (no SQL is built from request text).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

STATE_PENDING: Final = "pending"
# pg_try_advisory_xact_lock key of the upkeep (one instance at a time)
UPKEEP_LOCK: Final = 0x41555203

_COLUMNS: Final = (
    "id, requested, state, query, client_ip, logs, completed, result_count, file_size, query_duration, "
    "error_message, owner, (state = 'pending' AND heartbeat < now() - make_interval(secs => %s)) AS stale"
)


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """One row as read back (``result``/``layout`` only when asked for)."""

    request_id: str
    requested: datetime
    state: str
    query: dict[str, Any]
    client_ip: str
    logs: list[dict[str, str]]
    completed: datetime | None
    result_count: int | None
    file_size: int | None
    query_duration: int | None
    error_message: str | None
    owner: str
    stale: bool
    has_result: bool
    result: bytes | None = None
    layout: bytes | None = None


def _stored(row: Sequence[Any], *, with_result: bool) -> StoredRequest:
    result = layout = None
    if with_result:
        result = None if row[14] is None else bytes(row[14])
        layout = None if row[15] is None else bytes(row[15])
    return StoredRequest(
        request_id=row[0],
        requested=row[1],
        state=row[2],
        query=json.loads(row[3]),
        client_ip=row[4],
        logs=json.loads(row[5]),
        completed=row[6],
        result_count=row[7],
        file_size=row[8],
        query_duration=row[9],
        error_message=row[10],
        owner=row[11],
        stale=bool(row[12]),
        has_result=bool(row[13]),
        result=result,
        layout=layout,
    )


class ServerRequestTable:
    """The operations the server's shared registry needs on ``aurorax.server_requests``.

    ``connection(doing)`` is the catalog's pooled-connection context manager (typed errors:
    CatalogUnavailable when the database cannot be reached).
    """

    def __init__(self, connection: Callable[[str], AbstractContextManager[Any]]) -> None:
        self._connection = connection

    def insert(
        self, request_id: str, query: dict[str, Any], client_ip: str, logs: list[dict[str, str]], owner: str
    ) -> None:
        """A new pending request owned by ``owner`` (its heartbeat starts now)."""
        with self._connection("record the search request") as conn:
            conn.execute(
                "INSERT INTO aurorax.server_requests (id, state, query, client_ip, logs, owner, heartbeat) "
                "VALUES (%s, %s, %s, %s, %s, %s, now())",
                (request_id, STATE_PENDING, json.dumps(query), client_ip, json.dumps(logs), owner),
            )

    def finish(
        self,
        request_id: str,
        state: str,
        logs: list[dict[str, str]],
        ttl: float,
        *,
        result: bytes | None = None,
        layout: bytes | None = None,
        result_count: int = 0,
        file_size: int = 0,
        query_duration: int = 0,
        error_message: str | None = None,
    ) -> bool:
        """Record how a pending request ended; False when it had already ended (cancelled elsewhere)."""
        with self._connection("store the search result") as conn:
            cursor = conn.execute(
                "UPDATE aurorax.server_requests SET state = %s, logs = %s, completed = now(), result = %s, "
                "layout = %s, result_count = %s, file_size = %s, query_duration = %s, error_message = %s, "
                "expires = now() + make_interval(secs => %s) WHERE id = %s AND state = %s",
                (
                    state,
                    json.dumps(logs),
                    result,
                    layout,
                    result_count,
                    file_size,
                    query_duration,
                    error_message,
                    ttl,
                    request_id,
                    STATE_PENDING,
                ),
            )
            return cursor.rowcount == 1

    def end_pending(self, request_id: str, state: str, message: str, log: dict[str, str], ttl: float) -> bool:
        """End a pending request (cancelled, or failed because its instance died) with one more log
        line; False when it was not pending."""
        with self._connection("end the search request") as conn:
            cursor = conn.execute(
                "UPDATE aurorax.server_requests SET state = %s, error_message = %s, "
                "logs = (logs::jsonb || %s::jsonb)::text, completed = now(), result_count = 0, file_size = 0, "
                "expires = now() + make_interval(secs => %s) WHERE id = %s AND state = %s",
                (state, message, json.dumps([log]), ttl, request_id, STATE_PENDING),
            )
            return cursor.rowcount == 1

    def get(self, request_id: str, *, with_result: bool, stale_after: float) -> StoredRequest | None:
        extra = ", result, layout" if with_result else ""
        with self._connection("read the search request") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, result IS NOT NULL{extra} FROM aurorax.server_requests "
                "WHERE id = %s AND (expires IS NULL OR expires > now())",
                (stale_after, request_id),
            ).fetchone()
        return None if row is None else _stored(row, with_result=with_result)

    def listing(self, stale_after: float) -> list[StoredRequest]:
        """Every request kept (without results), oldest first."""
        with self._connection("list the search requests") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS}, result IS NOT NULL FROM aurorax.server_requests "
                "WHERE expires IS NULL OR expires > now() ORDER BY requested",
                (stale_after,),
            ).fetchall()
        return [_stored(row, with_result=False) for row in rows]

    def ended(self, request_ids: Sequence[str]) -> list[str]:
        """Which of these running requests were stopped elsewhere (cancelled or removed on another
        instance, or given up as abandoned); one not stored yet (its insert is on its way) or
        just stored as done by its owner was not."""
        with self._connection("poll the search requests") as conn:
            rows = conn.execute(
                "SELECT id FROM aurorax.server_requests WHERE id = ANY(%s) AND state IN ('cancelled', 'failed')",
                (list(request_ids),),
            ).fetchall()
        return [row[0] for row in rows]

    def heartbeat(self, request_ids: Sequence[str]) -> None:
        with self._connection("refresh the running searches") as conn:
            conn.execute(
                "UPDATE aurorax.server_requests SET heartbeat = now() WHERE id = ANY(%s) AND state = %s",
                (list(request_ids), STATE_PENDING),
            )

    def delete(self, request_id: str) -> bool:
        """Remove a request: expired at once (the upkeep deletes the row); a running one is
        cancelled, so its owner stops the work."""
        with self._connection("delete the search request") as conn:
            cursor = conn.execute(
                "UPDATE aurorax.server_requests SET expires = now(), "
                "state = CASE WHEN state = %s THEN 'cancelled' ELSE state END "
                "WHERE id = %s AND (expires IS NULL OR expires > now())",
                (STATE_PENDING, request_id),
            )
            return cursor.rowcount == 1

    def upkeep(
        self, *, max_entries: int, max_bytes: int, stale_after: float, ttl: float, abandoned: tuple[str, dict[str, str]]
    ) -> int:
        """Expire, fail abandoned searches, keep the bounds; returns the rows deleted (0 when another
        instance is doing it right now)."""
        message, log = abandoned
        with self._connection("expire old search requests") as conn, conn.transaction():
            if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (UPKEEP_LOCK,)).fetchone()[0]:
                return 0
            deleted = conn.execute("DELETE FROM aurorax.server_requests WHERE expires <= now()").rowcount
            conn.execute(
                "UPDATE aurorax.server_requests SET state = 'failed', error_message = %s, "
                "logs = (logs::jsonb || %s::jsonb)::text, completed = now(), result_count = 0, file_size = 0, "
                "expires = now() + make_interval(secs => %s) "
                "WHERE state = %s AND heartbeat < now() - make_interval(secs => %s)",
                (message, json.dumps([log]), ttl, STATE_PENDING, stale_after),
            )
            # newest first: a finished row goes when it is past the max_entries-th or its running
            # total of stored bytes passes max_bytes
            deleted += conn.execute(
                "DELETE FROM aurorax.server_requests WHERE id IN (SELECT id FROM ("
                "  SELECT id, row_number() OVER w AS n,"
                "         sum(coalesce(octet_length(result), 0) + coalesce(octet_length(layout), 0)) OVER w AS total"
                "  FROM aurorax.server_requests WHERE state <> %s"
                "  WINDOW w AS (ORDER BY completed DESC, id)) ranked WHERE n > %s OR total > %s)",
                (STATE_PENDING, max_entries, max_bytes),
            ).rowcount
        return deleted
