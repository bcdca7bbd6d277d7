"""The AuroraX-compatible HTTP API (tornado): the application factory and its routes.

Endpoints (PROTOCOL §2): the data-product search lifecycle (submit, status, data by GET and by POST
with a response format, cancel), describe, synchronous search, data sources (list, search, get,
add, update, delete, with ``include_stats``), availability, upload and delete of data products,
and ``GET /`` for the connectivity check. Every path also answers with a doubled leading slash
(pyaurorax 1.22 sends ``//api/v1/data_sources/search``).

Where the parts live: ``base`` (the handler every route builds on: bodies, errors, headers),
``search_routes`` and ``source_routes`` (the routes), ``workers`` (threads or worker processes that
run the searches, with cancels and deadlines that reach them), ``spill`` (large result bodies handed
over through /dev/shm), ``registry`` (the bounded store of requests and results), ``state`` (what
the handlers share), ``runner`` (serving in the foreground or a thread, and the graceful shutdown).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import tornado.web

from ..backends.base import (
    AvailabilityCounts,
    Backend,
    SearchBodies,
    SharedRequestStore,
    SourceLookup,
    WritableCatalog,
)
from ..errors import BackendConfigurationError
from .base import BaseHandler, HealthHandler, RootHandler
from .registry import RequestRegistry
from .search_routes import (
    DescribeHandler,
    RequestDataHandler,
    RequestStatusHandler,
    SubmitHandler,
    SynchronousSearchHandler,
)
from .shared import SharedRegistry
from .source_routes import (
    AdminSearchRequestHandler,
    AdminSearchRequestsHandler,
    AvailabilityHandler,
    DataProductsUploadHandler,
    DataSourceHandler,
    DataSourcesHandler,
    DataSourcesSearchHandler,
)
from .state import DEFAULT_MAX_BODY_BYTES, ServerState
from .wire import ApiError
from .workers import ProcessSearcher, ThreadSearcher

logger = logging.getLogger("aurorax_core.server")

# What a backend must offer to be served (writes are optional: WritableCatalog).
REQUIRED_ABILITIES: Final = (
    ("Backend", Backend),
    ("SearchBodies", SearchBodies),
    ("SourceLookup", SourceLookup),
    ("AvailabilityCounts", AvailabilityCounts),
)
# Searches of the synchronous route that may hold a worker slot beside the asynchronous ones.
_SYNC_SLOTS: Final = 64


class NotFoundHandler(BaseHandler):
    """Any other path: a 404 error document."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such endpoint: {self.request.method} {self.request.path}")


def check_servable(catalog: Any) -> None:
    """Refuse, naming what is missing, a backend the server cannot serve.

    Raises:
        BackendConfigurationError: the backend lacks one of REQUIRED_ABILITIES.
    """
    missing = [name for name, ability in REQUIRED_ABILITIES if not isinstance(catalog, ability)]
    if missing:
        name = getattr(catalog, "name", type(catalog).__name__)
        raise BackendConfigurationError(
            f"cannot serve {name}: its backend lacks the {', '.join(missing)} "
            f"abilit{'ies' if len(missing) > 1 else 'y'} the server needs (aurorax_core.backends.base); "
            "serve a catalog (a path, sqlite:, or another engine that has them)"
        )


def _routes(state: ServerState) -> list[tuple[str, type[BaseHandler], dict[str, Any]]]:
    kw = {"state": state}
    api = r"/+api/v1"
    return [
        (r"/*", RootHandler, kw),
        (r"/+health/?", HealthHandler, kw),
        (rf"{api}/?", RootHandler, kw),
        (rf"{api}/data_products/search/?", SubmitHandler, kw),
        (rf"{api}/data_products/search_synchronous/?", SynchronousSearchHandler, kw),
        (rf"{api}/data_products/requests/([^/]+)/?", RequestStatusHandler, kw),
        (rf"{api}/data_products/requests/([^/]+)/data/?", RequestDataHandler, kw),
        (rf"{api}/utils/describe/query/data_products/?", DescribeHandler, kw),
        (rf"{api}/data_sources/?", DataSourcesHandler, kw),
        (rf"{api}/data_sources/search/?", DataSourcesSearchHandler, kw),
        (rf"{api}/data_sources/([^/]+)/?", DataSourceHandler, kw),
        (rf"{api}/data_sources/([^/]+)/data_products/?", DataProductsUploadHandler, kw),
        (rf"{api}/availability/data_products/?", AvailabilityHandler, kw),
        (rf"{api}/utils/admin/search_requests/?", AdminSearchRequestsHandler, kw),
        (rf"{api}/utils/admin/search_requests/([^/]+)/?", AdminSearchRequestHandler, kw),
    ]


