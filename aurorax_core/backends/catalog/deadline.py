"""When a running search stops: its cancel token and its deadline."""

from __future__ import annotations

import time
from typing import Final

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


# Work between two stop checks, in units of one filter-value comparison (~0.3-0.5 us each): a
# few milliseconds, so a cancel or a deadline is seen within ~100 ms of row work whatever the
# query's filter costs per row.
WORK_PER_CHECK: Final = 16_384
MAX_ROWS_PER_CHECK: Final = 4096


def rows_per_check(cost: int) -> int:
    """How many rows to process between stop checks when each row costs ``cost`` comparisons
    (plus one unit for decoding it)."""
    return max(1, min(MAX_ROWS_PER_CHECK, WORK_PER_CHECK // (1 + max(0, cost))))
