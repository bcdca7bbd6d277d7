"""The results' thumbnails, night by night (optionally site by site), for months of products.

The browser gets the groups at once (a label and a count each) and lays out every night's
section at its final height, so the page can be scrolled (or jumped) to the last night of a
10,000-product month straight away. A section's cards are sent when it comes near the viewport;
their thumbnails follow, made off the event loop. Headers stick to the top while their night
scrolls by. All record text is set with ``textContent``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn
import param
from panel.custom import JSComponent

from ..media import alt_text, is_safe_data_uri, product_title
from ..state.browse import NightGroup, group_by_night
from .base import SessionView
from .basket_controls import toggle_result

THUMBS_PER_MESSAGE = 48
# The first message of a night is small and each next one twice as big: the first cards show their
# thumbnails after 8 renders, not 48 (a cold night took 1.1 s to show its first 24).
FIRST_THUMBS = 8

_ESM = r"""
const okImage = (s) => typeof s === "string" && /^data:image\/(png|jpeg|gif|webp);base64,/.test(s);
const CARD_W = 170, CARD_H = 182, GAP = 10, CARDS_PER_FRAME = 40;
export function render({ model, el }) {
  const bar = document.createElement("div");
  bar.className = "ax-gbar";
  const jumpLabel = document.createElement("label");
  jumpLabel.textContent = "Jump to night ";
  const jump = document.createElement("select");
  jump.className = "ax-jump";
  jumpLabel.appendChild(jump);
  const siteLabel = document.createElement("label");
  const site = document.createElement("input");
  site.type = "checkbox";
  siteLabel.append(site, document.createTextNode(" group by site"));
  const summary = document.createElement("span");
  summary.className = "ax-dim";
  bar.append(jumpLabel, siteLabel, summary);
  const body = document.createElement("div");
  body.className = "ax-groups";
  body.setAttribute("role", "list");
  body.setAttribute("aria-label", "Result thumbnails by night");
  el.append(bar, body);
  let sections = [];
  const cardsByIndex = new Map();
  // Near the viewport a section asks for its cards (once) and its thumbnails; leaving, it says
  // so, and the server drops the thumbnails it has not made yet (a fast scroll costs nothing).
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const s = sections[+e.target.dataset.group];
      if (!s || e.isIntersecting === s.near) continue;
      s.near = e.isIntersecting;
      if (!s.near) empty(s);  // far away: its cards go (the page keeps only the nights near the view)
      model.send_msg({ want: s.i, near: s.near, build: model.build });
    }
  }, { rootMargin: "800px 0px" });
  function columns() {
    const w = body.clientWidth || 800;
    return Math.max(1, Math.floor((w + GAP) / (CARD_W + GAP)));
  }
  function reserve(s) {
    if (s.filled) return;
    const rows = Math.ceil(s.count / columns());
    s.grid.style.height = (rows * CARD_H + (rows - 1) * GAP) + "px";
  }
  function empty(s) {
    if (!s.filled) return;
    for (const b of s.grid.querySelectorAll(".ax-card")) cardsByIndex.delete(+b.dataset.index);
    s.grid.textContent = "";
    s.filled = false;
    s.byIndex = null;
    s.token = (s.token || 0) + 1;
    reserve(s);  // the same height as its cards had: nothing above the view moves
  }
  function card(item) {
    const li = document.createElement("div");
    li.setAttribute("role", "listitem");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ax-card";
    b.dataset.index = String(item.index);
    b.setAttribute("aria-label", "Open preview: " + item.title);
    const img = document.createElement("img");
    img.alt = item.alt;
    img.decoding = "async";
    if (okImage(item.src)) img.src = item.src; else img.className = "ax-pending";
    const cap = document.createElement("span");
    cap.className = "ax-caption";
    cap.textContent = item.caption;
    b.append(img, cap);
    b.addEventListener("click", () => model.send_msg({ select: item.index }));
    if (item.index === model.selected) b.classList.add("ax-selected");
    li.appendChild(b);
    const add = document.createElement("button");
    add.type = "button";
    add.className = "ax-add";
    add.dataset.index = String(item.index);
    add.addEventListener("click", () => model.send_msg({ basket: item.index }));
    li.appendChild(add);
    mark(add, item.title);
    cardsByIndex.set(item.index, b);
    return li;
  }
  function mark(add, title) {
    const inside = (model.in_basket || []).includes(Number(add.dataset.index));
    add.textContent = inside ? "In basket ✓" : "+ Basket";
    add.setAttribute("aria-pressed", inside ? "true" : "false");
    if (title !== undefined) add.setAttribute("aria-label", "Basket: " + title);
  }
  function build() {
    io.disconnect();
    body.textContent = "";
    jump.textContent = "";
    cardsByIndex.clear();
    const groups = model.groups || [];
    sections = groups.map((g, i) => {
      const sec = document.createElement("section");
      sec.className = "ax-night";
      sec.setAttribute("role", "listitem");
      sec.setAttribute("aria-label", g.label);
      const h = document.createElement("h3");
      h.className = "ax-night-header";
      h.textContent = g.label;
      const grid = document.createElement("div");
      grid.className = "ax-grid";
      grid.setAttribute("role", "list");
      grid.dataset.group = String(i);
      sec.append(h, grid);
      body.appendChild(sec);
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = g.label;
      jump.appendChild(o);
      const s = { i, count: g.count, sec, grid, near: false, filled: false };
      reserve(s);
      io.observe(grid);
      return s;
    });
    jump.disabled = !groups.length;
    summary.textContent = model.total ? (model.total.toLocaleString("en") + " products in " + groups.length +
      (groups.length === 1 ? " group" : " groups")) : "No results to show.";
  }
  model.on("msg:custom", (msg) => {
    if (msg.build !== model.build) return;  // an answer for results that are gone
    const s = sections[msg.group];
    if (!s) return;
    if (msg.cards) {
      if (!s.near) return;  // it left again before its cards arrived
      for (const b of s.grid.querySelectorAll(".ax-card")) cardsByIndex.delete(+b.dataset.index);
      s.grid.textContent = "";
      s.filled = true;
      const items = msg.cards, token = (s.token = (s.token || 0) + 1);
      s.byIndex = new Map(items.map((it) => [it.index, it]));
      // A night can hold hundreds of cards: a few dozen per frame keeps every frame short.
      let k = 0;
      const step = () => {
        if (!s.near || s.token !== token) return;
        const frag = document.createDocumentFragment();
        for (let n = 0; n < CARDS_PER_FRAME && k < items.length; n++, k++) frag.appendChild(card(items[k]));
        s.grid.appendChild(frag);
        if (k < items.length) requestAnimationFrame(step); else s.grid.style.height = "";
      };
      step();
    }
    if (msg.thumbs) {
      for (const [index, src] of msg.thumbs) {
        const b = cardsByIndex.get(index);
        const img = b && b.querySelector("img");
        if (!img) {  // its card is not made yet: it will be made with it
          const it = s.byIndex && s.byIndex.get(index);
          if (it) it.src = src;
        } else if (okImage(src)) { img.src = src; img.className = ""; }
        else { img.className = "ax-noimg-img"; }
      }
    }
  });
  jump.addEventListener("change", () => {
    const s = sections[+jump.value];
    if (s) s.sec.scrollIntoView({ block: "start" });
  });
  site.addEventListener("change", () => model.send_msg({ by_site: site.checked }));
  model.on("selected", () => {
    for (const b of el.querySelectorAll(".ax-selected")) b.classList.remove("ax-selected");
    const b = cardsByIndex.get(model.selected);
    if (b) { b.classList.add("ax-selected"); b.scrollIntoView({ block: "nearest" }); }
  });
  model.on("build", build);
  model.on("in_basket", () => body.querySelectorAll(".ax-add").forEach((add) => mark(add)));
  model.on("by_site", () => { site.checked = !!model.by_site; });
  site.checked = !!model.by_site;
  const ro = new ResizeObserver(() => sections.forEach(reserve));
  ro.observe(body);
  model.on("remove", () => { io.disconnect(); ro.disconnect(); });
  build();
}
"""


class GalleryGrid(JSComponent):
    groups = param.List(default=[], doc="dicts label/count, in order.")
    total = param.Integer(default=0)
    build = param.Integer(default=0, doc="Bumped with each new set of groups; answers carry it.")
    by_site = param.Boolean(default=False)
    selected = param.Integer(default=-1, doc="The open product's index (-1: none).")
    in_basket = param.List(default=[], doc="Indices of sent cards whose product is in the basket.")

    _esm = _ESM

    _stylesheets = [  # noqa: RUF012  (Panel reads this class attribute)
        """
        .ax-gbar { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; margin: 4px 0 8px 0; }
        .ax-gbar select { font: inherit; max-width: 22em; }
        .ax-night { content-visibility: auto; contain-intrinsic-size: auto 600px; }
        .ax-night-header { position: sticky; top: 0; z-index: 2; margin: 0 0 6px 0; padding: 6px 8px;
                           font-size: 1em; background: var(--panel-background-color, #fff);
                           border-bottom: 2px solid #0072b2; }
        .ax-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px;
                   margin-bottom: 14px; grid-auto-rows: 182px; }
        .ax-card { display: flex; flex-direction: column; width: 100%; height: 152px; padding: 4px; cursor: pointer;
                   box-sizing: border-box; background: var(--panel-surface-color, transparent); color: inherit;
                   font: inherit; border: 1px solid var(--panel-border-color, #8a8a8a); border-radius: 6px; }
        .ax-card:hover { border-color: #0072b2; }
        .ax-card.ax-selected { border: 3px solid #0072b2; }
        .ax-card:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
        .ax-card img { width: 100%; height: 104px; object-fit: contain; background: #2b2b2b;
                       box-sizing: border-box; border: 1px solid #8a8a8a; }
        /* Waiting for its thumbnail: an empty dark box (the alt text stays for screen readers). */
        .ax-card img.ax-pending { color: transparent; font-size: 0; }
        .ax-card img.ax-noimg-img { font-size: 0.75em; color: inherit; }
        .ax-add { margin-top: 3px; width: 100%; height: 26px; padding: 2px; font: inherit; font-size: 0.85em;
                  cursor: pointer; color: inherit; background: transparent; border-radius: 4px;
                  border: 1px solid var(--panel-border-color, #8a8a8a); }
        .ax-add[aria-pressed="true"] { border-color: #009e73; font-weight: 600; }
        .ax-add:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
        .ax-caption { font-size: 0.8em; text-align: left; margin-top: 4px; overflow: hidden;
                      display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; }
        .ax-dim { opacity: 0.8; }
        """
    ]


def _card(index: int, product: Any, uri: str | None) -> dict[str, Any]:
    source = product.data_source
    caption = f"{source.display_name or source.platform} · {product.data_product_type}"
    caption += f" {product.sub_type}" if product.sub_type else ""
    caption += f" · {product.start:%H:%M}"
    return {
        "index": index,
        "src": uri if uri and is_safe_data_uri(uri) else "",
        "alt": alt_text(product),
        "title": product_title(product),
        "caption": caption,
    }


class Gallery(SessionView):
    """Thumbnails of the results, grouped by night, in the table's order and filters; a click previews."""

    name = param.String(default="gallery", constant=True)
    title: ClassVar[str] = "Gallery"
    needs: ClassVar[tuple[str, ...]] = ("results", "runner", "images")

    by_site = param.Boolean(default=False, doc="Group by night and site (else by night).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.grid = GalleryGrid(sizing_mode="stretch_width", min_height=150)
        self.grid.on_msg(self._on_msg)
        # Thumbnails of several nights may be made at once; new results or order make all stale.
        self._thumbs = self.session.runner.lane(supersede=False)
        self.order: list[int] = []
        self.groups: list[NightGroup] = []
        self.sent: dict[int, list[dict[str, Any]]] = {}
        self.near: set[int] = set()  # groups near the browser's viewport (read by worker threads)
        self.thumbing: set[int] = set()  # products whose thumbnails are being made
        self._reset()

    @param.depends("session.results.view_indices", "session.results.result", "by_site", watch=True)
    def _reset(self) -> None:
        self._thumbs.reset()
        self.sent = {}
        # Emptied, then a new set: work still queued for the old groups sees they are not near.
        self.near.clear()
        self.near = set()
        self.thumbing = set()
        results = self.session.results
        data = results.result.data if results.result is not None else []
        self.order, self.groups = group_by_night(data, results.view_indices, by_site=self.by_site)
        self.grid.param.update(
            groups=[{"label": g.label, "count": g.count} for g in self.groups],
            total=len(self.order),
            by_site=self.by_site,
            build=self.grid.build + 1,
            in_basket=[],
        )

    @param.depends("session.results.selected_index", watch=True)
    def _on_selected(self) -> None:
        index = self.session.results.selected_index
        self.grid.selected = -1 if index is None else index

    def cards(self, group: int) -> list[dict[str, Any]]:
        """The cards of one group (thumbnails already in memory included); remembered as sent."""
        result = self.session.results.result
        if result is None or not 0 <= group < len(self.groups):
            return []
        g = self.groups[group]
        images = self.session.images
        cards = []
        for i in self.order[g.first : g.first + g.count]:
            product = result.data[i]
            uri = images.cached_thumbnail(product) if images is not None else None
            cards.append(_card(i, product, uri))
        self.sent[group] = cards
        self._mark_basket()
        return cards

    @param.depends("session.basket.basket", watch=True)
    def _mark_basket(self) -> None:
        result, basket = self.session.results.result, self.session.basket
        marked = (
            []
            if result is None
            else sorted(c["index"] for cards in self.sent.values() for c in cards if result.data[c["index"]] in basket)
        )
        if marked != self.grid.in_basket:
            self.grid.in_basket = marked

    def send_group(self, group: int) -> None:
        """Send a group's cards (the first time), then its missing thumbnails, made off the event loop
        a chunk at a time while the group stays near the viewport."""
        self.near.add(group)
        build = self.grid.build
        # Each time it comes near (the browser drops far nights' cards): thumbnails made since are in.
        cards = self.cards(group)
        if not cards:
            return
        self.grid._send_msg({"build": build, "group": group, "cards": cards})
        images = self.session.images
        result = self.session.results.result
        missing = [c["index"] for c in cards if not c["src"] and c["index"] not in self.thumbing]
        if images is None or result is None or not missing:
            return
        self.thumbing.update(missing)  # being made; given back when made or when the group leaves
        near, lane = self.near, self._thumbs
        ticket = lane.begin()

        def send(thumbs: list[tuple[int, str]]) -> None:
            self.thumbing.difference_update(i for i, _uri in thumbs)
            self.grid._send_msg({"build": build, "group": group, "thumbs": thumbs})

        def give_back(indices: list[int]) -> None:
            self.thumbing.difference_update(indices)

        def work() -> None:
            # One thread per group, a message per chunk; it stops as soon as the group has
            # scrolled away (a fast scroll through a month renders only where it stops).
            at, size = 0, FIRST_THUMBS
            while at < len(missing):
                chunk = missing[at : at + size]
                if group not in near:
                    rest = missing[at:]
                    lane.post(ticket, lambda rest=rest: give_back(rest))
                    return
                products = [result.data[i] for i in chunk]
                try:
                    uris = images.thumbnails(products)
                except Exception:  # placeholders instead of a broken gallery
                    uris = [None] * len(products)
                thumbs = [(i, uri or "") for i, uri in zip(chunk, uris, strict=True)]
                lane.post(ticket, lambda thumbs=thumbs: send(thumbs))
                at, size = at + len(chunk), min(2 * size, THUMBS_PER_MESSAGE)

        self._thumbs.runner.run_off_loop(work)

    @param.depends("session.view", watch=True)
    def _on_shown(self) -> None:
        """The tab is shown: the nights near the view that waited get their cards and thumbnails."""
        if self.session.view == self.name:
            for group in sorted(self.near):
                if group not in self.sent:
                    self.send_group(group)

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
        elif "want" in msg:
            try:
                group = int(msg["want"])
            except (TypeError, ValueError):
                return
            if msg.get("build") != self.grid.build:
                return  # about groups that are gone
            if not msg.get("near", True):
                self.near.discard(group)
            elif self.session.view == self.name:
                self.send_group(group)
            else:
                # Bokeh hides an inactive tab with visibility:hidden, so its nights still "come near":
                # their thumbnails (a second of rendering per search) wait until the tab is shown.
                self.near.add(group)
        elif "by_site" in msg:
            self.by_site = bool(msg["by_site"])
        elif "basket" in msg and isinstance(msg["basket"], int):
            toggle_result(self.session, msg["basket"])

    def __panel__(self) -> pn.viewable.Viewable:
        return self.grid
