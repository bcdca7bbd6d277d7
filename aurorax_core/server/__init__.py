"""An AuroraX-compatible HTTP API over the embedded catalog (pyaurorax and aurorax-cli talk to it).

``make_app(catalog, ...)`` builds the tornado application, ``serve_in_thread(path)`` runs it in the
background (tests, the dashboard), ``run_server(path)`` in the foreground (``aurorax-core serve``).
"""

from .app import ServerState, encode_products, make_app
from .registry import CANCEL_LOG, RequestRegistry, SearchEntry
from .runner import ENV_SERVER_API_KEYS, api_keys_from_env, run_server, serve_in_thread

__all__ = [
    "CANCEL_LOG",
    "ENV_SERVER_API_KEYS",
    "RequestRegistry",
    "SearchEntry",
    "ServerState",
    "api_keys_from_env",
    "encode_products",
    "make_app",
    "run_server",
    "serve_in_thread",
]
