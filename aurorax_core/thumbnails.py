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
import io
import logging
import os
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit
from urllib.request import url2pathname

from . import config
from ._fetch import (
    DEFAULT_ALLOWED_HOSTS,
    ENV_ALLOW_PRIVATE,
    ENV_ALLOWED_HOSTS,
    TOO_LARGE,
    FetchConfigError,
    FetchError,
    FetchPolicy,
    HostRule,
    env_flag,
    fetch,
    format_bytes,
    parse_host_rules,
    too_large_reason,
)
from ._thumbcache import CacheEntry, DiskCache, cache_key
from .errors import AuroraXCoreError, PreviewUnavailable
from .models import DataProduct

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "ENV_ALLOWED_HOSTS",
    "ENV_ALLOW_PRIVATE",
    "ENV_LOCAL_ROOTS",
    "Preview",
    "ThumbnailConfigError",
    "ThumbnailService",
]

logger = logging.getLogger("aurorax_core.thumbnails")

ENV_LOCAL_ROOTS: Final = "AURORAX_LOCAL_ROOTS"
DEFAULT_MAX_CACHE_BYTES: Final = 512 * 1024 * 1024
DEFAULT_MAX_DOWNLOAD_BYTES: Final = 25_000_000
DEFAULT_POSTER_PREFIX_BYTES: Final = 8_000_000
THUMBNAIL_WIDTH: Final = 240
THUMBNAIL_MAX_HEIGHT: Final = 360
# Decompression-bomb guard, checked per image before decoding (instead of changing Pillow's
# process-wide Image.MAX_IMAGE_PIXELS under other code's feet): a 25 MB JPEG of real auroral data
# is far below this, a tiny file claiming 100k x 100k pixels is refused.
MAX_IMAGE_PIXELS: Final = 50_000_000
# Only these decoders ever see downloaded bytes: they cover every real preview format and keep
# Pillow's riskier plugins (EPS runs Ghostscript, for one) out of reach.
SAFE_IMAGE_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP")
_FORMAT_MIME: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
_IMAGE_ACCEPT: Final = ("image/*", "application/octet-stream", "binary/octet-stream")
_VIDEO_ACCEPT: Final = ("video/*", "application/mp4", "application/octet-stream", "binary/octet-stream")
_MAX_FAILURES_REMEMBERED: Final = 4096
# What the cache may hand out: the images we verify or render, and the movie containers we sniff
# or render (the demo renderer falls back to animated WebP when ffmpeg is missing).
_SERVABLE_TYPES: Final = frozenset(
    {*_FORMAT_MIME.values(), "video/mp4", "video/webm", "video/mpeg", "video/quicktime", "video/x-msvideo"}
)

Kind = Literal["thumbnail", "preview", "movie"]
KINDS: Final[tuple[str, ...]] = ("thumbnail", "preview", "movie")
T = TypeVar("T")


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


class _NoPreview(Exception):
    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


class _SingleFlight:
    """Per-key de-duplication: while one caller computes a key, other callers wait for its result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Future[Any]] = {}

    def run(self, key: str, fn: Callable[[], T]) -> T:
        with self._lock:
            future = self._calls.get(key)
            leader = future is None
            if future is None:
                future = Future()
                self._calls[key] = future
        if not leader:
            return future.result()
        try:
            result = fn()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._lock:
                self._calls.pop(key, None)


# -- images -----------------------------------------------------------------------------------


def _open_image(data: bytes) -> Any:
    """Open (not yet decode) an image of a safe format, refusing decompression bombs."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=SAFE_IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _NoPreview(
            f"the image is too large to decode safely (more than {MAX_IMAGE_PIXELS / 1e6:g} million pixels)"
        ) from None
    except UnidentifiedImageError:
        raise _NoPreview("the file is not an image in a supported format (JPEG, PNG, GIF or WebP)") from None
    except Exception:
        # Pillow raises many exception types on malformed headers (SyntaxError, struct.error ...);
        # for untrusted bytes they all mean the same thing.
        raise _NoPreview("the image is truncated or corrupt") from None
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > MAX_IMAGE_PIXELS:
        raise _NoPreview(f"the image is too large to decode safely ({width}×{height} pixels)")
    return image


