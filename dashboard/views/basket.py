"""The Basket tab: the products collected across searches, grouped by dataset; the take-away bundle;
"keep these results offline"; and the bridge that keeps the basket in the browser's localStorage.

Record text (URLs, names) reaches the page only escaped (HTML panes) or as Tabulator cell text
(plain-text formatter), never as markup.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar, Final

import pandas as pd
import panel as pn
import param
from panel.custom import JSComponent

from aurorax_core import Basket, BasketGroup, DataProduct, dataset_for

from ..media import esc
from ..state.basket import human_bytes, plural
from .base import SessionView
from .style import html

STORAGE_KEY: Final = "aurorax-core.basket.v1"
BUNDLE_NAME: Final = "aurorax_basket_bundle.zip"
PAGE_SIZE: Final = 20
COLUMNS: Final = {
    "dataset": "Dataset",
    "display_name": "Display name",
    "data_product_type": "Product type",
    "start": "Start (UTC)",
    "end": "End (UTC)",
    "url": "URL",
}


class BasketStore(JSComponent):
    """The browser side of the basket's persistence: reads localStorage once when the page opens
    (sent back as ``{"restore": text}``) and writes ``stored`` there whenever it changes."""

    stored = param.String(default="", doc="The basket's JSON to keep ('' removes it).")
    key = param.String(default=STORAGE_KEY, constant=True)

    _esm = r"""
export function render({ model, el }) {
  el.style.display = "none";
  let kept = "";
  try { kept = window.localStorage.getItem(model.key) || ""; } catch (e) { kept = ""; }
  model.send_msg({ restore: kept });
  model.on("stored", () => {
    try {
      if (model.stored) { window.localStorage.setItem(model.key, model.stored); }
      else { window.localStorage.removeItem(model.key); }
      model.send_msg({ saved: model.stored.length });
    } catch (e) {
      model.send_msg({ failed: String((e && e.name) || e) });
    }
  });
}
"""


def _dataset_names(products: list[DataProduct]) -> list[str]:
    """Each product's dataset name (or 'program / instrument type / product type' when unknown)."""
    memo: dict[tuple[str, str, str, str | None, str], str] = {}
    names = []
    for product in products:
        src = product.data_source
        ext = product.url.rsplit(".", 1)[-1][:8].lower()
        key = (src.program, src.instrument_type, product.data_product_type, product.sub_type, ext)
        name = memo.get(key)
        if name is None:
            dataset = dataset_for(product)
            name = dataset.name if dataset else f"{src.program} / {src.instrument_type} / {product.data_product_type}"
            memo[key] = name
        names.append(name)
    return names


def basket_frame(basket: Basket) -> pd.DataFrame:
    """One row per product, by dataset then start; the URL as plain text."""
    products = basket.products
    if not products:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in COLUMNS})
    kinds = []
    for product in products:
        sub = product.sub_type  # a metadata look-up: once per product
        kinds.append(f"{product.data_product_type} ({sub})" if sub else product.data_product_type)
    frame = pd.DataFrame(
        {
            "dataset": _dataset_names(products),
            "display_name": [p.data_source.display_name or p.data_source.platform for p in products],
            "data_product_type": kinds,
            # Times are UTC-aware: the first 19 characters are "YYYY-MM-DD HH:MM:SS" (isoformat is C-fast).
            "start": [p.start.isoformat(sep=" ")[:19] for p in products],
            "end": [p.end.isoformat(sep=" ")[:19] for p in products],
            "url": [p.url for p in products],
        }
    )
    return frame.sort_values(["dataset", "start"], kind="mergesort").reset_index(drop=True)


