"""Running the server: in the foreground (``aurorax-core serve``) or in a background thread (tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import tornado.httpserver
import tornado.netutil

from ..errors import AuroraXCoreError
from .app import make_app

logger = logging.getLogger("aurorax_core.server")

ENV_SERVER_API_KEYS: Final = "AURORAX_SERVER_API_KEYS"
# Bodies up to this size are read (and, above the app's limit, discarded with a 413); a larger
# declared Content-Length makes tornado drop the connection.
HARD_BODY_LIMIT: Final = 1024 * 1024 * 1024


def api_keys_from_env(explicit: Iterable[str] = ()) -> list[str]:
    """The operator's write keys: ``--api-key`` values plus the comma-separated AURORAX_SERVER_API_KEYS."""
    keys = [k.strip() for k in explicit if k and k.strip()]
    keys += [k.strip() for k in os.environ.get(ENV_SERVER_API_KEYS, "").split(",") if k.strip()]
    return list(dict.fromkeys(keys))


def _open_catalog(catalog: Any) -> tuple[Any, bool, str | None]:
    """(the backend, whether it was opened here, its specification for the search processes)."""
    if isinstance(catalog, (str, Path)):
        from ..backends.registry import open_backend, scheme_of

        spec = str(catalog)
        if scheme_of(spec) is None and not Path(spec).exists():
            raise AuroraXCoreError(
                f"catalog {spec!r} does not exist; build one with `aurorax-core catalog build-demo` "
                "or pass --catalog PATH"
            )
        return open_backend(spec, build_demo_if_missing=False), True, spec
    return catalog, False, None


def _server(app: Any, sockets: list[Any]) -> tornado.httpserver.HTTPServer:
    server = tornado.httpserver.HTTPServer(
        app,
        max_body_size=HARD_BODY_LIMIT,
        idle_connection_timeout=60,
        body_timeout=60,
    )
    server.add_sockets(sockets)
    return server


def serve_in_thread(
    catalog: Any, port: int = 0, *, host: str = "127.0.0.1", **app_options: Any
) -> tuple[str, Callable[[], None]]:
    """Start the server in a daemon thread; return its base URL and a ``stop()`` function.

    ``catalog`` is a catalog path (opened here, closed by ``stop``) or an open CatalogBackend.
    ``app_options`` go to :func:`make_app` (api_keys, result_ttl, workers, ...).

    Raises:
        AuroraXCoreError: the catalog path does not exist.
        OSError: the port cannot be bound.
    """
    backend, owned, spec = _open_catalog(catalog)
    sockets = tornado.netutil.bind_sockets(port, host)
    actual_port = sockets[0].getsockname()[1]
    try:
        app = make_app(backend, **{"spec": spec, **app_options})
    except BaseException:
        for sock in sockets:
            sock.close()
        if owned:
            backend.close()
        raise
    state = app.settings["aurorax_state"]
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        holder["loop"] = loop
        holder["server"] = _server(app, sockets)
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=f"aurorax-server-{actual_port}", daemon=True)
    thread.start()
    ready.wait()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        loop = holder["loop"]

        async def shutdown() -> None:
            holder["server"].stop()
            await holder["server"].close_all_connections()

        fut = asyncio.run_coroutine_threadsafe(shutdown(), loop)
        try:
            fut.result(timeout=5)
        except Exception:  # shutting down: a stuck connection must not block the caller
            logger.debug("server shutdown did not finish cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        quiet = state.close(wait=5.0)
        if owned and quiet:
            backend.close()

    url_host = f"[{host}]" if ":" in host else host
    return f"http://{url_host}:{actual_port}", stop


def run_server(
    catalog: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
    shutdown_grace: float = 5.0,
    on_stopping: Callable[[], None] | None = None,
    **app_options: Any,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM; ``on_ready(url)`` is called once listening.

    On the signal the server stops accepting connections, lets the requests being answered finish
    for up to ``shutdown_grace`` seconds (new requests on open connections get a 503), then cancels
    every search, ends the search processes (killed if they do not stop at once) and returns.
    ``on_stopping()`` is called as the signal arrives (the CLI arms its exit deadline there).

    Raises:
        AuroraXCoreError: the catalog does not exist or the port cannot be bound.
    """
    backend, owned, spec = _open_catalog(catalog)
    try:
        sockets = tornado.netutil.bind_sockets(port, host)
    except OSError as exc:
        if owned:
            backend.close()
        raise AuroraXCoreError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
    try:
        app = make_app(backend, **{"spec": spec, **app_options})
    except BaseException:
        for sock in sockets:
            sock.close()
        if owned:
            backend.close()
        raise
    state = app.settings["aurorax_state"]
    actual_port = sockets[0].getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    quiet = False

    async def main() -> None:
        nonlocal quiet
        server = _server(app, sockets)
        if on_ready is not None:
            on_ready(f"http://{url_host}:{actual_port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        if on_stopping is not None:
            on_stopping()
        server.stop()  # no new connections
        state.stopping = True  # new requests on open connections: 503
        if not await state.wait_idle(shutdown_grace):
            logger.warning("requests still running after the %g s shutdown grace period; stopping them", shutdown_grace)
        # the searches stop now, their answers (errors) go out, then the connections close
        state.stop_searches()
        await state.wait_idle(0.2)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.close_all_connections(), timeout=0.2)

    try:
        asyncio.run(main())
    finally:
        quiet = state.close(wait=0.5)
        if owned and quiet:
            backend.close()
