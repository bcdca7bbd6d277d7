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

Parts, each with its own reason to change: ``_remote_http`` (session, retries, status and transport
errors), ``_remote_search`` (the search lifecycle and request tracking), ``_remote_sources``
(describe, data sources, availability, writes). ``RemoteBackend`` here joins them.
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter

from ..errors import BackendConfigurationError, BackendTimeout
from ..models import DataSource
from ._remote_http import (
    AVAILABILITY_PATH,
    DEFAULT_DEADLINE,
    DESCRIBE_PATH,
    REQUEST_PATH,
    SEARCH_PATH,
    SOURCES_PATH,
    SOURCES_SEARCH_PATH,
    UPLOAD_CHUNK,
    _DeadlineExceeded,
    _normalise_base_url,
    _positive,
    _retry_policy,
)
from ._remote_search import _SearchLifecycle
from ._remote_sources import _SourcesAndWrites

# The endpoint constants lived here before the split; they stay importable from here.
__all__ = [
    "AVAILABILITY_PATH",
    "DEFAULT_DEADLINE",
    "DESCRIBE_PATH",
    "REQUEST_PATH",
    "SEARCH_PATH",
    "SOURCES_PATH",
    "SOURCES_SEARCH_PATH",
    "UPLOAD_CHUNK",
    "RemoteBackend",
]


class RemoteBackend(_SearchLifecycle, _SourcesAndWrites):
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