def groups_html(groups: list[BasketGroup]) -> str:
    """The per-dataset summary as an escaped table."""
    if not groups:
        return ""
    rows = []
    for group in groups:
        name = esc(group.key) if group.known else f"{esc(group.key)} <em>(no known dataset)</em>"
        synthetic = f" ({group.synthetic:,} synthetic)" if group.synthetic else ""
        rows.append(
            f"<tr><th scope='row'>{name}</th><td>{group.count:,}{synthetic}</td>"
            f"<td>{esc(f'{group.first_start:%Y-%m-%d} – {group.last_end:%Y-%m-%d}')}</td>"
            f"<td>{esc(human_bytes(group.total_bytes))}</td></tr>"
        )
    return (
        '<table class="ax-meta ax-basket-groups"><caption>By dataset</caption>'
        "<thead><tr><th scope='col'>Dataset</th><th scope='col'>Products</th><th scope='col'>Dates (UTC)</th>"
        f"<th scope='col'>Total size</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


class BasketView(SessionView):
    """The basket: grouped summary, product list (remove, clear, undo), bundle download, keep offline."""

    name = param.String(default="basket", constant=True)
    title: ClassVar[str] = "Basket"
    needs: ClassVar[tuple[str, ...]] = ("basket", "offline", "results", "runner", "backend")
    permalink: ClassVar[tuple[str, ...]] = ("basket",)

    basket = param.String(default="", doc="A small basket as a link token ('' when empty or too large).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        state = self.session.basket
        self.store = BasketStore(height=0, width=0, margin=0)
        self.store.on_msg(self._on_store)
        self._summary = html("", sizing_mode="stretch_width")
        self._message = html("", sizing_mode="stretch_width", margin=(0, 10))
        self._note = html("", sizing_mode="stretch_width", margin=(0, 10))
        self._groups = html("", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            basket_frame(Basket()),
            pagination="remote",
            page_size=PAGE_SIZE,
            titles=COLUMNS,
            show_index=False,
            selectable="checkbox",
            disabled=True,
            layout="fit_data_table",
            # Record text as text: no HTML formatter on any column.
            formatters={name: {"type": "plaintext"} for name in COLUMNS},
            header_filters={name: {"type": "input", "func": "like"} for name in ("dataset", "display_name", "url")},
            sizing_mode="stretch_width",
            min_height=120,
            css_classes=["ax-basket-table"],
        )
        # The list joins the page when the tab is first shown: a page that never opens the basket
        # does not build a second table (and other views' selectors meet only the results table).
        self._table_holder = pn.Column(sizing_mode="stretch_width")
        self.remove_button = pn.widgets.Button(label="Remove selected", disabled=True)
        self.undo_button = pn.widgets.Button(label="Undo", disabled=True, description="Undo the last basket change")
        self.clear_button = pn.widgets.Button(label="Clear basket", disabled=True, color="danger")
        self.remove_button.on_click(lambda _e: self._remove_selected())
        self.undo_button.on_click(lambda _e: state.undo())
        self.clear_button.on_click(lambda _e: state.clear())
        self.table.param.watch(self._selection_label, ["selection"])
        self.download = pn.widgets.FileDownload(
            filename=BUNDLE_NAME,
            label="Download bundle",
            embed=False,
            # Panel 1.9's FileDownload does not pass its colour to the browser: the primary look by hand.
            stylesheets=[
                ".bk-btn:not([disabled]) { background-color: #0072b2 !important; border-color: #0072b2 !important; "
                "color: #fff !important; }"
            ],
            disabled=True,
            description="A zip: manifest (CSV, JSON), download.sh, download.py, query files, ACKNOWLEDGEMENTS.md",
        )
        self._bundle_note = html("", sizing_mode="stretch_width")
        self._bundles = self.session.runner.lane()
        self._stores = self.session.runner.lane()
        self._bundle_of: Basket | None = None
        self.offline_button = pn.widgets.Button(label="Keep these results offline", color="primary")
        self.offline_button.on_click(lambda _e: self.keep_offline())
        self._offline_note = html("", sizing_mode="stretch_width")
        self._offline_lane = self.session.runner.lane()
        self._shown_basket: Basket | None = None
        self.session.offline.param.watch(self._offline_state, ["running", "progress", "message", "failed"])
        self._on_basket()
        self._on_message()
        self._offline_state()

    # --- the basket -> the page ---------------------------------------------------------------------

    @param.depends("session.basket.message", watch=True)
    def _on_message(self) -> None:
        text = self.session.basket.message
        self._message.object = (
            f'<p class="ax-dim ax-basket-message" role="status" aria-live="polite">{esc(text)}</p>' if text else ""
        )

    @param.depends("session.basket.basket", watch=True)
    def _on_basket(self) -> None:
        state = self.session.basket
        basket = state.basket
        # The stored copy (up to megabytes) is made off the event loop and follows the list.
        self._stores.submit(lambda: state.stored_json(basket), self._store)
        token = state.link_token()
        if token != self.basket:
            self.basket = token
        note = f'<p class="ax-dim">{esc(state.link_note())}</p>' if len(basket) else ""
        self._summary.object = f'<h2 class="ax-h">Basket</h2><p class="ax-basket-summary">{esc(state.summary())}</p>'
        self._note.object = note
        self.undo_button.disabled = not basket.can_undo
        self.clear_button.disabled = not len(basket)
        if self.session.view == self.name:
            self._render()

    def _store(self, text: str) -> None:
        if self.store.stored != text:
            self.store.stored = text

    @param.depends("session.view", watch=True)
    def _on_shown(self) -> None:
        if self.session.view == self.name:
            self._render()
            self._offline_state()

    def _render(self) -> None:
        """The groups, the product list and the bundle for the current basket (when it changed)."""
        basket = self.session.basket.basket
        if basket is self._shown_basket:
            return
        self._shown_basket = basket
        self._groups.object = groups_html(self.session.basket.groups())
        self.table.param.update(value=basket_frame(basket), selection=[], page=1)
        if not self._table_holder.objects:
            # Attached after its value is set: the browser's table is created with its rows.
            self._table_holder.objects = [self.table]
        self._selection_label()
        self._prepare_bundle(basket)

    def _selection_label(self, *_: Any) -> None:
        count = len(self.table.selection)
        self.remove_button.param.update(
            label=f"Remove {plural(count, 'selected product')}" if count else "Remove selected", disabled=not count
        )

    def _remove_selected(self) -> None:
        frame = self.table.value
        urls = [frame.at[i, "url"] for i in self.table.selection if i in frame.index]
        self.session.basket.remove(urls)

    # --- the bundle: built off the event loop whenever the shown basket changes -------------------------

    def _prepare_bundle(self, basket: Basket) -> None:
        if not len(basket):
            self._bundles.reset()
            self._bundle_of = None
            self.download.param.update(file=None, disabled=True, label="Download bundle")
            self._bundle_note.object = '<p class="ax-dim">Add products to get a bundle.</p>'
            return
        if basket is self._bundle_of:
            return
        self.download.param.update(disabled=True, label="Preparing the bundle …")
        state = self.session.basket

        def done(data: bytes) -> None:
            self._bundle_of = basket
            self.download.param.update(
                file=io.BytesIO(data),
                filename=BUNDLE_NAME,
                disabled=False,
                label=f"Download bundle ({plural(len(basket), 'product')}, {human_bytes(len(data))} zip)",
            )
            self._bundle_note.object = (
                '<p class="ax-dim">The bundle holds manifest.csv and manifest.json (the basket\'s products), '
                "download.sh (curl: resumable, parallel) and download.py, one query file per search that fed "
                "the basket, and ACKNOWLEDGEMENTS.md (what each dataset asks you to cite).</p>"
            )

        def failed(exc: BaseException) -> None:
            self.download.param.update(disabled=True, label="Download bundle")
            self._bundle_note.object = (
                '<div class="ax-alert ax-alert-error" role="alert">'
                f"<p>The bundle could not be made: {esc(exc)}</p></div>"
            )

        generation = self._bundles.begin()

        def start() -> None:
            if self._bundles.current(generation):
                self._bundles.submit(lambda: state.bundle_bytes(basket), done, failed, generation=generation)

        # On the next tick: the page gets the new list first, not a thread competing with it for the GIL.
        self.session.runner.dispatch(start)

    # --- keep these results offline --------------------------------------------------------------------

    @param.depends("session.backend", "session.results.result", watch=True)
    def _offline_state(self, *_: Any) -> None:
        offline = self.session.offline
        result = self.session.results.result
        reason = offline.unavailable_reason(self.session.backend, result.query if result is not None else None)
        self.offline_button.param.update(
            disabled=bool(reason) or offline.running,
            label="Keeping the results offline …" if offline.running else "Keep these results offline",
        )
        parts = []
        if offline.running:
            parts.append(f'<p role="status" aria-live="polite">{esc(offline.progress or "Starting …")}</p>')
        elif offline.message:
            kind = "ax-alert-error" if offline.failed else "ax-alert-info"
            role = "alert" if offline.failed else "status"
            parts.append(f'<div class="ax-alert {kind}" role="{role}"><p>{esc(offline.message)}</p></div>')
        if reason and not offline.running:
            parts.append(f'<p class="ax-dim ax-offline-reason">{esc(reason)}</p>')
        self._offline_note.object = "".join(parts)

    def keep_offline(self) -> bool:
        """Sync the current search's sources and months into the local catalog (off the event loop);
        False (with the reason shown) when it cannot run."""
        offline = self.session.offline
        result = self.session.results.result
        query = result.query if result is not None else None
        reason = offline.unavailable_reason(self.session.backend, query)
        if reason or offline.running or query is None:
            offline.param.update(message=reason or offline.message, failed=bool(reason))
            return False
        remote = self.session.backend
        lane = self._offline_lane
        generation = lane.begin()
        offline.param.update(running=True, failed=False, message="", progress="Starting …")

        def progress(text: str) -> None:
            lane.post(generation, lambda: setattr(offline, "progress", text))

        lane.submit(
            lambda: offline.sync(remote, query, progress=progress),
            offline.finished,
            offline.failed_with,
            generation=generation,
        )
        return True

    # --- the browser's storage and the link --------------------------------------------------------------

    def _on_store(self, event: Any) -> None:
        msg = getattr(event, "data", event)
        if not isinstance(msg, dict):
            return
        state = self.session.basket
        if "restore" in msg:
            text = msg["restore"]
            state.restore(text if isinstance(text, str) else "")
        elif "failed" in msg:
            state.message = (
                f"This browser could not keep the basket ({str(msg['failed'])[:80]}): it is "
                f"{plural(len(state.basket), 'product')}, more than its storage holds. Download the bundle to keep it."
            )

    @param.depends("basket", watch=True)
    def _on_link(self) -> None:
        # A link's basket is added to this browser's; the URL then follows the basket itself.
        if self.basket and self.basket != self.session.basket.link_token():
            self.session.basket.apply_link_token(self.basket)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._summary,
            self._message,
            self._note,
            pn.Row(self.download, self.undo_button, self.clear_button, self.remove_button),
            self._bundle_note,
            self._groups,
            self._table_holder,
            html("<h2 class='ax-h'>Keep these results offline</h2>", margin=(10, 10, 0, 10)),
            html(
                "<p class='ax-dim'>Copies every record of the current search's data sources and months from the "
                "AuroraX API into the local catalog, so the same searches work without a network.</p>",
                sizing_mode="stretch_width",
            ),
            self.offline_button,
            self._offline_note,
            self.store,
            sizing_mode="stretch_width",
            css_classes=["ax-basket"],
        )
