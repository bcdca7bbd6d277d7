"""The request handler every route builds on: JSON in and out, bodies streamed and capped, every
error an AuroraX error document, catalog calls off the IO loop, and the headers every answer carries.

Every answer carries exactly ``Content-Type: application/json`` (pyaurorax rejects a charset) and
``X-Content-Type-Options: nosniff``, so no browser reads a record's text as anything but JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

import tornado.web

from ..backends.base import ConnectivityCheck
from ..errors import AuroraXCoreError, CatalogError, NotFound, QueryValidationError, RecordValidationError
from .state import ServerState
from .wire import ApiError

JSON_TYPE: Final = "application/json"
API_KEY_HEADER: Final = "x-aurorax-api-key"

T = TypeVar("T")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@tornado.web.stream_request_body
class BaseHandler(tornado.web.RequestHandler):
    """JSON in, JSON out; request bodies streamed and capped; every error an AuroraX error document."""

    state: ServerState
    # Routes whose body is a query accept at most this many bytes (None: the server's body limit).
    body_limit: int | None = None

    def initialize(self, state: ServerState) -> None:
        self.state = state
        self._chunks: list[bytes] = []
        self._body_size = 0
        self._declared: int | None = None
        self._too_large = False
        self._counted = False

    @property
    def max_body(self) -> int:
        return self.body_limit if self.body_limit is not None else self.state.max_body_bytes

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", JSON_TYPE)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        self.state.request_started()
        self._counted = True
        if self.state.stopping:
            self.set_header("Connection", "close")
            raise ApiError(503, "the server is shutting down; retry against another server or in a moment")
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            # Read and drop the body instead of closing the socket: a client that is still sending
            # would otherwise see a broken pipe instead of this answer.
            self._declared = int(declared)
            self._too_large = True

    def finish(self, chunk: Any = None) -> Any:
        # the request counts as being answered until its last byte reached the socket, so a shutdown
        # lets a response that is still being sent complete (within its grace period)
        done = super().finish(chunk)
        done.add_done_callback(lambda _: self._end())
        return done

    def on_connection_close(self) -> None:
        self._end()

    def _end(self) -> None:
        if self._counted:
            self._counted = False
            self.state.request_ended()

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._too_large or self._body_size > self.max_body:
            self._too_large = True
            self._chunks = []
            return
        self._chunks.append(chunk)

    # --- input ---------------------------------------------------------------------------------

    def too_large_message(self) -> str:
        return (
            f"the request body is larger than this server accepts ({self.max_body:,} bytes); "
            "send fewer records per request"
        )

    def check_body_size(self) -> None:
        if self._too_large:
            raise ApiError(413, self.too_large_message())

    def json_body(self, *, default: Any = None, what: str = "the request body") -> Any:
        """The decoded JSON body (``default`` when the body is empty).

        Raises:
            ApiError: 413 when too large, 400 when it is not UTF-8 JSON.
        """
        self.check_body_size()
        raw = b"".join(self._chunks)
        if not raw.strip():
            if default is not None:
                return default
            raise ApiError(400, f"{what} is empty; send a JSON document")
        try:
            # JSON on the wire is UTF-8 (RFC 8259); json.loads would also guess UTF-16/32 from bytes.
            return json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ApiError(400, f"{what} is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ApiError(
                400, f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except (ValueError, RecursionError) as exc:
            # e.g. an integer with more digits than Python converts, or arrays nested thousands deep
            raise ApiError(400, f"{what} cannot be read as JSON ({type(exc).__name__}: {str(exc)[:120]})") from None

    def arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return None if value is None else value

    def require_write_key(self) -> None:
        """Writes need an API key the operator configured.

        Raises:
            ApiError: 401 without a key, 403 with a key that is not configured.
        """
        key = (self.request.headers.get(API_KEY_HEADER) or "").strip()
        if not key:
            raise ApiError(
                401,
                "this operation changes the catalog and needs an API key: send it in the "
                "x-aurorax-api-key header (pyaurorax: PyAuroraX(api_key=...); aurorax-cli --api-key)",
            )
        # constant-time comparison: the answer must not leak how much of a key was right
        if not any(hmac.compare_digest(key.encode(), known.encode()) for known in self.state.api_keys):
            hint = (
                "this server accepts no writes (start it with --api-key KEY to allow them)"
                if not self.state.api_keys
                else "check the key the server was started with (--api-key or AURORAX_SERVER_API_KEYS)"
            )
            raise ApiError(403, f"the API key is not permitted to change the catalog; {hint}")

    def writable_catalog(self) -> Any:
        """The catalog, for a route that changes it.

        Raises:
            ApiError: 405 when the backend served cannot be changed (no WritableCatalog ability).
        """
        if not self.state.writable:
            raise ApiError(405, "this server's catalog cannot be changed: its backend has no WritableCatalog ability")
        return self.state.catalog

    # --- output --------------------------------------------------------------------------------

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(value if isinstance(value, bytes) else dumps(value))

    def send_empty(self, status: int) -> None:
        """An answer without a body (202 of a submit, 200 of a write), still typed as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            error = exc
        elif isinstance(exc, tornado.web.HTTPError):
            if status_code == 405:
                message = f"{self.request.method} is not supported on {self.request.path}"
            else:
                message = exc.log_message or self._reason
            error = ApiError(status_code, message)
        else:
            error = ApiError(
                status_code,
                "the server hit an internal error answering this request; it was logged"
                if status_code >= 500
                else self._reason,
            )
        self.clear_header("Location")
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(dumps(error.document()))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, ApiError):
            if self._finished:
                return
            self.set_status(e.status)
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            return
        super().log_exception(typ, value, tb)

    # --- running catalog work off the IO loop ---------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a catalog call in the read pool, turning catalog errors into error documents."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.state.read_pool, lambda: fn(*args, **kwargs))
        except ApiError:
            raise
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None
        except (QueryValidationError, RecordValidationError) as exc:
            raise ApiError(400, str(exc)) from None
        except AuroraXCoreError as exc:
            status = status_for(exc)
            raise ApiError(status, str(exc)) from None

    async def registry_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A request-registry call: on the IO loop for the in-memory registry, in the read pool
        for a shared one (it waits on the database)."""
        if not self.state.registry.blocking:
            return fn(*args, **kwargs)
        return await self.read(fn, *args, **kwargs)


def status_for(exc: AuroraXCoreError) -> int:
    name = type(exc).__name__
    if name in ("DuplicateError", "ConflictError"):
        return 409
    if isinstance(exc, CatalogError):
        # the catalog cannot be read or written (read-only file, disk full, corrupt): the server's
        # state, not the request, is at fault; 503 carries the catalog's own explanation
        return 503
    return 400


class RootHandler(BaseHandler):
    """``GET /``: aurorax-cli --test-connectivity wants a 200."""

    def head(self) -> None:
        self.send_empty(200)

    def get(self) -> None:
        self.send_json(
            {
                "name": "aurorax-core AuroraX-compatible API",
                "api": "/api/v1",
                "catalog": str(getattr(self.state.catalog, "name", "")),
            }
        )


class NotFoundHandler(BaseHandler):
    """Any other path: a 404 error document."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such endpoint: {self.request.method} {self.request.path}")


class HealthHandler(BaseHandler):
    """``GET /health``: 200 while this instance answers and its catalog is reachable, else 503 (a
    balancer takes the instance out of rotation; a stopping instance answers 503 too)."""

    timeout: float = 5.0

    async def get(self) -> None:
        catalog = self.state.catalog
        check = catalog.check_connectivity if isinstance(catalog, ConnectivityCheck) else catalog.list_sources
        try:
            await asyncio.wait_for(self.read(check), timeout=self.timeout)
        except TimeoutError:
            raise ApiError(503, f"the catalog did not answer within {self.timeout:g} s") from None
        except ApiError as exc:
            raise ApiError(503, f"the catalog is not reachable: {exc.message}") from None
        self.send_json({"status": "ok", "catalog": str(getattr(catalog, "name", ""))})
