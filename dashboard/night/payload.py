"""What the browser component receives: rows with their images, the axis, the movies (no Panel).

Images come from the dashboard's thumbnail/preview service (anything with ``preview``,
``thumbnail`` and ``movie`` returning :class:`dashboard.images.Media`); the rows' keograms are
fetched and sent in steps by :mod:`dashboard.night.keograms`. A fetch that fails becomes a labelled
placeholder in its row, never an error for the page.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

from aurorax_core import DataProduct

from ..images import Media
from .geometry import TimeWindow, hour_ticks
from .keograms import POOL, PreviewService, keogram_alt, rows_payload
from .stack import NightStack, imaging_span

__all__ = ["PreviewService", "axis_payload", "keogram_alt", "movies_payload", "rows_payload"]

_FRAMES: dict[str, int | None] = {}
_FRAMES_LOCK = threading.Lock()


def axis_payload(window: TimeWindow) -> dict[str, Any]:
    ticks = hour_ticks(window, 1)
    if window.kind == "local" and window.longitude is not None:
        lon = window.longitude
        where = f"{abs(lon):.1f}° {'W' if lon < 0 else 'E'}"
        top_title = f"LST {where}"
    else:
        top_title = "UT"
    return {
        "start_ms": int(window.start.timestamp() * 1000),
        "seconds": window.seconds,
        "ticks": [{"f": t.fraction, "top": t.top, "bottom": t.bottom} for t in ticks],
        "top_title": top_title,
        "bottom_title": "UT",
    }


def frame_count(product: DataProduct, uri: str) -> int | None:
    """Frames in a movie (ffmpeg counts them once per URL); None when it cannot tell."""
    with _FRAMES_LOCK:
        if product.url in _FRAMES:
            return _FRAMES[product.url]
    count: int | None = None
    try:
        import imageio_ffmpeg

        data = base64.b64decode(uri.split(",", 1)[1])
        fd, path = tempfile.mkstemp(suffix=".movie")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            count = int(imageio_ffmpeg.count_frames_and_secs(path)[0]) or None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
    except Exception:  # no ffmpeg or an odd file: the movie still plays, frames spread by time
        count = None
    with _FRAMES_LOCK:
        _FRAMES[product.url] = count
    return count


def movies_payload(stack: NightStack, codes: Sequence[str], images: PreviewService | None) -> list[dict[str, Any]]:
    """The chosen sites' movies with their imaging span in seconds from the window's start."""

    def one(code: str) -> dict[str, Any]:
        row = stack.row(code)
        product = stack.movies.get(code)
        name = row.name if row else code
        title = f"{code} {name} · {stack.instrument}"
        if product is None:
            return {"code": code, "title": title, "src": "", "t0": 0, "t1": 0, "frames": None,
                    "reason": f"no {stack.instrument} movie for {code} this night"}  # fmt: skip
        start, end = imaging_span(product)
        shown = product.data_source.display_name or product.data_source.instrument_type
        title = f"{code} {name} · {shown}"
        if product.data_source.instrument_type != stack.instrument:
            title += f" (no {stack.instrument} movie)"
        try:
            media = images.movie(product) if images is not None else Media(None, reason="no preview service")
        except Exception as exc:
            media = Media(None, reason=str(exc) or type(exc).__name__)
        if media.uri is None or not media.uri.startswith("data:video/"):
            reason = media.reason or "not a playable movie"
            return {"code": code, "title": title, "src": "", "t0": 0, "t1": 0, "frames": None,
                    "reason": f"movie unavailable: {reason}"}  # fmt: skip
        return {
            "code": code,
            "title": title,
            "synthetic": product.is_synthetic,
            "src": media.uri,
            "t0": stack.window.offset(start),
            "t1": stack.window.offset(end),
            "frames": frame_count(product, media.uri),
            "reason": "",
        }

    return list(POOL.map(one, list(codes)))
