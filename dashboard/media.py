"""Turning records and image bytes into HTML that is safe to put on a page.

Everything from a record (URLs, names, metadata) is escaped; images only ever reach the page as
``data:`` URIs built here from bytes whose type we checked, so a record's URL is never fetched by the
browser and never lands unescaped in an attribute. Links to the original are http(s) only.
"""

from __future__ import annotations

import base64
import html
from typing import Any
from urllib.parse import urlsplit

from aurorax_core import DataProduct, format_time

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/webm"})
# Inline frame for letterboxed images (thumbnails): visible on white and on the dark theme.
FRAME_STYLE = (
    "object-fit:contain",
    "display:block",
    "box-sizing:border-box",
    "border:1px solid #8a8a8a",
    "background:#2b2b2b",
)

_TYPE_NAMES = {
    "keogram": "Keogram",
    "montage": "Montage",
    "movie": "Movie",
    "summary_plot": "Summary plot",
    "data_availability": "Data availability plot",
    "average": "Average image",
    "gridded_data": "Gridded data",
}


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def data_uri(data: bytes | None, content_type: str | None) -> str | None:
    """A ``data:`` URI for image or video bytes of a known type; None for anything else."""
    if not data or not content_type:
        return None
    kind = content_type.split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES and kind not in VIDEO_TYPES:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def is_safe_data_uri(value: str, *, video: bool = False) -> bool:
    """True for the data: URIs :func:`data_uri` makes (the only image sources we put on a page)."""
    allowed = VIDEO_TYPES if video else IMAGE_TYPES
    return any(value.startswith(f"data:{kind};base64,") for kind in allowed)


def http_url(url: Any) -> str | None:
    """The URL when it is an absolute http(s) URL with a host; None otherwise (javascript:, data:, ...)."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    if any(ord(ch) < 0x20 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return text


def link_html(url: Any, text: str | None = None) -> str:
    """An escaped link opening in a new tab, or the URL as inert text when it is not http(s)."""
    safe = http_url(url)
    label = esc(text if text is not None else url)
    if safe is None:
        return f'<span class="ax-inert-url" title="Not an http(s) link; shown as text">{label}</span>'
    return f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer">{label}</a>'


def product_title(product: DataProduct) -> str:
    """'Keogram (daily) — TREx RGB FSMI, 2020-01-01 00:00:00 UTC'."""
    kind = _TYPE_NAMES.get(product.data_product_type, product.data_product_type)
    sub = f" ({product.sub_type})" if product.sub_type else ""
    name = product.data_source.display_name or " ".join(product.data_source.key)
    return f"{kind}{sub} — {name}, {format_time(product.start).replace('T', ' ')} UTC"


def alt_text(product: DataProduct) -> str:
    """Alt text from the record: type, sub-type, source, site and time span."""
    kind = _TYPE_NAMES.get(product.data_product_type, product.data_product_type)
    sub = f" ({product.sub_type})" if product.sub_type else ""
    source = product.data_source
    name = source.display_name or source.instrument_type
    synthetic = "Synthetic demo " if product.is_synthetic else ""
    return (
        f"{synthetic}{kind.lower() if synthetic else kind}{sub} from {name} at {source.platform}, "
        f"{format_time(product.start).replace('T', ' ')} to {format_time(product.end).replace('T', ' ')} UTC"
    )


def img_html(
    uri: str | None, alt: str, *, width: int | None = None, height: int | None = None, css_class: str = ""
) -> str:
    """An <img> for a data: URI made by :func:`data_uri`, or an escaped placeholder.

    With ``width``/``height`` the image is letterboxed into that box, so rows stay even.
    """
    cls = f' class="{esc(css_class)}"' if css_class else ""
    if not uri or not is_safe_data_uri(uri):
        return f'<span{cls} role="img" aria-label="{esc("No thumbnail: " + alt)}">—</span>'
    # Inline limits: the table renders in a shadow root that page-level CSS does not reach.
    limits = []
    if width:
        limits.append(f"width:{int(width)}px")
    if height:
        limits.append(f"height:{int(height)}px")
    # A thin mid-grey frame on a dark-grey backdrop: keograms have white no-data columns (the
    # UCalgary standard) that would otherwise merge with the light theme's white page and look cropped.
    style = f' style="{";".join([*limits, *FRAME_STYLE])}"' if limits else ""
    return f'<img src="{uri}" alt="{esc(alt)}"{style}{cls}>'