def _decode_fully(image: Any) -> None:
    """Decode every pixel: this is what detects a truncated or corrupt file."""
    try:
        image.load()
    except Exception:
        raise _NoPreview("the image is truncated or corrupt") from None


def _verified_image(data: bytes) -> CacheEntry:
    """The original bytes, after checking that they decode completely; type from the bytes themselves."""
    image = _open_image(data)
    _decode_fully(image)
    return CacheEntry(data, _FORMAT_MIME[image.format], image.size[0], image.size[1], "", "")


def _make_thumbnail(data: bytes, width: int = THUMBNAIL_WIDTH, max_height: int = THUMBNAIL_MAX_HEIGHT) -> CacheEntry:
    """A JPEG at most ``width`` x ``max_height`` px (aspect kept, never enlarged)."""
    from PIL import Image

    image = _open_image(data)
    src_w, src_h = image.size
    scale = min(width / src_w, max_height / src_h, 1.0)
    size = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
    if image.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: much faster, and it still reads the whole
        # stream, so truncation is still detected.
        image.draft("L" if image.mode == "L" else "RGB", size)
    _decode_fully(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode not in ("RGB", "L"):
        image = image.convert("L" if image.mode in ("1", "I", "I;16", "F") else "RGB")
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return CacheEntry(out.getvalue(), "image/jpeg", size[0], size[1], "", "")


def _sniff_movie(data: bytes) -> str | None:
    """The media type of movie bytes, from their magic numbers (None if not a known container)."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if data.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video/mpeg"
    if data.startswith(b"RIFF") and data[8:12] == b"AVI ":
        return "video/x-msvideo"
    return None


def _poster_frame(movie: bytes, timeout: float) -> CacheEntry:
    """The first frame of a movie as a JPEG, decoded by ffmpeg (imageio-ffmpeg)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise _NoPreview(
            "poster frames of movies need the imageio-ffmpeg package (pip install imageio-ffmpeg)"
        ) from None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise _NoPreview(f"ffmpeg is not available for poster frames ({exc})") from None
    with tempfile.TemporaryDirectory(prefix="aurorax-poster-") as tmp:
        path = os.path.join(tmp, "movie.bin")
        with open(path, "wb") as fh:
            fh.write(movie)
        command = [
            exe,
            "-nostdin",
            "-v",
            "error",
            # Untrusted input: ffmpeg may only read this one local file (a crafted playlist must
            # not make it open URLs or other files) and only parse ordinary movie containers.
            "-protocol_whitelist",
            "file",
            "-format_whitelist",
            "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpeg,mpegts,avi",
            "-i",
            path,
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-vcodec",
            "mjpeg",
            "-q:v",
            "3",
            "pipe:1",
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise _NoPreview(f"extracting the poster frame took longer than {timeout:g} s") from None
        except OSError as exc:
            raise _NoPreview(f"cannot run ffmpeg for the poster frame ({exc})") from None
    if done.returncode != 0 or not done.stdout:
        raise _NoPreview("the movie is truncated or corrupt (no frame could be decoded)")
    return _verified_image(done.stdout)


# -- the service ------------------------------------------------------------------------------


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
        self._flights = _SingleFlight()
        self._failures: dict[str, tuple[float, Preview]] = {}
        self._failures_lock = threading.Lock()

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
        with self._failures_lock:
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

    @staticmethod
    def _origin(product: DataProduct) -> str:
        if product.is_synthetic:
            return "demo"
        url = product.url.strip()
        scheme = urlsplit(url).scheme.lower() if "://" in url or url.lower().startswith("file:") else ""
        if scheme == "file" or (not scheme and (url.startswith(("/", "~", ".")) or os.path.isabs(url))):
            return "file"
        return "http"

    def _from_cache(self, product: DataProduct, kind: str) -> Preview | None:
        origin = self._origin(product)
        key = cache_key(kind, origin, product.url)
        entry = self._cache.read(key, product.url)
        if entry is None:
            return None
        problem = _cached_entry_problem(entry)
        if problem is not None:
            logger.warning("thumbnail cache entry for %s is unusable (%s); rebuilding it", product.url, problem)
            self._cache.discard(key)
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
        origin = self._origin(product)
        key = cache_key(kind, origin, product.url)
        remembered = self._remembered_failure(key)
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
        except _NoPreview as exc:
            failed = Preview(None, None, None, None, product.is_synthetic, origin, exc.reason, product.url, kind)
            logger.info("no %s for %s: %s", kind, product.url, exc.reason)
            if not exc.refused:
                self._remember_failure(key, failed)
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
            raise _NoPreview(
                f"this record is a {product.data_product_type.replace('_', ' ')}, not a movie", refused=True
            )
        if origin == "demo":
            return self._render_demo(product, kind)
        if kind == "thumbnail":
            full = self._get(product, "preview")
            if not full.ok or full.data is None:
                raise _NoPreview(full.reason or "no preview")
            return _make_thumbnail(full.data, self.thumbnail_width)
        if kind == "movie":
            data = self._load(product, origin, _VIDEO_ACCEPT)
            content_type = _sniff_movie(data)
            if content_type is None:
                raise _NoPreview("the file is not a movie in a supported format (MP4, WebM, MPEG or AVI)")
            return CacheEntry(data, content_type, None, None, "", "")
        if is_movie:
            movie = self._get(product, "movie")
            if movie.ok and movie.data is not None:
                return _poster_frame(movie.data, self.policy.total_timeout)
            if movie.reason and movie.reason.startswith(TOO_LARGE):
                # Real movies are often far larger than the download limit; a movie written for
                # streaming keeps its index at the front, so its first megabytes hold a frame.
                return self._poster_from_prefix(product, origin, movie.reason)
            raise _NoPreview(movie.reason or "no movie")
        return _verified_image(self._load(product, origin, _IMAGE_ACCEPT))

    def _poster_from_prefix(self, product: DataProduct, origin: str, too_large: str) -> CacheEntry:
        size = self.poster_prefix_bytes
        if origin == "file":
            head = self._read_local(product.url, prefix=size)
        else:
            try:
                head = fetch(product.url, self.policy, accept=_VIDEO_ACCEPT, prefix=size).data
            except FetchError as exc:
                raise _NoPreview(exc.reason, refused=exc.refused) from None
        if _sniff_movie(head) is None:
            raise _NoPreview("the file is not a movie in a supported format (MP4, WebM, MPEG or AVI)")
        try:
            return _poster_frame(head, self.policy.total_timeout)
        except _NoPreview:
            raise _NoPreview(
                f"{too_large}, and no frame could be decoded from its first {format_bytes(size)}"
            ) from None

    def _render_demo(self, product: DataProduct, kind: str) -> CacheEntry:
        try:
            from .demo import render
        except ImportError as exc:
            raise _NoPreview(f"the demo renderer is not available ({exc})") from None
        try:
            if kind == "movie":
                movie = render.render_movie(product)
                return CacheEntry(movie.data, movie.content_type, movie.width, movie.height, "", "")
            image = render.render_preview(product, size="full" if kind == "preview" else "thumbnail")
        except AuroraXCoreError as exc:
            # the renderer's RenderError: a demo record whose fields cannot be drawn
            raise _NoPreview(f"the demo preview cannot be rendered: {exc}") from None
        except Exception as exc:
            # A defect in the renderer must cost one picture, not a whole page of thumbnails or the
            # dashboard session: log it with its traceback and report it as the reason.
            logger.exception("the demo renderer failed on %s", product.url)
            raise _NoPreview(f"the demo renderer failed ({type(exc).__name__}: {exc})") from None
        return CacheEntry(image.data, image.content_type, image.width, image.height, "", "")

    def _load(self, product: DataProduct, origin: str, accept: Sequence[str]) -> bytes:
        if origin == "file":
            return self._read_local(product.url)
        try:
            return fetch(product.url, self.policy, accept=accept).data
        except FetchError as exc:
            raise _NoPreview(exc.reason, refused=exc.refused) from None

    def _read_local(self, url: str, *, prefix: int | None = None) -> bytes:
        """Read a local file, only below a configured root, only a regular file, size-limited.

        ``prefix``: read only the first ``prefix`` bytes (no size limit then).
        """
        text = url.strip()
        if text.lower().startswith("file:"):
            parts = urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise _NoPreview(f"file URLs on another host ({parts.netloc!r}) are not read", refused=True)
            path = url2pathname(parts.path)
        else:
            path = os.path.expanduser(text)
        if not self.local_roots:
            raise _NoPreview(
                "local files are not read unless their folder is allowed: pass local_roots=[...] "
                f"or set {ENV_LOCAL_ROOTS}",
                refused=True,
            )
        if "\x00" in path or not os.path.isabs(path):
            raise _NoPreview(f"{path!r} is not an absolute file path", refused=True)
        # realpath resolves '..' and symlinks, so neither can lead outside the allowed folders.
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.local_roots):
            raise _NoPreview(
                f"the file {path!r} is outside the allowed folders ({', '.join(self.local_roots)}); "
                f"add its folder to local_roots or {ENV_LOCAL_ROOTS}",
                refused=True,
            )
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            raise _NoPreview(f"the file {path!r} does not exist") from None
        except OSError as exc:
            raise _NoPreview(f"cannot open the file {path!r} ({exc.strerror})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise _NoPreview(f"{path!r} is not a regular file", refused=True)
        with os.fdopen(fd, "rb") as fh:
            if prefix is not None:
                return fh.read(prefix)
            if info.st_size > self.policy.max_bytes:
                raise _NoPreview(too_large_reason(self.policy.max_bytes))
            data = fh.read(self.policy.max_bytes + 1)
        if len(data) > self.policy.max_bytes:
            raise _NoPreview(too_large_reason(self.policy.max_bytes))
        return data

    def _remembered_failure(self, key: str) -> Preview | None:
        with self._failures_lock:
            item = self._failures.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._failures[key]
                return None
            return item[1]

    def _remember_failure(self, key: str, preview: Preview) -> None:
        if self.failure_ttl <= 0:
            return
        with self._failures_lock:
            if len(self._failures) >= _MAX_FAILURES_REMEMBERED:
                self._failures.clear()
            self._failures[key] = (time.monotonic() + self.failure_ttl, preview)


def _cached_entry_problem(entry: CacheEntry) -> str | None:
    """Why a checksum-valid entry still must not be served (None if it may).

    The checksum catches damage; this catches an entry that is whole but wrong (written by a
    different version, or planted): only known media types are served, and an image must open
    with one of the safe decoders at the size its header claims. Opening parses headers only, so
    a warm hit stays well under a millisecond.
    """
    if entry.content_type not in _SERVABLE_TYPES:
        return f"content type {entry.content_type!r} is not served"
    if entry.content_type.startswith("image/"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(entry.data), formats=SAFE_IMAGE_FORMATS) as image:
                size = image.size
        except Exception:
            # any failure to parse cached bytes means the same: rebuild the entry
            return "the image does not open"
        if entry.width is not None and size != (entry.width, entry.height):
            return f"the image is {size[0]}x{size[1]}, the entry says {entry.width}x{entry.height}"
    return None


def _check_product(product: object) -> None:
    if not isinstance(product, DataProduct):
        raise TypeError(f"expected a DataProduct, got {type(product).__name__}")
