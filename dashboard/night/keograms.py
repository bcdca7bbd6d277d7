"""The stack's keogram images, sent as they become ready (no Panel).

Rendering or fetching 20 full-size keograms the first time takes about a second; their thumbnails a
tenth of that. So a night is sent in steps: the rows with whatever images are ready within a short
wait (every image, when they were produced before), then the rest as they arrive, in batches. Where
a keogram's full image was never produced in this process, its thumbnail is asked for first: the
row shows something at once, and the full 720-column image (one column per two minutes, the
keogram standard) replaces it. Hourly stand-ins are thumbnails only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from aurorax_core import DataProduct

from ..images import Media
from .stack import NightStack, Placed, Row

# One pool for the process: the CPU work (rendering, decoding) shares two cores with everything else.
POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="night-images")
FIRST_WAIT = 0.25  # s: images ready within this go with the rows; the rest follow
BATCH_INTERVAL = 0.1  # s: at most one update of the rows per interval while images arrive
_SEEN_MAX = 20_000


class PreviewService(Protocol):
    def preview(self, product: DataProduct) -> Media: ...
    def thumbnail(self, product: DataProduct) -> Media: ...
    def movie(self, product: DataProduct) -> Media: ...


class _Seen:
    """URLs whose full image this process produced (so asking again is a cache read, not a render)."""

    def __init__(self) -> None:
        self._urls: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, url: object) -> bool:
        with self._lock:
            return url in self._urls

    def add(self, url: str) -> None:
        with self._lock:
            self._urls[url] = None
            self._urls.move_to_end(url)
            while len(self._urls) > _SEEN_MAX:
                self._urls.popitem(last=False)


FULL_SEEN = _Seen()


def keogram_alt(row: Row, placed: Placed, stack: NightStack) -> str:
    kind = "Hourly keogram" if placed.hourly else "Daily keogram"
    p = placed.product
    when = p.start.strftime("%Y-%m-%d %H:00 UT") if placed.hourly else f"UT day {p.start.date().isoformat()}"
    prefix = "Synthetic demo " + kind.lower() if p.is_synthetic else kind
    name = p.data_source.display_name or row.code
    return f"{prefix}, {name} ({row.name}), {stack.instrument}, night of {stack.night.isoformat()}, {when}"


def _latitude(row: Row) -> str:
    if row.location is None:
        return "lat ?"
    return f"{row.location.latitude:.1f}°N · {row.location.magnetic_latitude:.0f}° mlat"


def _fetch(images: PreviewService | None, product: DataProduct, kind: str) -> Media:
    if images is None:
        return Media(None, reason="no preview service is configured")
    try:
        media = images.thumbnail(product) if kind == "thumbnail" else images.preview(product)
    except Exception as exc:  # one broken keogram must not cost the night
        return Media(None, reason=str(exc) or type(exc).__name__)
    if kind == "preview" and media.ok:
        FULL_SEEN.add(product.url)
    return media


class StackImages:
    """The images of one stack, being fetched; ``payload()`` is the rows as they can be shown now.

    Args:
        stack: the night's rows.
        images: the preview service (None: every keogram is a labelled placeholder).
    """

    def __init__(self, stack: NightStack, images: PreviewService | None) -> None:
        self.stack = stack
        self._jobs = [(r, placed) for r, row in enumerate(stack.rows) for placed in row.keograms]
        self._quick: list[Future[Media] | None] = []
        self._final: list[Future[Media]] = []
        final_later: list[tuple[int, Placed]] = []
        for i, (_r, placed) in enumerate(self._jobs):
            if placed.hourly or images is None or placed.product.url in FULL_SEEN:
                self._quick.append(None)
                kind = "thumbnail" if placed.hourly else "preview"
                self._final.append(POOL.submit(_fetch, images, placed.product, kind))
            else:
                self._quick.append(POOL.submit(_fetch, images, placed.product, "thumbnail"))
                self._final.append(Future())  # replaced below: full images queue behind every thumbnail
                final_later.append((i, placed))
        for i, placed in final_later:
            self._final[i] = POOL.submit(_fetch, images, placed.product, "preview")
        self._futures = [f for pair in zip(self._quick, self._final, strict=True) for f in pair if f is not None]
        self._sent_done = 0

    def _shown(self, i: int) -> tuple[Media | None, bool]:
        """(what row image i shows now, whether that is final)."""
        final = self._final[i]
        if final.done():
            media = final.result()
            if media.ok or self._quick[i] is None:
                return media, True
            quick = self._quick[i]
            if quick is not None and quick.done() and quick.result().ok:
                return quick.result(), True  # the full image failed; its thumbnail is better than nothing
            return media, quick is None or quick.done()
        quick = self._quick[i]
        if quick is not None and quick.done() and quick.result().ok:
            return quick.result(), False
        return None, False

    @property
    def complete(self) -> bool:
        return all(f.done() for f in self._final)

    def payload(self) -> list[dict[str, Any]]:
        """One dict per row; an image not ready yet is ``{"src": "", "loading": True, ...}``."""
        # Counted first: whatever finishes while this is built is sent again by ``updates``.
        self._sent_done = sum(f.done() for f in self._futures)
        stack = self.stack
        out: list[dict[str, Any]] = []
        for row in stack.rows:
            note = "" if row.keograms else f"no {stack.instrument} keogram this night"
            if row.status == "hourly":
                note = "hourly keograms (no daily one)"
            out.append({"code": row.code, "name": row.name, "lat": _latitude(row), "status": row.status,
                        "note": note, "images": []})  # fmt: skip
        for i, (r, placed) in enumerate(self._jobs):
            alt = keogram_alt(stack.rows[r], placed, stack)
            media, final = self._shown(i)
            entry: dict[str, Any] = {"left": placed.left, "width": placed.width, "hourly": placed.hourly, "alt": alt}
            if media is None or (not media.ok and not final):
                entry.update(src="", loading=True, note=f"{stack.rows[r].code}: loading the keogram …")
            elif media.ok:
                entry.update(src=media.uri or "", loading=False, note="")
            else:
                reason = media.reason or "unknown reason"
                entry.update(src="", loading=False, alt=f"{alt}: could not be shown ({reason})",
                             note=f"{stack.rows[r].code}: keogram unavailable — {reason}")  # fmt: skip
            out[r]["images"].append(entry)
        return out

    def first(self, timeout: float = FIRST_WAIT) -> list[dict[str, Any]]:
        """The rows after waiting up to ``timeout`` s for every row to have an image."""
        firsts = [q if q is not None else f for q, f in zip(self._quick, self._final, strict=True)]
        wait(firsts, timeout=timeout)
        return self.payload()

    def updates(self, interval: float = BATCH_INTERVAL) -> Iterator[list[dict[str, Any]]]:
        """The rows again each time more images are ready (at most once per ``interval``), until all are."""
        while self._sent_done < len(self._futures):
            pending = [f for f in self._futures if not f.done()]
            if pending:
                wait(pending, return_when=FIRST_COMPLETED)
                deadline = time.monotonic() + interval
                while time.monotonic() < deadline and not all(f.done() for f in pending):
                    wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            yield self.payload()

    def cancel(self) -> None:
        """Drop the fetches not started yet (a newer night was asked for)."""
        for f in self._futures:
            f.cancel()


def rows_payload(stack: NightStack, images: PreviewService | None) -> list[dict[str, Any]]:
    """Every row with its final images (waits for all of them)."""
    loading = StackImages(stack, images)
    wait(loading._futures)
    return loading.payload()
