"""Thumbnails, previews and movies as ``data:`` URIs, cached across sessions (read-only values).

Wraps the core's thumbnail service. A failed fetch becomes a readable reason, never an exception.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import param

from aurorax_core import DataProduct

from .media import data_uri


@dataclass(frozen=True)
class Media:
    """One rendered image or movie for the page."""

    uri: str | None
    content_type: str = ""
    synthetic: bool = False
    reason: str = ""
    width: int | None = None
    height: int | None = None

    @property
    def ok(self) -> bool:
        return self.uri is not None


class _LRU:
    """A small thread-safe LRU (previews are pure functions of the URL, so sharing is safe)."""

    def __init__(self, max_items: int) -> None:
        self._items: OrderedDict[tuple[str, str], Media] = OrderedDict()
        self._max = max_items
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Media | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: Media) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)


# Process-wide: thumbnails are ~5-20 kB each; previews and movies are bigger, so fewer of them.
_THUMBS = _LRU(4000)
_LARGE = _LRU(64)


def _media(preview: Any, fallback_synthetic: bool) -> Media:
    ok = bool(getattr(preview, "ok", True))
    data = getattr(preview, "data", None)
    content_type = str(getattr(preview, "content_type", "") or "")
    uri = data_uri(data, content_type) if ok else None
    reason = str(getattr(preview, "reason", "") or "")
    if ok and uri is None and not reason:
        reason = f"unsupported preview type {content_type or 'unknown'}"
    return Media(
        uri=uri,
        content_type=content_type,
        synthetic=bool(getattr(preview, "synthetic", fallback_synthetic)),
        reason=reason,
        width=getattr(preview, "width", None),
        height=getattr(preview, "height", None),
    )


class ImageSource(param.Parameterized):
    """Thumbnails/previews/movies for products, via the core's thumbnail service."""

    service = param.Parameter(default=None, doc="An aurorax_core ThumbnailService (or None: no images).")

    def _get(self, kind: str, product: DataProduct, cache: _LRU) -> Media:
        key = (kind, product.url)
        cached = cache.get(key)
        if cached is not None:
            return cached
        if self.service is None:
            return Media(None, reason="no thumbnail service is configured", synthetic=product.is_synthetic)
        try:
            preview = getattr(self.service, kind)(product)
            media = _media(preview, product.is_synthetic)
        except Exception as exc:  # a broken preview must never break the page
            media = Media(None, reason=str(exc) or type(exc).__name__, synthetic=product.is_synthetic)
        if media.ok:
            # Failures are not cached: the server may come back.
            cache.put(key, media)
        return media

    def thumbnail(self, product: DataProduct) -> Media:
        return self._get("thumbnail", product, _THUMBS)

    def cached_thumbnail(self, product: DataProduct) -> str | None:
        """The thumbnail's data: URI when it is already in memory, else None (never renders)."""
        media = _THUMBS.get(("thumbnail", product.url))
        return media.uri if media is not None else None

    def thumbnails(self, products: Sequence[DataProduct]) -> list[str | None]:
        """Thumbnail data: URIs (None where none could be made), in order."""
        return [self.thumbnail(p).uri for p in products]

    def cached_preview(self, product: DataProduct) -> Media | None:
        """The preview when it is already in memory, else None (never renders or fetches)."""
        return _LARGE.get(("preview", product.url))

    def preview(self, product: DataProduct) -> Media:
        return self._get("preview", product, _LARGE)

    def movie(self, product: DataProduct) -> Media:
        return self._get("movie", product, _LARGE)