def _spec_of(catalog: Any, spec: str | None) -> str:
    if spec:
        return spec
    path = getattr(catalog, "path", None)
    if isinstance(path, (str, Path)):
        return str(path)
    raise BackendConfigurationError(
        "search processes open the catalog by its specification: pass spec= (a path or URL), "
        "or run searches in threads (search_processes=0)"
    )


def make_app(
    catalog: Any,
    *,
    spec: str | None = None,
    api_keys: Iterable[str] = (),
    result_ttl: float = 3600.0,
    max_requests: int = 5000,
    max_result_bytes: int = 256 * 1024 * 1024,
    max_pending: int = 256,
    workers: int = 4,
    submit_wait: float = 0.1,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    search_processes: int = 0,
    search_timeout: float = 300.0,
    public_url: str | None = None,
    shared_requests: bool | None = None,
) -> tornado.web.Application:
    """The tornado application serving the AuroraX API over ``catalog``.

    ``catalog`` is any backend with REQUIRED_ABILITIES (writes also need WritableCatalog).
    ``app.settings["aurorax_state"]`` is the :class:`ServerState`; call its ``close()`` when done.
    Searches run in ``workers`` threads, or, with ``search_processes > 0``, in that many worker
    processes, each opening ``spec`` (default: the catalog's path) read-only with ``open_backend``.
    A search running longer than ``search_timeout`` seconds fails with that reason in its log.
    ``public_url`` (e.g. ``https://aurorax.example.org``) is where clients reach the server; the
    ``Location`` of a submitted search starts with it (default: the address the request came to).
    ``shared_requests``: keep requests and results in the catalog's shared store (the
    SharedRequestStore ability: PostgreSQL), so every instance over it answers every request id;
    None (default) does so whenever the catalog has that ability and is writable.

    Raises:
        ValueError: a limit is not positive, or ``public_url`` is not an http(s) URL.
        BackendConfigurationError: the backend lacks an ability the server needs.
    """
    if workers < 1 or max_body_bytes < 1 or submit_wait < 0 or search_timeout <= 0 or search_processes < 0:
        raise ValueError(
            "workers, max_body_bytes and search_timeout must be positive, submit_wait and search_processes >= 0"
        )
    check_servable(catalog)
    if public_url is not None:
        public_url = public_url.strip().rstrip("/")
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"public_url must be an http(s) URL like https://aurorax.example.org, got {public_url!r}")
    limits = {"ttl": result_ttl, "max_entries": max_requests, "max_bytes": max_result_bytes, "max_pending": max_pending}
    shareable = isinstance(catalog, SharedRequestStore) and not getattr(catalog, "readonly", False)
    if shared_requests and not shareable:
        raise BackendConfigurationError(
            f"{getattr(catalog, 'name', type(catalog).__name__)} cannot share requests between server instances "
            "(no writable SharedRequestStore ability): serve a writable postgresql:// catalog"
        )
    registry: RequestRegistry | SharedRegistry
    if shareable and shared_requests is not False:
        registry = SharedRegistry(catalog.server_requests(), **limits)
    else:
        registry = RequestRegistry(**limits)
    # the shared registry's database calls run here too
    read_pool = ThreadPoolExecutor(max_workers=4 if registry.blocking else 2, thread_name_prefix="aurorax-read")
    searcher: ThreadSearcher | ProcessSearcher
    if search_processes > 0:
        searcher = ProcessSearcher(
            _spec_of(catalog, spec), search_processes, registry.max_pending + _SYNC_SLOTS, read_pool, catalog
        )
    else:
        searcher = ThreadSearcher(catalog, workers)
    state = ServerState(
        catalog=catalog,
        registry=registry,
        api_keys=frozenset(k.strip() for k in api_keys if k and k.strip()),
        searcher=searcher,
        read_pool=read_pool,
        max_body_bytes=max_body_bytes,
        submit_wait=submit_wait,
        search_timeout=search_timeout,
        public_url=public_url,
        writable=isinstance(catalog, WritableCatalog),
    )
    return tornado.web.Application(
        _routes(state),  # type: ignore[arg-type]
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        aurorax_state=state,
        compress_response=False,
        log_function=_log_request,
    )


access_logger = logging.getLogger("aurorax_core.server.access")


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # 4xx answers are the client's mistake and already explained to it; only 5xx are warnings.
    status = handler.get_status()
    level = logging.WARNING if status >= 500 else logging.DEBUG
    if access_logger.isEnabledFor(level):
        access_logger.log(
            level,
            "%d %s %s %.2fms",
            status,
            handler.request.method,
            handler.request.uri,
            1000.0 * handler.request.request_time(),
        )
