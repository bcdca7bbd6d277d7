"""The preview of the selected product: full-size image or movie player, metadata, original link."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from aurorax_core import DataProduct, format_time

from ..images import Media
from ..media import alt_text, esc, img_html, link_html, product_title
from ..state.browse import time_axis
from .base import SessionView
from .basket_controls import PreviewBasketButton
from .player import MoviePlayer
from .preview_keys import PreviewKeys
from .style import html


def metadata_html(product: DataProduct) -> str:
    """The record's fields and metadata as an escaped definition table."""
    source = product.data_source
    rows: list[tuple[str, Any]] = [
        ("Display name", source.display_name),
        ("Program", source.program),
        ("Platform", source.platform),
        ("Instrument type", source.instrument_type),
        ("Product type", product.data_product_type),
        ("Start (UTC)", format_time(product.start)),
        ("End (UTC)", format_time(product.end)),
    ]
    for key, value in sorted(product.metadata.items()):
        rows.append((key, value if isinstance(value, str) else json.dumps(value)))
    body = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="ax-meta"><caption>Record metadata</caption>{body}</table>'


def synthetic_badge(synthetic: bool) -> str:
    if not synthetic:
        return ""
    return (
        '<p class="ax-badge" role="note"><strong>Synthetic demo preview</strong> — rendered by the demo archive, '
        "not real auroral data.</p>"
    )


def keogram_axis_html(product: DataProduct) -> str:
    """A UT axis for a keogram image spanning the record's start..end, and what white columns mean.

    The ticks sit under the image at the hours' positions (the image's width is the time span).
    """
    ticks = "".join(
        f'<span class="ax-tick" style="left:{left}%"><span class="ax-tick-label">{esc(label)}</span></span>'
        for left, label in time_axis(product.start, product.end)
    )
    span = f"{format_time(product.start).replace('T', ' ')} – {format_time(product.end).replace('T', ' ')}"
    return (
        f'<div class="ax-axis" role="img" aria-label="Time axis: {esc(span)} UTC">{ticks}</div>'
        f'<p class="ax-axis-title">Time (UT hours), {esc(span)} UTC. '
        '<span class="ax-nodata-key" aria-hidden="true"></span> white columns: no data</p>'
    )


class ScrollIntoView(JSComponent):
    """Scrolls the preview into view when ``token`` changes and it is off-screen (e.g. when the
    window is narrow and the preview sits below the table)."""

    token = param.Integer(default=0)

    _esm = """
export function render({ model, el }) {
  el.style.height = "1px";
  model.on("token", () => {
    // After the preview has been laid out (it is made visible in the same update).
    setTimeout(() => {
      const box = el.getBoundingClientRect();
      if (box.top < 0 || box.top > window.innerHeight - 200) {
        el.scrollIntoView({ block: "start" });
      }
    }, 150);
  });
}
"""


