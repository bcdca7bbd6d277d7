"""Above the results, in every tab: quick facet chips with counts, and the active table filters.

A chip ("daily keograms · 412") sets the table filters that select its rows; a second click
clears them. Every active filter is listed with a remove button and there is a "Clear filters"
button, so a filter kept from an earlier search (after the sources changed, or after the theme
change reloaded the page) is never hidden. All record text reaches the page as ``textContent``.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from ..state.browse import Facet, product_facets
from ..state.fields import SOURCE_FIELDS
from .base import SessionView
from .results_table import COLUMNS

_ESM = r"""
function button(text, attrs) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) b.setAttribute(k, v);
  return b;
}
function headerInputs(root, fields, out) {
  for (const e of root.querySelectorAll("*")) {
    if (e.shadowRoot) headerInputs(e.shadowRoot, fields, out);
    if (e.classList && e.classList.contains("tabulator-col") && fields.includes(e.getAttribute("tabulator-field"))) {
      for (const i of e.querySelectorAll(".tabulator-header-filter input")) out.push(i);
    }
  }
  return out;
}
export function render({ model, el }) {
  const bar = document.createElement("div");
  bar.className = "ax-facets";
  el.appendChild(bar);
  function draw() {
    bar.textContent = "";
    const chips = document.createElement("div");
    chips.className = "ax-chips";
    chips.setAttribute("role", "group");
    chips.setAttribute("aria-label", "Quick filters by product type");
    (model.chips || []).forEach((c, i) => {
      const cls = "ax-chip" + (c.sub ? " ax-chip-sub" : "");
      const b = button(c.label, { class: cls, "aria-pressed": String(!!c.pressed) });
      b.addEventListener("click", () => model.send_msg({ facet: i }));
      chips.appendChild(b);
    });
    if ((model.chips || []).length) bar.appendChild(chips);
    const active = model.active || [];
    if (active.length) {
      const row = document.createElement("div");
      row.className = "ax-active";
      row.setAttribute("role", "group");
      row.setAttribute("aria-label", "Active table filters");
      const title = document.createElement("strong");
      title.textContent = model.note ? "Table filters (" + model.note + "):" : "Table filters:";
      row.appendChild(title);
      for (const f of active) {
        const b = button("Remove filter: " + f.label + " ✕", { class: "ax-filter" });
        b.addEventListener("click", () => model.send_msg({ drop: f.field }));
        row.appendChild(b);
      }
      const all = button("Clear filters", { class: "ax-clear" });
      all.addEventListener("click", () => model.send_msg({ clear: true }));
      row.appendChild(all);
      bar.appendChild(row);
    }
  }
  model.on(["chips", "active", "note"], draw);
  model.on("clear_fields", () => {
    // Panel cannot set Tabulator's header inputs from the server: empty them here, and let
    // Tabulator report its (now empty) filters back as it does for typing.
    const fields = (model.clear_fields || {}).fields || [];
    for (const input of headerInputs(document, fields, [])) {
      input.value = "";
      for (const type of ["input", "keyup", "change", "search"]) {
        input.dispatchEvent(new Event(type, { bubbles: true }));
      }
    }
  });
  draw();
}
"""


class FacetBar(JSComponent):
    chips = param.List(default=[], doc="dicts label/sub/pressed.")
    active = param.List(default=[], doc="dicts field/label: the active table filters.")
    note = param.String(default="")
    clear_fields = param.Dict(default={}, doc="{'token': n, 'fields': [...]}: header inputs to empty.")

    _esm = _ESM

    _stylesheets = [  # noqa: RUF012  (Panel reads this class attribute)
        """
        .ax-facets { display: flex; flex-direction: column; gap: 4px; }
        .ax-chips, .ax-active { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
        .ax-facets button { font: inherit; font-size: 0.9em; padding: 3px 10px; border-radius: 14px; cursor: pointer;
                            border: 1px solid #8a8a8a; background: transparent; color: inherit; }
        .ax-facets button.ax-chip-sub { border-style: dashed; }
        .ax-facets button[aria-pressed=true] { background: #0072b2; border-color: #0072b2; color: #fff; }
        .ax-facets button:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
        .ax-active { padding: 4px 8px; border-left: 5px solid #e69f00; }
        .ax-facets button.ax-clear { border-color: #e69f00; font-weight: 600; }
        """
    ]


def filter_label(column: str, text: str) -> str:
    """'Product type is “movie”' (exact, from a chip) or 'Sub-type contains “dai”' (typed)."""
    name = COLUMNS.get(column, column)
    return f"{name} is “{text[1:]}”" if text.startswith("=") else f"{name} contains “{text}”"


class FacetChips(SessionView):
    """The quick facets and the active filters, bound to ``session.results``."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.facets: list[Facet] = []
        self.bar = FacetBar(sizing_mode="stretch_width", margin=(0, 10))
        self.bar.on_msg(self._on_msg)
        self._sources_at_filter: tuple[Any, ...] | None = None
        self.session.results.result_views["facets"] = lambda _result, frame: product_facets(frame)
        self._on_results()

    @param.depends("session.results.frame", watch=True)
    def _on_results(self) -> None:
        results = self.session.results
        facets = results.prepared.get("facets")
        self.facets = facets if isinstance(facets, list) else product_facets(results.frame)
        self._render()

    def _sources(self) -> tuple[Any, ...]:
        form = self.session.form
        return tuple(tuple(getattr(form, name)) for name in SOURCE_FIELDS)

    @param.depends("session.results.table_filters", *(f"session.form.{n}" for n in SOURCE_FIELDS), watch=True)
    def _render(self) -> None:
        filters = self.session.results.table_filters
        if not filters:
            self._sources_at_filter = None
        elif self._sources_at_filter is None:
            self._sources_at_filter = self._sources()
        self.bar.param.update(
            chips=[
                {"label": f.label, "sub": bool(f.sub_type), "pressed": self.pressed(f)}
                for f in (self.facets if len(self.facets) > 1 else [])
            ],
            active=[{"field": k, "label": filter_label(k, v)} for k, v in sorted(filters.items())],
            note="kept from other sources" if filters and self._sources_at_filter != self._sources() else "",
        )

    def pressed(self, facet: Facet) -> bool:
        filters = self.session.results.table_filters
        wanted = facet.filters
        return all(filters.get(k) == v for k, v in wanted.items()) and (
            bool(facet.sub_type) or "sub_type" not in filters
        )

    def toggle(self, facet: Facet) -> None:
        """Filter to the facet's rows; when it is already the filter, clear it."""
        results = self.session.results
        others = {k: v for k, v in results.table_filters.items() if k not in ("data_product_type", "sub_type")}
        pressed = self.pressed(facet)
        self._clear_header(["data_product_type", "sub_type"])
        results.table_filters = others if pressed else {**others, **facet.filters}

    def drop(self, field: str) -> None:
        self._clear_header([field])
        results = self.session.results
        results.table_filters = {k: v for k, v in results.table_filters.items() if k != field}

    def clear(self) -> None:
        self._clear_header(list(self.session.results.table_filters))
        self.session.results.table_filters = {}

    def _clear_header(self, fields: list[str]) -> None:
        token = int(self.bar.clear_fields.get("token", 0)) + 1
        self.bar.clear_fields = {"token": token, "fields": fields}

    def _on_msg(self, event: Any) -> None:
        msg = getattr(event, "data", event)
        if not isinstance(msg, dict):
            return
        if "facet" in msg:
            try:
                facet = self.bar.chips and self.facets[int(msg["facet"])]
            except (TypeError, ValueError, IndexError):
                return
            if facet:
                self.toggle(facet)
        elif "drop" in msg:
            self.drop(str(msg["drop"]))
        elif msg.get("clear"):
            self.clear()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.bar
