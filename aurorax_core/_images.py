"""Image and movie bytes for previews: safe decoding, thumbnails, poster frames, checks of cached entries.

Everything here works on bytes already in hand (downloaded, read or rendered) and raises
:class:`NoPreview` with a reason for a person when they cannot be shown; where the bytes come from
is :mod:`aurorax_core._sources`, how they are cached is :mod:`aurorax_core._thumbcache`.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import warnings
from typing import Any, Final

from ._thumbcache import CacheEntry

THUMBNAIL_WIDTH: Final = 240
THUMBNAIL_MAX_HEIGHT: Final = 360
# Decompression-bomb guard, checked per image before decoding (instead of changing Pillow's
# process-wide Image.MAX_IMAGE_PIXELS under other code's feet): a 25 MB JPEG of real auroral data
# is far below this, a tiny file claiming 100k x 100k pixels is refused.
MAX_IMAGE_PIXELS: Final = 50_000_000
# Only these decoders ever see downloaded bytes: they cover every real preview format and keep
# Pillow's riskier plugins (EPS runs Ghostscript, for one) out of reach.
SAFE_IMAGE_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP")
FORMAT_MIME: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# What the cache may hand out: the images we verify or render, and the movie containers we sniff
# or render (the demo renderer falls back to animated WebP when ffmpeg is missing).
SERVABLE_TYPES: Final = frozenset(
    {*FORMAT_MIME.values(), "video/mp4", "video/webm", "video/mpeg", "video/quicktime", "video/x-msvideo"}
)


class NoPreview(Exception):
    """Why there is no picture, in words for a person; ``refused``: by policy, not worth retrying."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


def open_image(data: bytes) -> Any:
    """Open (not yet decode) an image of a safe format, refusing decompression bombs."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=SAFE_IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NoPreview(
            f"the image is too large to decode safely (more than {MAX_IMAGE_PIXELS / 1e6:g} million pixels)"
        ) from None
    except UnidentifiedImageError:
        raise NoPreview("the file is not an image in a supported format (JPEG, PNG, GIF or WebP)") from None
    except Exception:
        # Pillow raises many exception types on malformed headers (SyntaxError, struct.error ...);
        # for untrusted bytes they all mean the same thing.
        raise NoPreview("the image is truncated or corrupt") from None
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > MAX_IMAGE_PIXELS:
        raise NoPreview(f"the image is too large to decode safely ({width}×{height} pixels)")
    return image


def decode_fully(image: Any) -> None:
    """Decode every pixel: this is what detects a truncated or corrupt file."""
    try:
        image.load()
    except Exception:
        raise NoPreview("the image is truncated or corrupt") from None


def verified_image(data: bytes) -> CacheEntry:
    """The original bytes, after checking that they decode completely; type from the bytes themselves."""
    image = open_image(data)
    decode_fully(image)
    return CacheEntry(data, FORMAT_MIME[image.format], image.size[0], image.size[1], "", "")


def make_thumbnail(data: bytes, width: int = THUMBNAIL_WIDTH, max_height: int = THUMBNAIL_MAX_HEIGHT) -> CacheEntry:
    """A JPEG at most ``width`` x ``max_height`` px (aspect kept, never enlarged)."""
    from PIL import Image

    image = open_image(data)
    src_w, src_h = image.size
    scale = min(width / src_w, max_height / src_h, 1.0)
    size = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
    if image.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: much faster, and it still reads the whole
        # stream, so truncation is still detected.
        image.draft("L" if image.mode == "L" else "RGB", size)
    decode_fully(image)
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


def sniff_movie(data: bytes) -> str | None:
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


def poster_frame(movie: bytes, timeout: float) -> CacheEntry:
    """The first frame of a movie as a JPEG, decoded by ffmpeg (imageio-ffmpeg)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise NoPreview(
            "poster frames of movies need the imageio-ffmpeg package (pip install imageio-ffmpeg)"
        ) from None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise NoPreview(f"ffmpeg is not available for poster frames ({exc})") from None
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
            raise NoPreview(f"extracting the poster frame took longer than {timeout:g} s") from None
        except OSError as exc:
            raise NoPreview(f"cannot run ffmpeg for the poster frame ({exc})") from None
    if done.returncode != 0 or not done.stdout:
        raise NoPreview("the movie is truncated or corrupt (no frame could be decoded)")
    return verified_image(done.stdout)


def cached_entry_problem(entry: CacheEntry) -> str | None:
    """Why a checksum-valid entry still must not be served (None if it may).

    The checksum catches damage; this catches an entry that is whole but wrong (written by a
    different version, or planted): only known media types are served, and an image must open
    with one of the safe decoders at the size its header claims. Opening parses headers only, so
    a warm hit stays well under a millisecond.
    """
    if entry.content_type not in SERVABLE_TYPES:
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
