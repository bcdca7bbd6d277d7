"""Reporting the stages of a search the way the AuroraX tools print them."""

from __future__ import annotations

import logging
from typing import Any

from .events import ProgressCallback, SearchEvent

logger = logging.getLogger("aurorax_core.search")


def natural_size(num_bytes: float) -> str:
    """Decimal size like humanize.naturalsize (what pyaurorax prints): '419.9 kB'."""
    if num_bytes < 1000:
        return f"{int(num_bytes)} Bytes" if num_bytes != 1 else "1 Byte"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        num_bytes /= 1000.0
        if num_bytes < 1000 or unit == "PB":
            return f"{num_bytes:.1f} {unit}"
    raise AssertionError("unreachable")


def emit(
    progress: ProgressCallback | None,
    stage: str,
    message: str,
    request_id: str | None = None,
    **detail: Any,
) -> None:
    """Log a search stage and pass it to the caller's progress callback, if any."""
    event = SearchEvent(stage=stage, message=message, request_id=request_id, detail=detail)
    logger.info(message)
    if progress is not None:
        progress(event)
