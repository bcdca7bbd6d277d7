"""``aurorax-core [--catalog PATH] serve``: an AuroraX-compatible API over the embedded catalog."""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from pathlib import Path

from ..errors import AuroraXCoreError

_PASSWORD_RE = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@]*:)[^@]*@", re.IGNORECASE)


def default_search_processes() -> int:
    """One search process per usable CPU, at most 4; none (threads) on a single CPU.

    Processes keep CPU-bound searches off the IO loop's GIL and split a large search across cores
    (a month of one program: ~50 ms in a thread, ~39 ms in two processes); under 50 concurrent
    one-night searches they equal threads. On one CPU they would only add the hand-off.
    """
    try:
        cpus = len(os.sched_getaffinity(0))  # what a container or taskset allows, not the host's
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return min(4, cpus) if cpus >= 2 else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        help="serve the catalog as an AuroraX-compatible API (for pyaurorax, aurorax-cli and --api-url)",
        description=(
            "Serve the embedded catalog over HTTP with the AuroraX API, so that pyaurorax, aurorax-cli "
            "and `aurorax-core --api-url` can search it. Writes (upload/delete of data products, data "
            "source changes) need one of the API keys given with --api-key or AURORAX_SERVER_API_KEYS."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any free port)")
    parser.add_argument(
        "--api-key",
        dest="server_api_keys",
        action="append",
        default=[],
        metavar="KEY",
        help="an API key allowed to write (repeatable; also $AURORAX_SERVER_API_KEYS, comma-separated)",
    )
    parser.add_argument(
        "--result-ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long finished search results are kept (default 3600)",
    )
    parser.add_argument(
        "--result-memory",
        type=int,
        default=256,
        metavar="MB",
        help="most memory kept for finished search results, in MB; the oldest go first, and one larger "
        "than this fails with a message to narrow it (default 256)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        metavar="N",
        help="searches run at once in threads, with --search-processes 0 (default 4)",
    )
    processes = default_search_processes()
    parser.add_argument(
        "--search-processes",
        type=int,
        default=processes,
        metavar="N",
        help="run searches in N worker processes, a large search split across them; 0 runs them in "
        f"threads (default: one per CPU up to 4, here {processes}; 0 on a single CPU)",
    )
    parser.add_argument(
        "--submit-wait",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="how long a search submission may wait for a quick search to finish before answering 202, "
        "so the client's first status poll finds the data (default 0.1; 0 answers at once)",
    )
    parser.add_argument(
        "--search-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="a search still running after this long is stopped where it runs and fails saying so (default 300)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on SIGTERM/Ctrl+C, how long requests being answered may still finish before the searches are "
        "stopped; the process is gone within this plus one second (default 5)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the URL clients reach this server at (e.g. https://aurorax.example.org behind a proxy); "
        "search Locations start with it (default: the address the request came to, never its Host header)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from .. import config
    from ..server import api_keys_from_env, run_server

    if not 0 <= args.port <= 65535:
        raise AuroraXCoreError(f"--port {args.port} is not a port number (0-65535)")
    if args.workers < 1:
        raise AuroraXCoreError(f"--workers must be at least 1, got {args.workers}")
    if args.search_processes < 0:
        raise AuroraXCoreError(f"--search-processes must be 0 or more, got {args.search_processes}")
    if not 0 <= args.submit_wait <= 10:
        raise AuroraXCoreError(f"--submit-wait must be between 0 and 10 seconds, got {args.submit_wait:g}")
    if args.result_ttl <= 0:
        raise AuroraXCoreError(f"--result-ttl must be positive, got {args.result_ttl:g}")
    if args.result_memory < 1:
        raise AuroraXCoreError(f"--result-memory must be at least 1 (MB), got {args.result_memory}")
    if not 0 < args.search_timeout <= 86400:
        raise AuroraXCoreError(f"--search-timeout must be between 0 and 86400 seconds, got {args.search_timeout:g}")
    if not 0 <= args.shutdown_grace <= 3600:
        raise AuroraXCoreError(f"--shutdown-grace must be between 0 and 3600 seconds, got {args.shutdown_grace:g}")
    if args.public_url is not None and not args.public_url.startswith(("http://", "https://")):
        raise AuroraXCoreError(f"--public-url must start with http:// or https://, got {args.public_url!r}")
    from ..backends.registry import scheme_of

    catalog: Path | str = config.catalog_path(args.catalog)
    # AURORAX_CATALOG may name a database too: then no password shows in the process list
    spec = args.catalog or os.environ.get(config.ENV_CATALOG, "").strip()
    if spec and scheme_of(spec) is not None:
        catalog = spec  # another engine's URL (postgresql://...): served if it has what the server needs
    elif not Path(catalog).exists():
        if args.catalog:
            raise AuroraXCoreError(f"catalog {str(catalog)!r} does not exist; check --catalog")
        from ..demo import ensure_demo_catalog

        print(f"Building the demo catalog at {catalog} ...", flush=True)
        ensure_demo_catalog(catalog)
    keys = api_keys_from_env(args.server_api_keys)

    shown = _PASSWORD_RE.sub(r"\1***@", str(catalog))  # a database URL's password never reaches the console

    def announce(url: str) -> None:
        print(f"Serving catalog {shown} as an AuroraX API at {url}")
        print(f'  pyaurorax:    PyAuroraX(api_base_url="{url}")')
        print(f"  aurorax-cli:  aurorax-cli --api-base-url={url} search data_products ...")
        print(f"  aurorax-core: aurorax-core --api-url {url} data_products search ...")
        print(f"  writes: {f'allowed with {len(keys)} API key(s)' if keys else 'disabled (no --api-key)'}")
        print("Press Ctrl+C to stop.", flush=True)

    def exit_deadline() -> None:
        # whatever is still running (a thread inside a catalog call), the process is gone within
        # the grace period plus one second of a stop signal
        timer = threading.Timer(args.shutdown_grace + 0.9, os._exit, (0,))
        timer.daemon = True
        timer.start()

    run_server(
        catalog,
        host=args.host,
        port=args.port,
        on_ready=announce,
        api_keys=keys,
        result_ttl=args.result_ttl,
        max_result_bytes=args.result_memory * 1024 * 1024,
        workers=args.workers,
        search_processes=args.search_processes,
        submit_wait=args.submit_wait,
        search_timeout=args.search_timeout,
        shutdown_grace=args.shutdown_grace,
        public_url=args.public_url,
        on_stopping=exit_deadline,
    )
    print("Server stopped.", file=sys.stderr)
    return 0
