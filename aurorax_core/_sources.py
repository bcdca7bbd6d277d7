"""Where preview bytes come from: the demo renderer, allowed local folders, or allowlisted HTTP.

Each path has its own rules and reasons to change: demo records are rendered, never fetched;
local files are read only below configured roots; http(s) goes through :mod:`aurorax_core._fetch`
(allowlist, timeouts, size and type limits). Failures are :class:`~aurorax_core._images.NoPreview`.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ._fetch import FetchError, FetchPolicy, fetch, format_bytes, too_large_reason
from ._images import NoPreview, poster_frame, sniff_movie
from ._thumbcache import CacheEntry
from .errors import AuroraXCoreError
from .models import DataProduct

logger = logging.getLogger("aurorax_core.thumbnails")

ENV_LOCAL_ROOTS: Final = "AURORAX_LOCAL_ROOTS"
IMAGE_ACCEPT: Final = ("image/*", "application/octet-stream", "binary/octet-stream")
VIDEO_ACCEPT: Final = ("video/*", "application/mp4", "application/octet-stream", "binary/octet-stream")


class PreviewSources:
    """Reads, fetches or renders the original bytes of a product (no caching, no resizing).

    Args:
        policy: what HTTP may fetch (hosts, addresses, timeouts, size).
        local_roots: resolved folders under which local files may be read.
        poster_prefix_bytes: how much of a too-large movie is read to find its poster frame.
    """

    def __init__(self, policy: FetchPolicy, local_roots: tuple[str, ...], poster_prefix_bytes: int) -> None:
        self.policy = policy
        self.local_roots = local_roots
        self.poster_prefix_bytes = poster_prefix_bytes

    @staticmethod
    def origin(product: DataProduct) -> str:
        """``demo``, ``file`` or ``http``: where the bytes of this product come from."""
        if product.is_synthetic:
            return "demo"
        url = product.url.strip()
        scheme = urlsplit(url).scheme.lower() if "://" in url or url.lower().startswith("file:") else ""
        if scheme == "file" or (not scheme and (url.startswith(("/", "~", ".")) or os.path.isabs(url))):
            return "file"
        return "http"

    def poster_from_prefix(self, product: DataProduct, origin: str, too_large: str) -> CacheEntry:
        size = self.poster_prefix_bytes
        if origin == "file":
            head = self.read_local(product.url, prefix=size)
        else:
            try:
                head = fetch(product.url, self.policy, accept=VIDEO_ACCEPT, prefix=size).data
            except FetchError as exc:
                raise NoPreview(exc.reason, refused=exc.refused) from None
        if sniff_movie(head) is None:
            raise NoPreview("the file is not a movie in a supported format (MP4, WebM, MPEG or AVI)")
        try:
            return poster_frame(head, self.policy.total_timeout)
        except NoPreview:
            raise NoPreview(f"{too_large}, and no frame could be decoded from its first {format_bytes(size)}") from None

    def render_demo(self, product: DataProduct, kind: str) -> CacheEntry:
        try:
            from .demo import render
        except ImportError as exc:
            raise NoPreview(f"the demo renderer is not available ({exc})") from None
        try:
            if kind == "movie":
                movie = render.render_movie(product)
                return CacheEntry(movie.data, movie.content_type, movie.width, movie.height, "", "")
            image = render.render_preview(product, size="full" if kind == "preview" else "thumbnail")
        except AuroraXCoreError as exc:
            # the renderer's RenderError: a demo record whose fields cannot be drawn
            raise NoPreview(f"the demo preview cannot be rendered: {exc}") from None
        except Exception as exc:
            # A defect in the renderer must cost one picture, not a whole page of thumbnails or the
            # dashboard session: log it with its traceback and report it as the reason.
            logger.exception("the demo renderer failed on %s", product.url)
            raise NoPreview(f"the demo renderer failed ({type(exc).__name__}: {exc})") from None
        return CacheEntry(image.data, image.content_type, image.width, image.height, "", "")

    def load(self, product: DataProduct, origin: str, accept: Sequence[str]) -> bytes:
        if origin == "file":
            return self.read_local(product.url)
        try:
            return fetch(product.url, self.policy, accept=accept).data
        except FetchError as exc:
            raise NoPreview(exc.reason, refused=exc.refused) from None

    def read_local(self, url: str, *, prefix: int | None = None) -> bytes:
        """Read a local file, only below a configured root, only a regular file, size-limited.

        ``prefix``: read only the first ``prefix`` bytes (no size limit then).
        """
        text = url.strip()
        if text.lower().startswith("file:"):
            parts = urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise NoPreview(f"file URLs on another host ({parts.netloc!r}) are not read", refused=True)
            path = url2pathname(parts.path)
        else:
            path = os.path.expanduser(text)
        if not self.local_roots:
            raise NoPreview(
                "local files are not read unless their folder is allowed: pass local_roots=[...] "
                f"or set {ENV_LOCAL_ROOTS}",
                refused=True,
            )
        if "\x00" in path or not os.path.isabs(path):
            raise NoPreview(f"{path!r} is not an absolute file path", refused=True)
        # realpath resolves '..' and symlinks, so neither can lead outside the allowed folders.
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.local_roots):
            raise NoPreview(
                f"the file {path!r} is outside the allowed folders ({', '.join(self.local_roots)}); "
                f"add its folder to local_roots or {ENV_LOCAL_ROOTS}",
                refused=True,
            )
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            raise NoPreview(f"the file {path!r} does not exist") from None
        except OSError as exc:
            raise NoPreview(f"cannot open the file {path!r} ({exc.strerror})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise NoPreview(f"{path!r} is not a regular file", refused=True)
        with os.fdopen(fd, "rb") as fh:
            if prefix is not None:
                return fh.read(prefix)
            if info.st_size > self.policy.max_bytes:
                raise NoPreview(too_large_reason(self.policy.max_bytes))
            data = fh.read(self.policy.max_bytes + 1)
        if len(data) > self.policy.max_bytes:
            raise NoPreview(too_large_reason(self.policy.max_bytes))
        return data
