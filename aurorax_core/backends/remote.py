"""The AuroraX API backend: talks to https://api.aurorax.space (or any compatible server) over HTTP.

It speaks the protocol pyaurorax speaks (PROTOCOL.md §1-§6): submit a search (``202`` + ``Location``),
poll the request status until ``search_result.data_uri`` is set, then fetch ``{"result": [...]}``.
Unlike pyaurorax it

* enforces an overall deadline on every search (and cancels the server request when it passes);
* checks ``error_condition`` on every poll, so a failed search ends at once;
* polls adaptively instead of sleeping a fixed second: at once, then every ``poll_initial`` (20 ms)
  while the search is young, then every ``poll_fraction`` (10 %) of the time elapsed since submit,
  capped at ``poll_max`` (1 s). The result is seen at most ~10 % after the server finished (a 300 ms
  search in ~330 ms, not ~1 s), while a long search costs one status request per second as with
  pyaurorax. The price is more (tiny) status requests in the first seconds: ~30 for a 2 s search;
* retries idempotent GETs only (HTTP 500/502/503/504 and connection failures, with backoff), never
  POST or DELETE (except a connection that could not even be opened: nothing was sent, so it is
  tried once more, within the same timeout);
* turns every HTTP failure into a typed :mod:`aurorax_core.errors` exception whose message says what
  happened and what to do;
* fetches a result with ``data_source_record_format=identifier_only`` (a parameter the AuroraX
  API documents) and names each record's source from the server's data-source list, fetched once
  and kept for ``_SOURCE_INDEX_TTL``: a quarter fewer bytes to move and a third less JSON to
  decode (the repeated source objects), for the same DataProducts. A server that ignores the
  parameter sends full sources, which are used as they are.

Thread safety: one ``requests.Session`` per backend, shared by every call. Its connection pool is
thread-safe for this use (independent requests, no shared cookies or auth state changed after
construction), so several searches may run at once from different threads on the same backend.
Do not change ``session.headers`` while searches run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Final, NoReturn
from urllib.parse import quote, urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.retry import Retry

from ..errors import (
    AuroraXCoreError,
    BackendConfigurationError,
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    Maintenance,
    MalformedResponse,
    NotFound,
    QueryValidationError,
    SearchCancelled,
    SearchFailed,
    SearchTimeout,
    Unauthorized,
)
from ..events import (
    STAGE_AVAILABLE,
    STAGE_CREATED,
    STAGE_REQUEST_ID,
    STAGE_RETRIEVED,
    STAGE_RETRIEVING,
    STAGE_SUBMITTED,
    STAGE_WAITING,
    CancelToken,
    ProgressCallback,
)
from ..models import DataProduct, DataSource, parse_time
from ..progress import emit, natural_size
from ..query import DataProductQuery
from ..results import LogEntry, SearchResult
from . import _wire
from .base import Availability
from .catalog import _gc_paused

logger = logging.getLogger("aurorax_core.remote")

DEFAULT_DEADLINE: Final = 300.0
SEARCH_PATH: Final = "api/v1/data_products/search"
REQUEST_PATH: Final = "api/v1/data_products/requests"
DESCRIBE_PATH: Final = "api/v1/utils/describe/query/data_products"
SOURCES_PATH: Final = "api/v1/data_sources"
SOURCES_SEARCH_PATH: Final = "api/v1/data_sources/search"
AVAILABILITY_PATH: Final = "api/v1/availability/data_products"
UPLOAD_CHUNK: Final = 500
# Each read1 is one socket read (bounded by the read timeout); on a fast link the socket holds
# megabytes, so 1 MB reads take a 12 MB result in ~13 calls: ~half the CPU of 256 KB reads (fewer
# urllib3 buffer round trips). 4 MB reads were slower again (large allocations).
_READ_CHUNK: Final = 1024 * 1024
# How long the data-source list that names identifier_only records is trusted; a record naming an
# identifier the list lacks fetches it again at once.
_SOURCE_INDEX_TTL: Final = 300.0
# Cancelling after a failure must not itself hang: the DELETE gets its own short budget.
_CLEANUP_TIMEOUT: Final = 3.0
# One more try when a connection cannot be made (never sent, so safe for any method). Each try gets
# half the call's timeout, so an unreachable host still fails within ``timeout``.
_CONNECT_RETRIES: Final = 1


class _DeadlineExceeded(Exception):
    """Internal: the caller's overall deadline (not the per-call timeout) ran out."""


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


def _normalise_base_url(base_url: Any) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise BackendConfigurationError(
            f"the AuroraX API URL must be text like 'https://api.aurorax.space', got {base_url!r}"
        )
    text = base_url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise BackendConfigurationError(
            f"{text!r} is not an http(s) URL; give the API address like 'https://api.aurorax.space' "
            "or 'http://127.0.0.1:8080'"
        )
    if parts.query or parts.fragment:
        raise BackendConfigurationError(f"the AuroraX API URL {text!r} must not contain '?' or '#'")
    try:
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError:
        raise BackendConfigurationError(f"the AuroraX API URL {text!r} has an invalid port") from None
    # pyaurorax strips one trailing slash; a second one would give '//api/v1/...'.
    return text[:-1] if text.endswith("/") else text


