"""``/health`` for processes that are not ``aurorax-core serve``: the dashboard's Panel servers.

``panel serve dashboard --plugins aurorax_core.server.health`` adds :data:`ROUTES` to the Panel
(tornado) server: ``GET /health`` answers 200 while the catalog the dashboard opens by default
(``AURORAX_CATALOG``; a path or a ``postgresql://`` URL) answers, else 503 with the reason, so a
balancer or systemd watchdog takes the process out of rotation. Only tornado and aurorax_core:
nothing here imports Panel.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import tornado.web

from ..backends.base import ConnectivityCheck
from ..errors import AuroraXCoreError

TIMEOUT_S: Final = 5.0
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aurorax-health")
_lock = threading.Lock()
_backend: Any = None


def _check() -> str:
    """Open the catalog once per process (read-only), then prove it answers; returns its name."""
    global _backend
    from ..backends.registry import open_backend
    from ..config import default_catalog_path

    with _lock:
        if _backend is None:
            spec = os.environ.get("AURORAX_CATALOG", "").strip()
            _backend = open_backend(spec if "://" in spec else default_catalog_path(), readonly=True)
        backend = _backend
    if isinstance(backend, ConnectivityCheck):
        backend.check_connectivity()
    else:
        backend.list_sources()
    return str(getattr(backend, "name", ""))


class CatalogHealthHandler(tornado.web.RequestHandler):
    """``GET /health``: 200 ``{"status": "ok"}`` when the catalog answers, 503 with the reason."""

    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        try:
            name = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(_pool, _check), TIMEOUT_S)
        except TimeoutError:
            self._answer(503, {"status": "unavailable", "reason": f"the catalog did not answer within {TIMEOUT_S:g} s"})
            return
        except (AuroraXCoreError, OSError) as exc:
            self._answer(503, {"status": "unavailable", "reason": str(exc)})
            return
        self._answer(200, {"status": "ok", "catalog": name})

    def _answer(self, status: int, document: dict[str, str]) -> None:
        self.set_status(status)
        self.finish(json.dumps(document))


ROUTES: Final = [(r"/health", CatalogHealthHandler, {})]