class ProductPreview(SessionView):
    """Shows ``results.selected`` beside the results; previous/next, keys, "Open this night".

    ``open_night(product)`` is set by the app: it shows the Night tab for the product's night and source.
    """

    def __init__(self, open_night: Callable[[DataProduct], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.open_night = open_night
        self._header = html("", sizing_mode="stretch_width")
        self._image = html("", sizing_mode="stretch_width", visible=False, css_classes=["ax-preview-image"])
        self.player = MoviePlayer(visible=False, sizing_mode="stretch_width")
        self._meta = html("", sizing_mode="stretch_width")
        results = self.session.results
        self._previous = pn.widgets.Button(label="◀ Previous (k)", description="The previous product (k or ↑)")
        self._next = pn.widgets.Button(label="Next (j) ▶", description="The next product (j or ↓)")
        self._night = pn.widgets.Button(
            label="Open this night", description="Every site's keogram of this product's night (Night tab)"
        )
        self._close = pn.widgets.Button(label="Close (Esc)", description="Close the preview")
        self._previous.on_click(lambda _e: results.step(-1))
        self._next.on_click(lambda _e: results.step(1))
        self._close.on_click(lambda _e: setattr(results, "selected_index", None))
        self._night.on_click(lambda _e: self._open_night())
        self.keys = PreviewKeys(height=0, width=0, margin=0)
        self.keys.on_msg(self._on_key)
        self._previews = self.session.runner.lane()
        self._prefetch = self.session.runner.lane()
        self._scroll = ScrollIntoView(height=1, sizing_mode="stretch_width", margin=0)
        self._layout = pn.Column(
            self._scroll,
            pn.FlexBox(
                self._previous,
                self._next,
                self._night,
                PreviewBasketButton(session=self.session),
                self._close,
                gap="4px",
            ),
            self._header,
            self._image,
            self.player,
            self._meta,
            visible=False,
            css_classes=["ax-preview"],
            sizing_mode="stretch_width",
            # Beside the results: about 45 % of the main area (a movie gets >= 640 px at 1920 px),
            # but the table keeps 560 px for name, type, sub-type and start (at 1280 px the preview
            # gets the rest, >= 320 px); below them only when the window is narrower than that.
            # Sticky: the preview stays in view while the results scroll under it.
            styles={
                "flex": "0 1 clamp(320px, min(45%, 100% - 560px), 960px)",
                "min-width": "0",
                "position": "sticky",
                "top": "0",
                "max-height": "100vh",
                "overflow-y": "auto",
            },
            margin=(0, 0, 0, 16),
        )
        self._on_selected()

    def _on_key(self, event: Any) -> None:
        msg = getattr(event, "data", event)
        action = msg.get("action") if isinstance(msg, dict) else None
        results = self.session.results
        if action == "next":
            results.step(1)
        elif action == "previous":
            results.step(-1)
        elif action == "close":
            results.selected_index = None

    def _open_night(self) -> None:
        product = self.session.results.selected
        if product is not None and self.open_night is not None:
            self.open_night(product)

    def _title_html(self, product: DataProduct, synthetic: bool) -> str:
        place = self.session.results.position()
        where = f'<p class="ax-dim" aria-live="polite">{place[0]:,} of {place[1]:,} in the results</p>' if place else ""
        return (
            f'<h2 class="ax-h" id="ax-preview-title">{esc(product_title(product))}</h2>{where}'
            f"{synthetic_badge(synthetic)}"
            f'<p class="ax-original">Original: {link_html(product.url)}</p>'
        )

    @param.depends("session.results.selected_index", "session.results.result", watch=True)
    def _on_selected(self) -> None:
        product = self.session.results.selected
        self._previews.reset()
        self.keys.open = product is not None
        if product is None:
            self._layout.visible = False
            self.player.param.update(src="", frames=[], visible=False)
            return
        self._layout.visible = True
        self._scroll.token += 1
        place = self.session.results.position()
        self._previous.disabled = place is None or place[0] <= 1
        self._next.disabled = place is None or place[0] >= place[1]
        self._night.visible = self.open_night is not None
        self._header.object = self._title_html(product, product.is_synthetic)
        self._meta.object = metadata_html(product)
        images = self.session.images
        if images is None:
            self._show(product, Media(None, reason="no thumbnail service"), None)
            return
        self._prefetch_neighbours()
        cached = images.cached_preview(product)
        if cached is not None and product.data_product_type != "movie":
            # Warm: shown in this same update, no thread and no extra round trip (j/k stays quick).
            self._show(product, cached, None)
            return
        self._image.object = '<p class="ax-dim" role="status">Loading preview…</p>'
        self._image.visible = True
        self.player.param.update(src="", frames=[], visible=False)

        def work() -> tuple[Media, Media | None]:
            media = images.preview(product)
            movie = images.movie(product) if product.data_product_type == "movie" else None
            return media, movie

        self._previews.submit(work, lambda answer: self._show(product, *answer))

    def _prefetch_neighbours(self) -> None:
        """Render the next and previous products' previews in the background, so j/k finds them warm."""
        results = self.session.results
        images = self.session.images
        place = results.position()
        if place is None or images is None or results.result is None:
            return
        order, at = results.view_indices, place[0] - 1
        neighbours = [results.result.data[order[i]] for i in (at + 1, at - 1) if 0 <= i < len(order)]

        def work() -> None:
            for product in neighbours:
                images.preview(product)

        self._prefetch.submit(work, lambda _answer: None)

    def _show(self, product: DataProduct, media: Media, movie: Media | None) -> None:
        label = alt_text(product)
        synthetic = media.synthetic or (movie.synthetic if movie else False) or product.is_synthetic
        self._header.object = self._title_html(product, synthetic)
        player: dict[str, Any] = {"src": "", "frames": [], "visible": False}
        if movie is not None and movie.ok:
            frames = list(getattr(movie, "frames", []) or [])
            if movie.content_type.startswith("video/"):
                player = {"src": movie.uri or "", "frames": [], "label": label, "visible": True}
            elif frames:
                player = {"src": "", "frames": frames, "label": label, "visible": True}
        self.player.param.update(**player)
        if player["visible"]:
            # The player shows the movie; its first frame (the still preview) would only repeat it.
            self._image.object = ""
        elif media.ok:
            image = img_html(media.uri, label, css_class="ax-full")
            if product.data_product_type == "keogram":
                image = f'<figure class="ax-keogram">{image}{keogram_axis_html(product)}</figure>'
            self._image.object = image
        else:
            reason = media.reason or "unknown reason"
            self._image.object = (
                '<div class="ax-alert ax-alert-warn" role="alert"><strong>No preview available</strong>'
                f"<p>The preview could not be fetched: {esc(reason)}. The original may still open via the link.</p>"
                "</div>"
            )
        self._image.visible = bool(self._image.object)

    def __panel__(self) -> pn.viewable.Viewable:
        # ``keys`` is placed by the app (it must be on the page while the preview is closed).
        return self._layout
