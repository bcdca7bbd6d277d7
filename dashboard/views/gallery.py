"""A thumbnail grid of the current (filtered, sorted) results, loaded in batches as it scrolls."""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn
import param
from panel.custom import JSComponent

from ..media import alt_text, is_safe_data_uri, product_title
from .base import SessionView
from .basket_controls import toggle_result

BATCH = 24

_ESM = r"""
const okImage = (s) => typeof s === "string" && /^data:image\/(png|jpeg|gif|webp);base64,/.test(s);
export function render({ model, el }) {
  const grid = document.createElement("div");
  grid.className = "ax-grid";
  grid.setAttribute("role", "list");
  grid.setAttribute("aria-label", "Result thumbnails");
  const sentinel = document.createElement("div");
  sentinel.className = "ax-sentinel";
  const more = document.createElement("p");
  more.className = "ax-dim";
  el.append(grid, sentinel, more);
  let rendered = 0;
  function card(item) {
    const li = document.createElement("div");
    li.setAttribute("role", "listitem");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ax-card";
    b.dataset.index = String(item.index);
    b.setAttribute("aria-label", "Open preview: " + item.title);
    if (okImage(item.src)) {
      const img = document.createElement("img");
      img.src = item.src;
      img.alt = item.alt;
      img.decoding = "async";
      b.appendChild(img);
    } else {
      const ph = document.createElement("span");
      ph.className = "ax-noimg";
      ph.setAttribute("role", "img");
      ph.setAttribute("aria-label", "No thumbnail: " + item.alt);
      ph.textContent = "no thumbnail";
      b.appendChild(ph);
    }
    const cap = document.createElement("span");
    cap.className = "ax-caption";
    cap.textContent = item.caption;
    b.appendChild(cap);
    b.addEventListener("click", () => model.send_msg({ select: item.index }));
    li.appendChild(b);
    const add = document.createElement("button");
    add.type = "button";
    add.className = "ax-add";
    add.dataset.index = String(item.index);
    add.addEventListener("click", () => model.send_msg({ basket: item.index }));
    li.appendChild(add);
    mark(add, item.title);
    return li;
  }
  function mark(add, title) {
    const inside = (model.in_basket || []).includes(Number(add.dataset.index));
    add.textContent = inside ? "In basket ✓" : "+ Basket";
    add.setAttribute("aria-pressed", inside ? "true" : "false");
    if (title !== undefined) add.setAttribute("aria-label", "Basket: " + title);
  }
  function sync() {
    const items = model.items || [];
    if (items.length < rendered) { grid.textContent = ""; rendered = 0; }
    for (let i = rendered; i < items.length; i++) grid.appendChild(card(items[i]));
    rendered = items.length;
    more.textContent = model.total > rendered ? ("Showing " + rendered + " of " + model.total + "; scroll for more") :
      (model.total ? ("All " + model.total + " shown") : "No results to show.");
    check();
  }
  function check() {
    const r = sentinel.getBoundingClientRect();
    if ((model.items || []).length < model.total && r.top < (window.innerHeight + 400) && el.offsetParent !== null) {
      model.send_msg({ more: (model.items || []).length });
    }
  }
  const io = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) check();
  }, { rootMargin: "400px" });
  io.observe(sentinel);
  model.on(["items", "total"], sync);
  model.on("in_basket", () => grid.querySelectorAll(".ax-add").forEach((add) => mark(add)));
  model.on("remove", () => io.disconnect());
  sync();
}
"""


class GalleryGrid(JSComponent):
    items = param.List(default=[], doc="Cards: dicts index/src/alt/title/caption (src is a data: URI).")
    total = param.Integer(default=0)
    in_basket = param.List(default=[], doc="Indices of shown cards whose product is in the basket.")

    _esm = _ESM

    _stylesheets = [  # noqa: RUF012  (Panel reads this class attribute)
        """
        .ax-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
        .ax-card { display: flex; flex-direction: column; width: 100%; padding: 4px; cursor: pointer;
                   background: var(--panel-surface-color, transparent); color: inherit; font: inherit;
                   border: 1px solid var(--panel-border-color, #8a8a8a); border-radius: 6px; }
        .ax-card:hover { border-color: #0072b2; }
        .ax-card:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
        .ax-card img { width: 100%; height: 110px; object-fit: contain; background: #2b2b2b;
                      box-sizing: border-box; border: 1px solid #8a8a8a; }
        .ax-noimg { display: block; height: 110px; line-height: 110px; text-align: center; opacity: 0.75; }
        .ax-caption { font-size: 0.8em; text-align: left; margin-top: 4px; overflow-wrap: anywhere; }
        .ax-add { margin-top: 3px; width: 100%; padding: 3px; font: inherit; font-size: 0.85em; cursor: pointer;
                  color: inherit; background: transparent; border: 1px solid var(--panel-border-color, #8a8a8a);
                  border-radius: 4px; }
        .ax-add[aria-pressed="true"] { border-color: #009e73; font-weight: 600; }
        .ax-add:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
        .ax-sentinel { height: 1px; }
        .ax-dim { opacity: 0.8; }
        """
    ]


