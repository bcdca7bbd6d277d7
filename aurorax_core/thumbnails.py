"""Thumbnails and previews for data products, from a size-bounded disk cache keyed by URL.

``ThumbnailService`` gives, for any :class:`~aurorax_core.models.DataProduct`:

* ``thumbnail(product)``: a small JPEG (about 240 px wide) for tables and grids;
* ``preview(product)``: the full-size image (a poster frame for movies);
* ``movie(product)``: the playable movie bytes (movies only).

Each returns a :class:`Preview`. A product with no preview (refused URL, 404, timeout, HTML served
as an image, truncated file, file too large ...) gives a Preview with ``data=None`` and ``reason``
saying why in plain words; these faults never raise.

Where the bytes come from:

* demo records (``product.is_synthetic``) are rendered by :mod:`aurorax_core.demo.render`, never
  fetched, and are flagged ``synthetic=True``;
* ``file:`` URLs and plain paths are read only below the configured ``local_roots``
  (``AURORAX_LOCAL_ROOTS``, paths separated by ``os.pathsep``); anything else is refused;
* ``http(s)`` URLs are fetched only from allowed hosts (default ``data.phys.ucalgary.ca`` and
  ``data.swarm-aurora.com``; ``AURORAX_ALLOWED_HOSTS`` adds comma-separated entries such as
  ``example.org``, ``example.org:8443``, ``example.org:*`` or ``127.0.0.1:8000``), with connect,
  read and total timeouts, a size limit, a content-type check, every redirect hop re-validated,
  and loopback/private/link-local addresses refused (also when a public name resolves to one)
  unless the address itself is listed or ``AURORAX_ALLOW_PRIVATE_ADDRESSES=1``. An entry without
  a port allows the standard port of the scheme (80/443) only. See :mod:`aurorax_core._fetch`.

Concurrent requests for the same product and kind (many threads or dashboard sessions) share one
fetch/render; the others wait for its result. Fetch failures are remembered for
``failure_ttl`` seconds so that a grid redrawn every few seconds does not hammer a failing server.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from . import config
from ._fetch import (
    DEFAULT_ALLOWED_HOSTS,
    ENV_ALLOW_PRIVATE,
    ENV_ALLOWED_HOSTS,
    TOO_LARGE,
    FetchConfigError,
    FetchPolicy,
    HostRule,
    env_flag,
    parse_host_rules,
)
from ._flights import FailureMemo, SingleFlight
from ._images import (
    MAX_IMAGE_PIXELS,
    SAFE_IMAGE_FORMATS,
    THUMBNAIL_MAX_HEIGHT,
    THUMBNAIL_WIDTH,
    NoPreview,
    cached_entry_problem,
    make_thumbnail,
    poster_frame,
    sniff_movie,
    verified_image,
)
from ._sources import ENV_LOCAL_ROOTS, IMAGE_ACCEPT, VIDEO_ACCEPT, PreviewSources
from ._thumbcache import CacheEntry, DiskCache, cache_key
from .errors import AuroraXCoreError, PreviewUnavailable
from .models import DataProduct

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "ENV_ALLOWED_HOSTS",
    "ENV_ALLOW_PRIVATE",
    "ENV_LOCAL_ROOTS",
    "MAX_IMAGE_PIXELS",
    "SAFE_IMAGE_FORMATS",
    "THUMBNAIL_MAX_HEIGHT",
    "THUMBNAIL_WIDTH",
    "Preview",
    "ThumbnailConfigError",
    "ThumbnailService",
]

logger = logging.getLogger("aurorax_core.thumbnails")

DEFAULT_MAX_CACHE_BYTES: Final = 512 * 1024 * 1024
DEFAULT_MAX_DOWNLOAD_BYTES: Final = 25_000_000
DEFAULT_POSTER_PREFIX_BYTES: Final = 8_000_000

Kind = Literal["thumbnail", "preview", "movie"]
KINDS: Final[tuple[str, ...]] = ("thumbnail", "preview", "movie")


class ThumbnailConfigError(AuroraXCoreError, ValueError):
    """The thumbnail service was configured with a value it cannot use (bad host entry, timeout ...)."""


@dataclass(frozen=True, slots=True)
class Preview:
    """A thumbnail, preview image or movie for one data product, or the reason there is none.

    Attributes:
        data: the bytes (JPEG/PNG/... or MP4), or None when there is no preview.
        content_type: e.g. ``image/jpeg`` or ``video/mp4`` (None when there is no preview).
        width, height: pixel size, when known.
        synthetic: True for demo records: the picture is generated, not real data.
        source: ``"demo"`` (rendered), ``"file"``, ``"http"`` or ``"cache"`` (served from the disk cache).
        reason: why there is no preview, in words for a person (None when there is one).
        url: the product URL this preview belongs to.
        kind: ``"thumbnail"``, ``"preview"`` or ``"movie"``.
    """

    data: bytes | None = field(repr=False)
    content_type: str | None
    width: int | None
    height: int | None
    synthetic: bool
    source: str
    reason: str | None = None
    url: str = ""
    kind: str = "thumbnail"

    @property
    def ok(self) -> bool:
        """True when there is something to show."""
        return self.data is not None and self.reason is None

    @property
    def size(self) -> int:
        """Size of ``data`` in bytes (0 when there is none)."""
        return 0 if self.data is None else len(self.data)

    def data_uri(self) -> str | None:
        """``data:<type>;base64,...`` for embedding in HTML, or None when there is no preview."""
        if not self.ok or self.data is None or not self.content_type:
            return None
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def _env_list(name: str, separator: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(separator) if item.strip()]


def _positive(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ThumbnailConfigError(f"{name} must be a number of seconds/bytes, got {value!r}") from None
    if not number > 0:
        raise ThumbnailConfigError(f"{name} must be greater than 0, got {value!r}")
    return number


class ThumbnailService:
    """Thumbnails, previews and movies for data products, with a bounded disk cache.

    Args:
        cache_dir: where entries live (default ``<user cache dir>/thumbnails``, see
            :func:`aurorax_core.config.user_cache_dir`; ``AURORAX_CACHE_DIR`` moves it).
        allowed_hosts: hosts http(s) previews may be fetched from (``host``, ``host:port``,
            ``host:*``); entries of ``AURORAX_ALLOWED_HOSTS`` (comma-separated) are added.
        max_cache_bytes: bound of the disk cache; least recently used entries are evicted.
        max_download_bytes: larger files are not downloaded ("the file is larger than 25 MB").
        connect_timeout, read_timeout, total_timeout: seconds; the total bounds a whole fetch,
            redirects included, however slowly the server drips.
        local_roots: folders under which ``file:`` URLs and plain paths may be read
            (``AURORAX_LOCAL_ROOTS`` adds more).
        allow_private_addresses: allow allowed hosts that resolve to loopback/private/link-local
            addresses (also ``AURORAX_ALLOW_PRIVATE_ADDRESSES=1``). Listing an IP address or
            ``localhost`` itself in ``allowed_hosts`` allows that destination without this.
        failure_ttl: seconds a failed fetch is remembered before it is tried again.
        thumbnail_width: width of thumbnails in pixels.
        poster_prefix_bytes: for a movie larger than ``max_download_bytes``, how much of its
            beginning is downloaded to find the poster frame (the movie itself is not served).

    Raises:
        ThumbnailConfigError: a host entry, timeout or size is not usable.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        allowed_hosts: Iterable[str] | str = DEFAULT_ALLOWED_HOSTS,
        max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = 20.0,
        local_roots: Iterable[str | os.PathLike[str]] = (),
        allow_private_addresses: bool = False,
        failure_ttl: float = 30.0,
        thumbnail_width: int = THUMBNAIL_WIDTH,
        poster_prefix_bytes: int = DEFAULT_POSTER_PREFIX_BYTES,
    ) -> None:
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else config.user_cache_dir() / "thumbnails"
        entries = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts)
        try:
            rules = parse_host_rules([*entries, *_env_list(ENV_ALLOWED_HOSTS, ",")])
        except FetchConfigError as exc:
            raise ThumbnailConfigError(f"{exc} (check allowed_hosts and {ENV_ALLOWED_HOSTS})") from None
        allow_private = bool(allow_private_addresses) or env_flag(ENV_ALLOW_PRIVATE)
        self.policy = FetchPolicy(
            allowed_hosts=rules,
            allow_private_addresses=allow_private,
            connect_timeout=_positive("connect_timeout", connect_timeout),
            read_timeout=_positive("read_timeout", read_timeout),
            total_timeout=_positive("total_timeout", total_timeout),
            max_bytes=int(_positive("max_download_bytes", max_download_bytes)),
        )
        roots = [*local_roots, *_env_list(ENV_LOCAL_ROOTS, os.pathsep)]
        self.local_roots: tuple[str, ...] = tuple(dict.fromkeys(os.path.realpath(os.fspath(r)) for r in roots))
        self.failure_ttl = max(0.0, float(failure_ttl))
        self.thumbnail_width = int(_positive("thumbnail_width", thumbnail_width))
        self.poster_prefix_bytes = int(_positive("poster_prefix_bytes", poster_prefix_bytes))
        self._cache = DiskCache(self.cache_dir, int(_positive("max_cache_bytes", max_cache_bytes)))
        self._sources = PreviewSources(self.policy, self.local_roots, self.poster_prefix_bytes)
        self._flights = SingleFlight()
        self._failures: FailureMemo[Preview] = FailureMemo(self.failure_ttl)

    # -- public API ---------------------------------------------------------------------------

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """The effective allowlist (arguments plus ``AURORAX_ALLOWED_HOSTS``), as strings."""
        return tuple(str(rule) for rule in self.policy.allowed_hosts)

    @property
    def host_rules(self) -> tuple[HostRule, ...]:
        return self.policy.allowed_hosts

    def thumbnail(self, product: DataProduct) -> Preview:
        """A small JPEG (about 240 px wide) for tables and grids; never raises for fetch faults.

        Raises:
            TypeError: ``product`` is not a DataProduct.
        """
        return self._get(product, "thumbnail")

    def preview(self, product: DataProduct) -> Preview:
        """The full-size image (for movies: the first frame); never raises for fetch faults.

        Raises:
            TypeError: ``product`` is not a DataProduct.
        """
        return self._get(product, "preview")

    def movie(self, product: DataProduct) -> Preview:
        """The playable movie (``video/*`` bytes) of a movie record; never raises for fetch faults.

        Raises:
            TypeError: ``product`` is not a DataProduct.
        """
        return self._get(product, "movie")

    def get(self, product: DataProduct, kind: str) -> Preview:
        """``thumbnail``/``preview``/``movie`` by name.

        Raises:
            TypeError: ``product`` is not a DataProduct.
            ValueError: unknown ``kind``.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return self._get(product, kind)

    def thumbnails(
        self, products: Iterable[DataProduct], max_workers: int = 6, *, kind: str = "thumbnail"
    ) -> list[Preview]:
        """Thumbnails (or ``kind``) for many products, fetched/rendered in parallel; order preserved.

        Raises:
            TypeError: an item is not a DataProduct.
            ValueError: unknown ``kind``.
        """
        return self.prefetch(products, kinds=(kind,), max_workers=max_workers)

    def prefetch(
        self,
        products: Iterable[DataProduct],
        *,
        kinds: Sequence[str] = ("thumbnail",),
        max_workers: int = 6,
        on_done: Callable[[Preview], None] | None = None,
    ) -> list[Preview]:
        """Warm the cache: one Preview per (product, kind), product-major, in input order.

        ``on_done`` is called in the calling thread as each one finishes (cache hits first), e.g. to
        advance a progress bar.

        Raises:
            TypeError: an item is not a DataProduct.
            ValueError: unknown kind or ``max_workers`` < 1.
        """
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        jobs = [(p, k) for p in products for k in kinds]
        for product, _kind in jobs:
            _check_product(product)
        results: list[Preview | None] = [None] * len(jobs)
        misses: list[int] = []
        # Warm entries are answered right here: no thread hand-off for the common case.
        for index, (product, kind) in enumerate(jobs):
            hit = self._from_cache(product, kind)
            if hit is None:
                misses.append(index)
            else:
                results[index] = hit
                if on_done is not None:
                    on_done(hit)
        if len(misses) == 1 or (misses and max_workers == 1):
            for index in misses:
                results[index] = self._get(*jobs[index])
                if on_done is not None:
                    on_done(results[index])  # type: ignore[arg-type]
        elif misses:
            with ThreadPoolExecutor(max_workers=min(max_workers, len(misses)), thread_name_prefix="thumbs") as pool:
                futures = {pool.submit(self._get, *jobs[i]): i for i in misses}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    if on_done is not None:
                        on_done(results[futures[future]])  # type: ignore[arg-type]
        return [r for r in results if r is not None]

    def cache_info(self) -> dict[str, Any]:
        """Where the cache is, how many entries and bytes it holds, and its bound."""
        return {
            "cache_dir": str(self.cache_dir),
            "entries": self._cache.entry_count(),
            "bytes": self._cache.total_bytes(),
            "max_bytes": self._cache.max_bytes,
            "writable": self._cache.writable,
        }

    def clear_cache(self) -> int:
        """Delete every cached entry (and forget remembered failures); return how many were deleted."""
        self._failures.clear()
        return self._cache.clear()

    def require(self, preview: Preview) -> Preview:
        """Return ``preview`` if it is ok.

        Raises:
            PreviewUnavailable: with the preview's reason.
        """
        if not preview.ok:
            raise PreviewUnavailable(f"no {preview.kind} for {preview.url}: {preview.reason}")
        return preview

    # -- internals ----------------------------------------------------------------------------

    def _from_cache(self, product: DataProduct, kind: str) -> Preview | None:
        origin = self._sources.origin(product)
        key = cache_key(kind, origin, product.url)
        entry = self._cache.read(key, product.url)
        if entry is None:
            return None
        problem = cached_entry_problem(entry)
        if problem is not None:
            logger.warning("thumbnail cache entry for %s is unusable (%s); rebuilding it", product.url, problem)
            self._cache.discard(key, entry.stamp)
            return None
        return Preview(
            entry.data,
            entry.content_type,
            entry.width,
            entry.height,
            product.is_synthetic,
            "cache",
            None,
            product.url,
            kind,
        )

    def _get(self, product: DataProduct, kind: str) -> Preview:
        _check_product(product)
        hit = self._from_cache(product, kind)
        if hit is not None:
            return hit
        origin = self._sources.origin(product)
        key = cache_key(kind, origin, product.url)
        remembered = self._failures.get(key)
        if remembered is not None:
            return remembered
        return self._flights.run(key, lambda: self._build(product, kind, origin, key))

    def _build(self, product: DataProduct, kind: str, origin: str, key: str) -> Preview:
        # Another thread may have finished this key between our cache miss and taking the flight.
        hit = self._from_cache(product, kind)
        if hit is not None:
            return hit
        try:
            entry = self._produce(product, kind, origin)
        except NoPreview as exc:
            failed = Preview(None, None, None, None, product.is_synthetic, origin, exc.reason, product.url, kind)
            logger.info("no %s for %s: %s", kind, product.url, exc.reason)
            if not exc.refused:
                self._failures.put(key, failed)
            return failed
        stored = CacheEntry(entry.data, entry.content_type, entry.width, entry.height, product.url, origin)
        self._cache.write(key, stored)
        return Preview(
            entry.data,
            entry.content_type,
            entry.width,
            entry.height,
            product.is_synthetic,
            origin,
            None,
            product.url,
            kind,
        )

    def _produce(self, product: DataProduct, kind: str, origin: str) -> CacheEntry:
        is_movie = product.data_product_type == "movie"
        if kind == "movie" and not is_movie:
            raise NoPreview(
                f"this record is a {product.data_product_type.replace('_', ' ')}, not a movie", refused=True
            )
        if origin == "demo":
            return self._sources.render_demo(product, kind)
        if kind == "thumbnail":
            full = self._get(product, "preview")
            if not full.ok or full.data is None:
                raise NoPreview(full.reason or "no preview")
            return make_thumbnail(full.data, self.thumbnail_width)
        if kind == "movie":
            data = self._sources.load(product, origin, VIDEO_ACCEPT)
            content_type = sniff_movie(data)
            if content_type is None:
                raise NoPreview("the file is not a movie in a supported format (MP4, WebM, MPEG or AVI)")
            return CacheEntry(data, content_type, None, None, "", "")
        if is_movie:
            movie = self._get(product, "movie")
            if movie.ok and movie.data is not None:
                return poster_frame(movie.data, self.policy.total_timeout)
            if movie.reason and movie.reason.startswith(TOO_LARGE):
                # Real movies are often far larger than the download limit; a movie written for
                # streaming keeps its index at the front, so its first megabytes hold a frame.
                return self._sources.poster_from_prefix(product, origin, movie.reason)
            raise NoPreview(movie.reason or "no movie")
        return verified_image(self._sources.load(product, origin, IMAGE_ACCEPT))


def _check_product(product: object) -> None:
    if not isinstance(product, DataProduct):
        raise TypeError(f"expected a DataProduct, got {type(product).__name__}")
