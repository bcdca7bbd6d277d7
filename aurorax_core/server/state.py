"""What every request handler shares: the catalog, the request registry, the searcher, the settings."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from .registry import RequestRegistry
from .shared import SharedRegistry
from .workers import ProcessSearcher, ThreadSearcher

DEFAULT_MAX_BODY_BYTES: Final = 10 * 1024 * 1024


@dataclass
class ServerState:
    """The shared state of one server.

    ``catalog`` has at least the abilities :data:`app.REQUIRED_ABILITIES` names; ``searcher`` runs
    the searches (threads or worker processes); ``active`` counts the requests being answered (the
    shutdown waits for them, up to its grace period).
    """

    catalog: Any
    registry: RequestRegistry | SharedRegistry
    api_keys: frozenset[str]
    searcher: ThreadSearcher | ProcessSearcher
    read_pool: ThreadPoolExecutor
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    submit_wait: float = 0.1
    search_timeout: float = 300.0
    public_url: str | None = None
    writable: bool = False
    started: float = field(default_factory=time.monotonic)
    active: int = 0
    stopping: bool = False
    _idle: asyncio.Event | None = field(default=None, repr=False)

    @property
    def search_processes(self) -> int:
        return self.searcher.processes if isinstance(self.searcher, ProcessSearcher) else 0

    def request_started(self) -> None:
        self.active += 1

    def request_ended(self) -> None:
        self.active -= 1
        if self.active <= 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, grace: float) -> bool:
        """Wait until no request is being answered, at most ``grace`` seconds; True when idle."""
        if self.active <= 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            return False
        return True

    def stop_searches(self) -> None:
        """Cancel every search, pending or running, wherever it runs (the shutdown's first step)."""
        self.stopping = True
        self.registry.cancel_all()
        if isinstance(self.searcher, ProcessSearcher):
            self.searcher.stop_all()

    def close(self, wait: float = 1.0) -> bool:
        """Stop every search and end the search processes and threads within about ``wait`` seconds.

        Returns True when no thread is still inside a catalog call: only then may the caller close
        the catalog (a thread using a closed SQLite connection can crash the process).
        """
        ends = time.monotonic() + wait
        self.stop_searches()
        pools = [self.read_pool]
        if isinstance(self.searcher, ProcessSearcher):
            self.searcher.close(wait)
        else:
            pools.append(self.searcher.pool)
        self.registry.close()
        quiet = True
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
            for thread in list(getattr(pool, "_threads", ())):
                thread.join(max(0.0, ends - time.monotonic()))
                quiet = quiet and not thread.is_alive()
        return quiet