def _card(index: int, product: Any, uri: str | None) -> dict[str, Any]:
    source = product.data_source
    caption = f"{source.display_name or source.platform} · {product.data_product_type}"
    caption += f" {product.sub_type}" if product.sub_type else ""
    caption += f" · {product.start:%Y-%m-%d %H:%M}"
    return {
        "index": index,
        "src": uri if uri and is_safe_data_uri(uri) else "",
        "alt": alt_text(product),
        "title": product_title(product),
        "caption": caption,
    }


class Gallery(SessionView):
    """Thumbnails of the results in the table's order and filters; a click opens the preview."""

    name = param.String(default="gallery", constant=True)
    title: ClassVar[str] = "Gallery"
    needs: ClassVar[tuple[str, ...]] = ("results", "runner", "images")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.grid = GalleryGrid(sizing_mode="stretch_width", min_height=150)
        self.grid.on_msg(self._on_msg)
        # One batch of cards at a time; new results or a new order make the batch in flight stale.
        self._cards = self.session.runner.lane()
        self._loading = False
        self._reset()

    @param.depends("session.results.view_indices", "session.results.result", watch=True)
    def _reset(self) -> None:
        self._cards.reset()
        self._loading = False
        self.grid.param.update(items=[], total=len(self.session.results.view_indices), in_basket=[])
        self.load_more()

    @param.depends("session.view", watch=True)
    def _on_shown(self) -> None:
        # Thumbnails are only made for a gallery someone looks at.
        if not self.grid.items:
            self.load_more()

    def load_more(self, count: int = BATCH) -> None:
        """Append the next ``count`` cards; their thumbnails are made off the event loop."""
        results = self.session.results
        result = results.result
        if result is None or self._loading or self.session.view != self.name:
            return
        have = len(self.grid.items)
        indices = results.view_indices[have : have + count]
        if not indices:
            return
        self._loading = True
        products = [result.data[i] for i in indices]
        images = self.session.images
        if images is not None:
            # Warm thumbnails (already in memory) go out at once, with the rows: no thread, no extra tick.
            cached = [images.cached_thumbnail(p) for p in products]
            if all(uri is not None for uri in cached):
                cards = [_card(i, p, uri) for i, p, uri in zip(indices, products, cached, strict=True)]
                self._append(have, cards)
                return

        def work() -> list[dict[str, Any]]:
            try:
                uris = images.thumbnails(products) if images is not None else [None] * len(products)
            except Exception:  # placeholders instead of a broken gallery
                uris = [None] * len(products)
            return [_card(i, p, uri) for i, p, uri in zip(indices, products, uris, strict=True)]

        self._cards.submit(work, lambda cards: self._append(have, cards))

    def _append(self, have: int, cards: list[dict[str, Any]]) -> None:
        self._loading = False
        if len(self.grid.items) == have:
            self.grid.items = [*self.grid.items, *cards]
            self._mark_basket()

    @param.depends("session.basket.basket", watch=True)
    def _mark_basket(self) -> None:
        result, basket = self.session.results.result, self.session.basket
        marked = [] if result is None else [c["index"] for c in self.grid.items if result.data[c["index"]] in basket]
        if marked != self.grid.in_basket:
            self.grid.in_basket = marked

    def _on_msg(self, event: Any) -> None:
        # Panel hands over a DataEvent whose ``data`` is what the browser sent.
        msg = getattr(event, "data", event)
        if not isinstance(msg, dict):
            return
        results = self.session.results
        if "select" in msg:
            try:
                index = int(msg["select"])
            except (TypeError, ValueError):
                return
            if results.result is not None and 0 <= index < len(results.result.data):
                results.selected_index = index
        elif "basket" in msg and isinstance(msg["basket"], int):
            toggle_result(self.session, msg["basket"])
        elif "more" in msg and msg.get("more") == len(self.grid.items):
            self.load_more()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.grid
