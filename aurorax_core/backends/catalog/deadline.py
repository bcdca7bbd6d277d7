"""When a running search stops: its cancel token and its deadline."""

from __future__ import annotations

import time

from ...errors import SearchCancelled, SearchTimeout
from ...events import CancelToken


def _check_stop(cancel: CancelToken | None, deadline: float | None, timeout: float | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise SearchCancelled("the search was cancelled")
    if deadline is not None and time.perf_counter() > deadline:
        raise SearchTimeout(
            f"the search did not complete within {timeout:g} s; narrow the query (fewer sources or a shorter "
            "time range) or allow a longer timeout"
        )
