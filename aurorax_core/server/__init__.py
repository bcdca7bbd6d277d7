"""An AuroraX-compatible HTTP API over the embedded catalog (pyaurorax and aurorax-cli talk to it).

Run it::

    aurorax-core --catalog catalog.sqlite serve --port 8080 --api-key SECRET

then ``PyAuroraX(api_base_url="http://127.0.0.1:8080")``, ``aurorax-cli --api-base-url=http://127.0.0.1:8080``
or ``aurorax-core --api-url http://127.0.0.1:8080 ...``. In Python: ``make_app(catalog, ...)`` builds the
tornado application, ``serve_in_thread(path)`` runs it in the background and returns
``(base_url, stop)`` (tests, the dashboard), ``run_server(path)`` runs it in the foreground.

Behaviour worth knowing (PROTOCOL.md §12 is the checklist it follows):

* searches run in a bounded thread pool (``workers``) or in worker processes (``search_processes``);
  a submission waits up to ``submit_wait`` seconds for a quick search so the client's first status
  poll already finds the data; the deadline (``search_timeout``) and a cancel stop a search where it
  runs (``workers.py``);
* finished requests and their encoded results live in a bounded registry: at most ``max_requests``
  requests and ``max_result_bytes`` of results (256 MB; ``serve --result-memory``), each kept
  ``result_ttl`` seconds; results on their way to a client count against the same memory, and a
  result larger than it is refused on both search routes;
* writes (upload/delete of data products, data-source add/update/delete, admin request listing)
  need an ``x-aurorax-api-key`` the operator configured (``--api-key`` or AURORAX_SERVER_API_KEYS):
  401 without one, 403 with another; a backend without the WritableCatalog ability answers 405;
* bad input gets a 4xx AuroraX error document ``{"error_code", "error_message"}``; bodies over
  ``max_body_bytes`` (10 MB), or query bodies over MAX_QUERY_BYTES (64 kB), get a 413 without
  being kept in memory;
* ``run_server`` stops on SIGINT/SIGTERM after a ``shutdown_grace`` for the answers in flight.
"""

from .app import REQUIRED_ABILITIES, check_servable, make_app
from .registry import CANCEL_LOG, RequestRegistry, SearchEntry
from .runner import ENV_SERVER_API_KEYS, api_keys_from_env, run_server, serve_in_thread
from .state import ServerState

__all__ = [
    "CANCEL_LOG",
    "ENV_SERVER_API_KEYS",
    "REQUIRED_ABILITIES",
    "RequestRegistry",
    "SearchEntry",
    "ServerState",
    "api_keys_from_env",
    "check_servable",
    "make_app",
    "run_server",
    "serve_in_thread",
]
