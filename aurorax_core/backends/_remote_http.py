"""The HTTP side of the AuroraX API backend: one session with retries, deadlines, and every
failure mapped to a typed error. The search lifecycle and the other endpoints build on ``_HttpCore``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, NoReturn
from urllib.parse import quote, urlsplit

import orjson
import requests
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
    Unauthorized,
)
from ..models import DataSource, parse_time
from . import _wire

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


class _HttpCore:
    """HTTP calls to one AuroraX API: the URL, the session, timeouts, status and transport errors."""

    # Set by RemoteBackend.__init__; declared here so each part of the backend sees their types.
    _base_url: str
    timeout: float
    deadline: float
    poll_initial: float
    poll_max: float
    poll_fraction: float
    api_key: str | None
    _session: requests.Session
    _headers: dict[str, str]
    _source_index: tuple[float, dict[int, DataSource]] | None

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