def _positive(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BackendConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _request_id_path(request_id: Any) -> str:
    if not isinstance(request_id, str) or not request_id.strip() or "/" in request_id:
        raise QueryValidationError(
            f"a request id is a UUID like '63e09ea3-2465-4ea8-affe-bb17170f815d', got {request_id!r}"
        )
    return quote(request_id.strip(), safe="")


def _bool_param(value: bool) -> str:
    # pyaurorax sends Python booleans through requests' params: 'True' / 'False'.
    return "True" if value else "False"


def _day(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return parse_time(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_time(value, field_name=name).date()
        except AuroraXCoreError as exc:
            raise QueryValidationError(str(exc)) from None
    raise QueryValidationError(f"{name} must be a date like 2020-01-01, got {value!r}")


def _retry_policy() -> Retry:
    options: dict[str, Any] = {
        "total": 3,
        "connect": _CONNECT_RETRIES,
        # A read error may mean the server already acted on the request; and retrying a stalled read
        # would multiply the timeout. Only GETs that answered 5xx, or connections never opened, retry.
        "read": 0,
        "status": 2,
        "other": 0,
        "backoff_factor": 0.1,
        "status_forcelist": (500, 502, 503, 504),
        "allowed_methods": frozenset({"GET"}),
        "raise_on_status": False,
        # A Retry-After of an hour must not freeze a search; the deadline decides.
        "respect_retry_after_header": False,
    }
    try:
        return Retry(**options, backoff_max=1.0)
    except TypeError:  # urllib3 < 2 has no backoff_max (its default cap is 120 s; our 3 tries stay < 1 s)
        return Retry(**options)


class RemoteBackend:
    """Search data products on the AuroraX API (or a compatible server such as ``aurorax-core serve``).

    Args:
        base_url: e.g. ``"https://api.aurorax.space"``; one trailing slash is stripped.
        api_key: sent as ``x-aurorax-api-key`` (reads work without; uploads and deletes need one).
        timeout: seconds allowed for each HTTP call (connect, and each read from the socket).
        deadline: default overall limit in seconds for a search (``search(timeout=...)`` overrides).
        session: a ``requests.Session`` to use (retries are mounted on it); one is created otherwise.
        poll_initial: the shortest wait between status polls.
        poll_max: the longest wait between status polls.
        poll_fraction: between those bounds, wait this fraction of the time since submit (so the
            completion is noticed at most that fraction late).

    Raises:
        BackendConfigurationError: the URL is not http(s), or a number is not positive.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        deadline: float | None = None,
        session: requests.Session | None = None,
        poll_initial: float = 0.02,
        poll_max: float = 1.0,
        poll_fraction: float = 0.1,
    ) -> None:
        from .. import __version__

        self._base_url = _normalise_base_url(base_url)
        self.timeout = float(_positive("timeout", timeout) or 10.0)
        self.deadline = float(_positive("deadline", deadline, allow_none=True) or DEFAULT_DEADLINE)
        self.poll_initial = float(_positive("poll_initial", poll_initial) or 0.02)
        self.poll_max = max(float(_positive("poll_max", poll_max) or 1.0), self.poll_initial)
        self.poll_fraction = float(_positive("poll_fraction", poll_fraction) or 0.1)
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise BackendConfigurationError("api_key must be a non-empty string (or None for anonymous access)")
        self.api_key = api_key.strip() if api_key else None
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        retry = _retry_policy()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._headers = {
            "content-type": "application/json",
            "user-agent": f"aurorax-core/{__version__}",
            "accept": "application/json",
        }
        if self.api_key:
            self._headers["x-aurorax-api-key"] = self.api_key
        # (monotonic time fetched, sources by identifier): replaced whole, so threads share it safely
        self._source_index: tuple[float, dict[int, DataSource]] | None = None

    # --- Backend basics ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._base_url

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"RemoteBackend({self._base_url!r})"

    def close(self) -> None:
        """Close pooled connections (only those of a session this backend created)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> RemoteBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP core --------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._base_url}/{path}"

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        deadline_at: float | None = None,
        timeout: float | None = None,
        ok: Iterable[int] = (200,),
        not_found: str | None = None,
    ) -> _Reply:
        """One HTTP call with every failure mapped to a typed error.

        Raises:
            _DeadlineExceeded: ``deadline_at`` passed before or during the call.
            BackendUnavailable, BackendTimeout, BackendHTTPError (Unauthorized, NotFound, Maintenance).
        """
        per_call = self.timeout if timeout is None else timeout
        if deadline_at is None:
            deadline_at = time.monotonic() + self.deadline
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise _DeadlineExceeded()
        capped = remaining < per_call
        call_timeout = min(per_call, remaining)
        try:
            data = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise QueryValidationError(f"{what} cannot be sent: its content is not valid JSON ({exc})") from None
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=self._headers,
                timeout=(call_timeout / (_CONNECT_RETRIES + 1), call_timeout),
                stream=True,
                allow_redirects=method == "GET",
            )
        except requests.exceptions.RequestException as exc:
            self._raise_transport(exc, method, url, what, call_timeout, capped)
        try:
            content = self._read_body(response, deadline_at, method, url, what, call_timeout, capped)
        finally:
            response.close()
        reply = _Reply(response.status_code, response.headers, content, url)
        logger.debug("%s %s -> %d (%d bytes)", method, response.url, reply.status, len(content))
        if reply.status not in ok:
            self._raise_status(reply, method, what, not_found)
        return reply

    def _read_body(
        self,
        response: requests.Response,
        deadline_at: float,
        method: str,
        url: str,
        what: str,
        call_timeout: float,
        capped: bool,
    ) -> bytes:
        # Read with read1 (one socket read per call, each bounded by the read timeout) so a server
        # that trickles bytes cannot keep the call alive past the overall deadline.
        raw = response.raw
        read = getattr(raw, "read1", None)
        chunks: list[bytes] = []
        try:
            while True:
                chunk = (
                    read(_READ_CHUNK, decode_content=True)
                    if read is not None
                    else raw.read(_READ_CHUNK, decode_content=True)
                )
                if not chunk:
                    break
                chunks.append(chunk)
                if time.monotonic() > deadline_at:
                    raise _DeadlineExceeded()
        except (ReadTimeoutError, TimeoutError) as exc:
            self._raise_transport(requests.exceptions.ReadTimeout(exc), method, url, what, call_timeout, capped)
        except DecodeError as exc:
            raise MalformedResponse(
                f"the server at {self._base_url} sent {what} with a body that cannot be decoded "
                f"({_cause(exc)}); it does not follow the AuroraX protocol"
            ) from None
        except (ProtocolError, Urllib3Error, OSError) as exc:
            raise BackendUnavailable(
                f"the AuroraX API at {self._base_url} dropped the connection while sending {what} "
                f"({_cause(exc)}); try again, and check your network if it keeps happening"
            ) from None
        return b"".join(chunks)

    def _raise_transport(
        self,
        exc: requests.exceptions.RequestException,
        method: str,
        url: str,
        what: str,
        call_timeout: float,
        capped: bool,
    ) -> NoReturn:
        if isinstance(exc, requests.exceptions.Timeout):
            if capped:
                raise _DeadlineExceeded() from None
            if isinstance(exc, requests.exceptions.ConnectTimeout):
                raise BackendTimeout(
                    f"cannot reach the AuroraX API at {self._base_url}: no connection within "
                    f"{call_timeout:g} s; check the URL or your network"
                ) from None
            raise BackendTimeout(
                f"the AuroraX API at {self._base_url} did not answer {what} within {call_timeout:g} s; "
                "the server may be overloaded: try again later or allow a longer timeout"
            ) from None
        if isinstance(exc, requests.exceptions.SSLError):
            raise BackendUnavailable(
                f"cannot reach the AuroraX API at {self._base_url}: secure connection failed ({_cause(exc)}); "
                "check the URL (http vs https) and your system certificates"
            ) from None
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            reason = _connection_reason(exc)
            raise BackendUnavailable(
                f"cannot reach the AuroraX API at {self._base_url}: {reason}; check the URL or your network"
            ) from None
        raise BackendError(f"{method} {url} failed: {_cause(exc)}") from None

    def _raise_status(self, reply: _Reply, method: str, what: str, not_found: str | None) -> NoReturn:
        status = reply.status
        reason = _wire.error_reason(reply.body, reply.headers.get("Content-Type"))
        detail = f": {reason}" if reason else ""
        where = f"the AuroraX API at {self._base_url}"
        if status == 400:
            raise BackendHTTPError(f"{where} rejected {what} (HTTP 400){detail}; fix the request and retry", 400)
        if status == 401:
            raise Unauthorized(
                f"{where} refused {what} (HTTP 401: not authorized{detail}); "
                "give a valid API key with --api-key or AURORAX_API_KEY",
                401,
            )
        if status == 403:
            raise Unauthorized(
                f"{where} refused {what} (HTTP 403: forbidden{detail}); "
                "your API key does not allow this (writes need an owner, maintainer or admin key)",
                403,
            )
        if status == 404:
            message = not_found or f"{where} does not know {what}"
            raise NotFound(f"{message} (HTTP 404{detail})", 404)
        if status == 503:
            if "maintenance mode" in reason.lower():
                raise Maintenance(f"{where} is in maintenance mode{detail}; try again later", 503)
            raise BackendHTTPError(f"{where} is temporarily unavailable (HTTP 503{detail}); try again later", 503)
        if status in (502, 504):
            label = "bad gateway" if status == 502 else "gateway timeout"
            raise BackendHTTPError(
                f"{where} is not reachable behind its gateway (HTTP {status}: {label}); try again later", status
            )
        if status in (301, 302, 303, 307, 308):
            target = reply.headers.get("Location") or "another address"
            raise BackendHTTPError(
                f"{where} redirects {what} to {target}; use that address as the API URL "
                "(for example https:// instead of http://)",
                status,
            )
        if status == 429:
            raise BackendHTTPError(
                f"{where} is rate-limiting requests (HTTP 429{detail}); wait a minute and retry", 429
            )
        if status == 409:
            raise BackendHTTPError(f"{where} refused {what} because it conflicts with existing data{detail}", 409)
        if status >= 500:
            raise BackendHTTPError(f"{where} failed on {what} (HTTP {status} server error{detail})", status)
        raise BackendHTTPError(f"{where} answered {what} with unexpected HTTP {status}{detail}", status)

    def _json(self, reply: _Reply, what: str) -> Any:
        try:
            return orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            pass
        try:
            return json.loads(reply.body)
        except (ValueError, UnicodeDecodeError):
            content_type = reply.headers.get("Content-Type") or "no content type"
            preview = _wire.error_reason(reply.body, content_type) or "an empty body"
            raise MalformedResponse(
                f"the server at {self._base_url} answered {what} with something that is not JSON "
                f"({content_type}: {preview!r}); check that the URL points at an AuroraX API"
            ) from None

    def _call_json(self, method: str, path_or_url: str, *, what: str, **kwargs: Any) -> Any:
        """A standalone call (not part of a search): deadline -> BackendTimeout."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self._url(path_or_url)
        try:
            reply = self._request(method, url, what=what, **kwargs)
        except _DeadlineExceeded:
            raise self._deadline_error(what) from None
        return self._json(reply, what)

    def _deadline_error(self, what: str) -> BackendTimeout:
        return BackendTimeout(
            f"the AuroraX API at {self._base_url} did not finish {what} within {self.deadline:g} s; "
            "try again later or allow a longer deadline"
        )

    # --- search lifecycle -------------------------------------------------------------------

    def _request_url(self, request_id: str) -> str:
        return self._url(f"{REQUEST_PATH}/{_request_id_path(request_id)}")

    def _submit(self, query: DataProductQuery, deadline_at: float | None) -> str:
        """POST the query; returns the absolute request URL from the Location header."""
        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        what = "the search request"
        reply = self._request(
            "POST",
            self._url(SEARCH_PATH),
            what=what,
            body=query.to_api_payload(),
            deadline_at=deadline_at,
            ok=range(200, 300),
        )
        location = (reply.headers.get("Location") or "").strip()
        if not location:
            raise MalformedResponse(
                f"the server at {self._base_url} accepted the search (HTTP {reply.status}) but sent no "
                "Location header, so its result cannot be found; it does not follow the AuroraX protocol"
            )
        if reply.status != 202:
            logger.debug("search submit answered HTTP %d instead of 202; following its Location", reply.status)
        if not urlsplit(location).scheme:
            absolute = urljoin(self._base_url + "/", location)
            logger.debug("relative Location %r joined with the base URL: %s", location, absolute)
            location = absolute
        parts = urlsplit(location)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise MalformedResponse(
                f"the server at {self._base_url} sent an unusable Location header {location!r}; "
                "it must be the http(s) URL of the search request"
            )
        location = location.rstrip("/")
        if not location.rsplit("/", 1)[-1]:
            raise MalformedResponse(f"the Location header {location!r} carries no request id")
        return location

    def submit(self, query: DataProductQuery) -> str:
        """Start a search and return its request id without waiting.

        Raises:
            QueryValidationError, BackendError (typed subclasses), MalformedResponse.
        """
        try:
            location = self._submit(query, None)
        except _DeadlineExceeded:
            raise self._deadline_error("the search request") from None
        return location.rsplit("/", 1)[-1]

    def _status(self, request_url: str, deadline_at: float | None, request_id: str) -> _wire.RequestStatus:
        what = f"the status of request {request_id}"
        reply = self._request(
            "GET",
            request_url,
            what=what,
            deadline_at=deadline_at,
            not_found=f"the AuroraX API at {self._base_url} has no search request {request_id} "
            "(unknown id, or the request expired)",
        )
        return _wire.parse_status(self._json(reply, what), where=f"GET {request_url}")

    def _cleanup_cancel(self, request_id: str) -> bool:
        """Best-effort DELETE of a request we are abandoning; True when the server acknowledged it."""
        try:
            self._request(
                "DELETE",
                self._request_url(request_id),
                what=f"the cancellation of request {request_id}",
                timeout=min(self.timeout, _CLEANUP_TIMEOUT),
                deadline_at=time.monotonic() + min(self.timeout, _CLEANUP_TIMEOUT),
                ok=range(200, 300),
            )
        except (AuroraXCoreError, _DeadlineExceeded) as exc:
            logger.warning("could not cancel request %s on %s: %s", request_id, self._base_url, exc)
            return False
        return True

    def search(
        self,
        query: DataProductQuery,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Run a data-product search to completion on the API.

        Args:
            query: the search.
            progress: called with each stage (AuroraX wording, e.g. "Request ID: ...").
            cancel: a token another thread may set; the server request is then cancelled (DELETE).
            timeout: overall deadline in seconds (default: the backend's ``deadline``).

        Raises:
            QueryValidationError: not a DataProductQuery, or a non-positive timeout.
            SearchCancelled: the token was set (the server request is cancelled too).
            SearchTimeout: the deadline passed (the server request is cancelled, best effort).
            SearchFailed: the server reported ``error_condition`` (message: its last log line).
            BackendUnavailable, BackendTimeout, BackendHTTPError (Unauthorized, NotFound,
            Maintenance), MalformedResponse: the HTTP exchange failed; the message says how.
        """
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise QueryValidationError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        limit = float(timeout) if timeout is not None else self.deadline
        started = time.perf_counter()
        deadline_at = time.monotonic() + limit
        if cancel is not None:
            cancel.raise_if_cancelled()
        emit(progress, STAGE_CREATED, "Search object created")
        submitted_at = time.monotonic()
        try:
            request_url = self._submit(query, deadline_at)
        except _DeadlineExceeded:
            raise SearchTimeout(
                f"the AuroraX API at {self._base_url} did not accept the search within {limit:g} s; "
                "try again later or allow a longer timeout"
            ) from None
        request_id = request_url.rsplit("/", 1)[-1]
        emit(progress, STAGE_SUBMITTED, "Request submitted", request_id)
        emit(progress, STAGE_REQUEST_ID, f"Request ID: {request_id}", request_id, request_url=request_url)
        logger.debug("Request details available at: %s", request_url)
        emit(progress, STAGE_WAITING, "Waiting for data ...", request_id)
        try:
            status = self._wait(request_url, request_id, submitted_at, deadline_at, cancel)
            emit(progress, STAGE_AVAILABLE, "Data is now available", request_id)
            emit(progress, STAGE_RETRIEVING, "Retrieving data ...", request_id)
            data_url = request_url + "/data"
            what = f"the data of request {request_id}"
            reply = self._request(
                "GET",
                data_url,
                what=what,
                params={"data_source_record_format": "identifier_only"},
                deadline_at=deadline_at,
                not_found=f"the result of search request {request_id} is no longer on {self._base_url} "
                "(it may have expired); run the search again",
            )
            if cancel is not None and cancel.cancelled:
                raise SearchCancelled(f"the search {request_id} was cancelled")
        except _DeadlineExceeded:
            cancelled = self._cleanup_cancel(request_id)
            raise SearchTimeout(
                f"the search {request_id} on {self._base_url} did not complete within {limit:g} s"
                + ("; it was cancelled on the server" if cancelled else "")
                + ". Narrow the query or allow a longer timeout"
            ) from None
        except SearchCancelled:
            cancelled = self._cleanup_cancel(request_id)
            raise SearchCancelled(
                f"the search {request_id} was cancelled"
                + ("" if cancelled else f" (the server at {self._base_url} could not be told)")
            ) from None
        except KeyboardInterrupt:
            # Ctrl-C in a terminal: do not leave the search running on the server.
            self._cleanup_cancel(request_id)
            raise
        # Decoding and building records allocate ~10 objects per record, all of which stay alive:
        # the collections those allocations would trigger find nothing (~15% of this step). The
        # decoded JSON is dropped before the collector resumes: its first collection then scans
        # only the products (~6 instead of ~18 ms for 21,814 records).
        with _gc_paused():
            body = self._json(reply, what)
            try:
                data = _wire.parse_data_products(
                    body, where=f"GET {data_url}", resolve=self._source_resolver(deadline_at)
                )
            except _DeadlineExceeded:
                raise SearchTimeout(
                    f"the search {request_id} on {self._base_url} did not complete within {limit:g} s "
                    "(while fetching its data sources); allow a longer timeout"
                ) from None
            del body
        # Sorted by (start, url) in two stable passes with C-level keys: no tuple per record.
        data.sort(key=_BY_URL)
        data.sort(key=_BY_START)
        file_size = status.file_size if status.file_size is not None else len(reply.body)
        count = status.result_count if status.result_count is not None else len(data)
        emit(
            progress,
            STAGE_RETRIEVED,
            f"Retrieved {natural_size(file_size)} of data containing {count} records",
            request_id,
            file_size=file_size,
            result_count=count,
        )
        return SearchResult(
            query=query,
            data=data,
            request_id=request_id,
            logs=status.logs,
            file_size=file_size,
            query_duration_ms=status.query_duration_ms or 0.0,
            elapsed_s=time.perf_counter() - started,
            backend=self._base_url,
        )

    def _source_resolver(self, deadline_at: float) -> Callable[[int], DataSource | None]:
        """Names the sources of identifier_only records: the cached list, fetched again (once per
        search) when it is old or lacks an identifier."""
        refreshed = False

        def resolve(identifier: int) -> DataSource | None:
            nonlocal refreshed
            cached = self._source_index
            fresh = cached is not None and time.monotonic() - cached[0] < _SOURCE_INDEX_TTL
            if cached is None or not fresh or (identifier not in cached[1] and not refreshed):
                refreshed = True
                cached = self._load_source_index(deadline_at)
            return cached[1].get(identifier)

        return resolve

    def _load_source_index(self, deadline_at: float) -> tuple[float, dict[int, DataSource]]:
        what = "the data-source list (it names the sources of a search's records)"
        reply = self._request(
            "GET", self._url(SOURCES_PATH), what=what, params={"format": "basic_info"}, deadline_at=deadline_at
        )
        sources = _wire.parse_sources(self._json(reply, what), where=f"GET {self._url(SOURCES_PATH)}")
        index = (time.monotonic(), {s.identifier: s for s in sources if s.identifier is not None})
        self._source_index = index
        return index

    def _wait(
        self, request_url: str, request_id: str, submitted_at: float, deadline_at: float, cancel: CancelToken | None
    ) -> _wire.RequestStatus:
        """Poll until ``data_uri`` is set; fast at first, backing off to ``poll_max`` (see the module doc)."""
        polls = 0
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            status = self._status(request_url, deadline_at, request_id)
            polls += 1
            if status.error_condition:
                reason = status.last_log or "the server gave no reason"
                raise SearchFailed(f"the search {request_id} failed on {self._base_url}: {reason}")
            if status.completed:
                logger.debug("request %s complete after %d polls", request_id, polls)
                return status
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise _DeadlineExceeded()
            elapsed = time.monotonic() - submitted_at
            pause = min(max(self.poll_initial, elapsed * self.poll_fraction), self.poll_max, remaining)
            if cancel is not None:
                if cancel.wait(pause):
                    raise SearchCancelled(f"the search {request_id} was cancelled")
            else:
                time.sleep(pause)

    # --- request tracking (CLI get_status / get_logs / get_data / cancel) --------------------

    def request_status(self, request_id: str) -> dict[str, Any]:
        """The AuroraX status document of a request (``logs``, ``search_request``, ``search_result``).

        Raises:
            QueryValidationError: the id is empty or contains '/'.
            NotFound: the server does not know the id (or it expired).
            BackendError (typed subclasses), MalformedResponse.
        """
        url = self._request_url(request_id)
        try:
            return self._status(url, None, request_id).raw
        except _DeadlineExceeded:
            raise self._deadline_error(f"the status of request {request_id}") from None

    def request_logs(self, request_id: str) -> list[LogEntry]:
        """The log lines of a request.

        Raises:
            Same as :meth:`request_status`.
        """
        url = self._request_url(request_id)
        try:
            return self._status(url, None, request_id).logs
        except _DeadlineExceeded:
            raise self._deadline_error(f"the logs of request {request_id}") from None

    def request_data(self, request_id: str, response_format: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The raw records of a completed request (the ``result`` list).

        With ``response_format`` (a boolean tree, see PROTOCOL §3.3) the data is POSTed for and the
        server returns only the selected keys.

        Raises:
            NotFound: unknown or expired request. SearchFailed: the request failed.
            BackendError: the request has not completed yet, or the HTTP exchange failed.
            MalformedResponse: the answer is not ``{"result": [...]}``.
        """
        url = self._request_url(request_id)
        if response_format is not None:
            _check_format_tree(response_format)
        try:
            status = self._status(url, None, request_id)
        except _DeadlineExceeded:
            raise self._deadline_error(f"the status of request {request_id}") from None
        if status.error_condition:
            raise SearchFailed(
                f"the search {request_id} failed on {self._base_url}: {status.last_log or 'no reason given'}"
            )
        if not status.completed:
            raise BackendError(f"the search {request_id} has not completed yet; wait a moment and try again")
        what = f"the data of request {request_id}"
        body = self._call_json(
            "GET" if response_format is None else "POST",
            url + "/data",
            what=what,
            body=None if response_format is None else dict(response_format),
            not_found=f"the result of search request {request_id} is no longer on {self._base_url} "
            "(it may have expired); run the search again",
        )
        records = _wire.result_list(body, where=f"GET {url}/data")
        if not all(isinstance(r, dict) for r in records):
            raise MalformedResponse(f"GET {url}/data answered with records that are not JSON objects")
        return records

    def cancel_request(self, request_id: str) -> None:
        """Cancel a running request (DELETE).

        Raises:
            NotFound: unknown request id. BackendError (typed subclasses).
        """
        url = self._request_url(request_id)
        try:
            self._request(
                "DELETE",
                url,
                what=f"the cancellation of request {request_id}",
                ok=range(200, 300),
                not_found=f"the AuroraX API at {self._base_url} has no search request {request_id}",
            )
        except _DeadlineExceeded:
            raise self._deadline_error(f"the cancellation of request {request_id}") from None

    # --- describe, sources, availability ------------------------------------------------------

    def describe(self, query: DataProductQuery) -> str:
        """The API's description of a query (a sentence like "Find data_products for ...").

        Raises:
            QueryValidationError: not a DataProductQuery. BackendError (typed subclasses), MalformedResponse.
        """
        if not isinstance(query, DataProductQuery):
            raise QueryValidationError(f"expected a DataProductQuery, got {type(query).__name__}")
        body = self._call_json("POST", DESCRIBE_PATH, what="the query description", body=query.to_api_payload())
        return _wire.parse_describe(body, where=f"POST {self._url(DESCRIBE_PATH)}")

    def list_sources(
        self,
        *,
        programs: tuple[str, ...] | list[str] = (),
        platforms: tuple[str, ...] | list[str] = (),
        instrument_types: tuple[str, ...] | list[str] = (),
        source_type: str | None = None,
        owner: str | None = None,
        include_stats: bool = False,
    ) -> list[DataSource]:
        """Full records of the sources matching every constraint, sorted by identifier.

        One value per list uses ``GET /api/v1/data_sources`` (exact match); several use
        ``POST /api/v1/data_sources/search`` and filter source_type/owner here. Adhoc sources
        (negative identifiers) are dropped, as pyaurorax does.

        Raises:
            QueryValidationError: a constraint is not a list of strings.
            BackendError (typed subclasses), MalformedResponse.
        """
        lists = {
            "programs": _strings("programs", programs),
            "platforms": _strings("platforms", platforms),
            "instrument_types": _strings("instrument_types", instrument_types),
        }
        if all(len(values) <= 1 for values in lists.values()):
            params = {
                "program": (lists["programs"] or [None])[0],
                "platform": (lists["platforms"] or [None])[0],
                "instrument_type": (lists["instrument_types"] or [None])[0],
                "source_type": source_type,
                "owner": owner,
                "format": "full_record",
                "include_stats": _bool_param(include_stats),
            }
            body = self._call_json("GET", SOURCES_PATH, what="the data-source list", params=params)
            sources = _wire.parse_sources(body, where=f"GET {self._url(SOURCES_PATH)}")
        else:
            sources = self.search_sources(include_stats=include_stats, **lists)
            sources = [
                s
                for s in sources
                if (source_type is None or s.source_type == source_type) and (owner is None or s.owner == owner)
            ]
        return sorted(
            (s for s in sources if s.identifier is None or s.identifier >= 0),
            key=lambda s: (s.identifier is None, s.identifier or 0),
        )

    def search_sources(
        self,
        *,
        programs: Sequence[str] = (),
        platforms: Sequence[str] = (),
        instrument_types: Sequence[str] = (),
        include_stats: bool = False,
        data_source_format: str = "full_record",
    ) -> list[DataSource]:
        """``POST /api/v1/data_sources/search``: lists OR'ed inside, AND'ed together.

        Raises:
            QueryValidationError: bad arguments. BackendError (typed subclasses), MalformedResponse.
        """
        body = {
            "programs": _strings("programs", programs),
            "platforms": _strings("platforms", platforms),
            "instrument_types": _strings("instrument_types", instrument_types),
        }
        params = {"format": data_source_format, "include_stats": _bool_param(include_stats)}
        answer = self._call_json("POST", SOURCES_SEARCH_PATH, what="the data-source search", params=params, body=body)
        return sorted(
            _wire.parse_sources(answer, where=f"POST {self._url(SOURCES_SEARCH_PATH)}"),
            key=lambda s: (s.identifier is None, s.identifier or 0),
        )

    def get_source(self, identifier: int, *, include_stats: bool = False) -> DataSource:
        """The full record of one data source.

        Raises:
            QueryValidationError: the identifier is not an integer.
            NotFound: no such source (the message is the server's). BackendError, MalformedResponse.
        """
        if isinstance(identifier, bool) or not isinstance(identifier, int):
            raise QueryValidationError(f"a data source identifier is an integer like 103, got {identifier!r}")
        path = f"{SOURCES_PATH}/{identifier:d}"
        body = self._call_json(
            "GET",
            path,
            what=f"data source {identifier}",
            params={"format": "full_record", "include_stats": _bool_param(include_stats)},
            not_found=f"the AuroraX API at {self._base_url} has no data source {identifier}",
        )
        return _wire.parse_source(body, where=f"GET {self._url(path)}")

    def availability(
        self,
        start: date,
        end: date,
        *,
        program: str | None = None,
        platform: str | None = None,
        instrument_type: str | None = None,
        source_type: str | None = None,
        owner: str | None = None,
        slow: bool = False,
    ) -> list[Availability]:
        """Per-source, per-day data-product counts between two dates (inclusive).

        Raises:
            QueryValidationError: a date is invalid or end < start.
            BackendError (typed subclasses), MalformedResponse.
        """
        first, last = _day(start, "start"), _day(end, "end")
        if last < first:
            raise QueryValidationError(f"end date {last} is before start date {first}; swap them")
        params = {
            "start": first.isoformat(),
            "end": last.isoformat(),
            "program": program,
            "platform": platform,
            "instrument_type": instrument_type,
            "source_type": source_type,
            "owner": owner,
            "format": "basic_info",
            "slow": _bool_param(slow),
        }
        body = self._call_json("GET", AVAILABILITY_PATH, what="the data-product availability", params=params)
        return _wire.parse_availability(body, where=f"GET {self._url(AVAILABILITY_PATH)}")

    # --- writes (API key needed) ------------------------------------------------------------

    def _require_key(self, what: str) -> None:
        if not self.api_key:
            raise Unauthorized(
                f"{what} needs an AuroraX API key; pass --api-key, set AURORAX_API_KEY or RemoteBackend(api_key=...)",
                401,
            )

    def upload_products(self, identifier: int, records: Sequence[DataProduct]) -> int:
        """Upload data products to a source (``POST /api/v1/data_sources/{id}/data_products``, 500 per call).

        Returns the number of records sent. Times keep their seconds (pyaurorax truncates them).

        Raises:
            Unauthorized: no API key, or the key may not write to this source.
            QueryValidationError: bad identifier or records. BackendError (typed subclasses).
        """
        self._require_key("uploading data products")
        if isinstance(identifier, bool) or not isinstance(identifier, int):
            raise QueryValidationError(f"a data source identifier is an integer like 103, got {identifier!r}")
        items = list(records)
        for item in items:
            if not isinstance(item, DataProduct):
                raise QueryValidationError(f"upload_products takes DataProduct records, got {type(item).__name__}")
        path = f"{SOURCES_PATH}/{identifier:d}/data_products"
        for offset in range(0, len(items), UPLOAD_CHUNK):
            chunk = [_upload_dict(p) for p in items[offset : offset + UPLOAD_CHUNK]]
            try:
                self._request(
                    "POST",
                    self._url(path),
                    what=f"the upload to data source {identifier}",
                    body=chunk,
                    ok=range(200, 300),
                    not_found=f"the AuroraX API at {self._base_url} has no data source {identifier}",
                )
            except _DeadlineExceeded:
                raise self._deadline_error(f"the upload to data source {identifier}") from None
        return len(items)

    def delete_products(self, source: int | DataSource, urls: Sequence[str]) -> None:
        """Delete data products of a source by URL (``DELETE /api/v1/data_sources/{id}/data_products``).

        Raises:
            Unauthorized: no API key, or the key may not write to this source.
            QueryValidationError: bad arguments. NotFound: unknown source. BackendError (typed subclasses).
        """
        self._require_key("deleting data products")
        url_list = _strings("urls", urls)
        if isinstance(source, DataSource):
            if source.identifier is None:
                raise QueryValidationError("the data source has no identifier; fetch it with get_source() first")
            data_source = source
        else:
            data_source = self.get_source(source)
        identifier = data_source.identifier
        body = {
            "program": data_source.program,
            "platform": data_source.platform,
            "instrument_type": data_source.instrument_type,
            "urls": url_list,
        }
        try:
            self._request(
                "DELETE",
                self._url(f"{SOURCES_PATH}/{identifier:d}/data_products"),
                what=f"the deletion of data products of source {identifier}",
                body=body,
                ok=range(200, 300),
                not_found=f"the AuroraX API at {self._base_url} has no data source {identifier}",
            )
        except _DeadlineExceeded:
            raise self._deadline_error(f"the deletion of data products of source {identifier}") from None

    # --- connectivity -----------------------------------------------------------------------

    def check_connectivity(self) -> None:
        """GET the base URL and expect HTTP 200 (``aurorax-cli --test-connectivity``).

        Raises:
            BackendUnavailable / BackendTimeout: nothing answers at the URL.
            BackendHTTPError: something answers, but not with 200 (the message says which status).
        """
        try:
            self._request(
                "GET",
                self._base_url,
                what="the connectivity check",
                deadline_at=time.monotonic() + self.timeout,
                ok=(200,),
                not_found=f"nothing answers at {self._base_url} (HTTP 404); is this the AuroraX API URL?",
            )
        except _DeadlineExceeded:
            raise BackendTimeout(
                f"the AuroraX API at {self._base_url} did not answer within {self.timeout:g} s"
            ) from None


def _strings(name: str, values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise QueryValidationError(f'{name} must be a list of strings, e.g. ["trex"], got {values!r}')
    items = list(values)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise QueryValidationError(f"{name}: every entry must be a non-empty string, got {item!r}")
    return items


def _check_format_tree(tree: Any, path: str = "response_format") -> None:
    """A response format is an object whose values are booleans or nested objects (PROTOCOL §3.3)."""
    if not isinstance(tree, Mapping):
        raise QueryValidationError(f'{path} must be an object of booleans like {{"url": true}}, got {tree!r}')
    for key, value in tree.items():
        if not isinstance(key, str):
            raise QueryValidationError(f"{path}: keys must be field names, got {key!r}")
        if isinstance(value, Mapping):
            _check_format_tree(value, f"{path}.{key}")
        elif not isinstance(value, bool):
            raise QueryValidationError(f"{path}.{key} must be true, false or an object, got {value!r}")


_BY_URL = attrgetter("url")
_BY_START = attrgetter("start")


def _upload_dict(product: DataProduct) -> dict[str, Any]:
    source = product.data_source
    metadata = {
        key: (value.isoformat() if isinstance(value, (datetime, date)) else value)
        for key, value in product.metadata.items()
    }
    return {
        "data_product_type": product.data_product_type,
        "start": product.start.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "end": product.end.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "url": product.url,
        "metadata": metadata,
        "program": source.program,
        "platform": source.platform,
        "instrument_type": source.instrument_type,
    }


def _cause(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]


def _connection_reason(exc: BaseException) -> str:
    """'connection refused', 'host name not found' ... from the nested urllib3/socket exceptions."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    texts: list[str] = []
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "the connection was reset"
        texts.append(str(current).lower())
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    text = " ".join(texts)
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
        return "the host name was not found"
    if "reset" in text:
        return "the connection was reset"
    if "remotedisconnected" in text or "closed connection" in text or "connection aborted" in text:
        return "the server closed the connection without answering"
    if "incompleteread" in text or "connection broken" in text:
        return "the connection was dropped mid-response"
    return _cause(exc)
