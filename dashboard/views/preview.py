"""The preview of the selected product: full-size image or movie player, metadata, original link."""

from __future__ import annotations

import json
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from aurorax_core import DataProduct, format_time

from ..images import Media
from ..media import alt_text, esc, img_html, link_html, product_title
from .base import SessionView
from .basket_controls import PreviewBasketButton
from .player import MoviePlayer
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
    """Shows ``results.selected``; fetches its preview off the event loop."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._header = html("", sizing_mode="stretch_width")
        self._image = html("", sizing_mode="stretch_width", visible=False, css_classes=["ax-preview-image"])
        self.player = MoviePlayer(visible=False, sizing_mode="stretch_width", max_width=900)
        self._meta = html("", sizing_mode="stretch_width")
        self._close = pn.widgets.Button(label="Close preview", width=130, description="Close the preview")
        self._close.on_click(lambda _e: setattr(self.session.results, "selected_index", None))
        self._previews = self.session.runner.lane()
        self._scroll = ScrollIntoView(height=1, sizing_mode="stretch_width", margin=0)
        self._layout = pn.Column(
            self._scroll,
            self._header,
            self._image,
            self.player,
            self._meta,
            pn.Row(PreviewBasketButton(session=self.session), self._close),
            visible=False,
            css_classes=["ax-preview"],
            sizing_mode="stretch_width",
            # In the app's wrapping row: beside the table when there is room for both (the table
            # keeps >= 600 px, the preview takes about a third), else below it at full width.
            styles={"flex": "0.6 1 380px", "min-width": "0"},
            margin=(0, 0, 0, 16),
        )
        self._on_selected()

    @param.depends("session.results.selected_index", "session.results.result", watch=True)
    def _on_selected(self) -> None:
        product = self.session.results.selected
        self._previews.reset()
        if product is None:
            self._layout.visible = False
            self.player.param.update(src="", frames=[], visible=False)
            return
        self._layout.visible = True
        self._scroll.token += 1
        self._header.object = (
            f'<h2 class="ax-h" id="ax-preview-title">{esc(product_title(product))}</h2>'
            f"{synthetic_badge(product.is_synthetic)}"
            f"<p>Original: {link_html(product.url)}</p>"
        )
        self._meta.object = metadata_html(product)
        self._image.object = '<p class="ax-dim" role="status">Loading preview…</p>'
        self._image.visible = True
        self.player.param.update(src="", frames=[], visible=False)
        images = self.session.images
        if images is None:
            self._show(product, Media(None, reason="no thumbnail service"), None)
            return

        def work() -> tuple[Media, Media | None]:
            media = images.preview(product)
            movie = images.movie(product) if product.data_product_type == "movie" else None
            return media, movie

        self._previews.submit(work, lambda answer: self._show(product, *answer))

    def _show(self, product: DataProduct, media: Media, movie: Media | None) -> None:
        label = alt_text(product)
        synthetic = media.synthetic or (movie.synthetic if movie else False) or product.is_synthetic
        self._header.object = (
            f'<h2 class="ax-h" id="ax-preview-title">{esc(product_title(product))}</h2>'
            f"{synthetic_badge(synthetic)}"
            f"<p>Original: {link_html(product.url)}</p>"
        )
        if movie is not None and movie.ok:
            frames = list(getattr(movie, "frames", []) or [])
            if movie.content_type.startswith("video/"):
                self.player.param.update(src=movie.uri or "", frames=[], label=label, visible=True)
            elif frames:
                self.player.param.update(src="", frames=frames, label=label, visible=True)
        playing = self.player.visible
        if playing:
            # The player shows the movie; its first frame (the still preview) would only repeat it.
            self._image.object = ""
        elif media.ok:
            self._image.object = img_html(media.uri, label, css_class="ax-full")
        else:
            reason = media.reason or "unknown reason"
            self._image.object = (
                '<div class="ax-alert ax-alert-warn" role="alert"><strong>No preview available</strong>'
                f"<p>The preview could not be fetched: {esc(reason)}. The original may still open via the link.</p>"
                "</div>"
            )
        self._image.visible = bool(self._image.object)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
