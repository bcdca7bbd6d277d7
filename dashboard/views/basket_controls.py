"""Add-to-basket controls for the views that list products (table, gallery, preview).

They live here, not in those views, so that each view gains one line: the table shows a
:class:`TableBasketBar`, the preview a :class:`PreviewBasketButton`, the gallery calls
:func:`toggle_result`. Everything goes through ``session.basket`` (``dashboard/state/basket.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import panel as pn
import param

from ..state import DashboardSession
from ..state.basket import plural


def add_results(session: DashboardSession, indices: Iterable[int]) -> int:
    """Add the results at ``indices`` (into ``result.data``) to the basket; how many were new."""
    result = session.results.result
    if result is None:
        return 0
    data = result.data
    products = [data[i] for i in indices if 0 <= i < len(data)]
    return session.basket.add(products, query=result.query)


def toggle_result(session: DashboardSession, index: int) -> bool:
    """Put the result at ``index`` in the basket, or take it out when it is in; True when it is now in."""
    result = session.results.result
    if result is None or not 0 <= index < len(result.data):
        return False
    product = result.data[index]
    if product in session.basket:
        session.basket.remove([product.url])
        return False
    session.basket.add([product], query=result.query)
    return True


class TableBasketBar(pn.viewable.Viewer):
    """'Add N selected to basket' (Ctrl/Shift-click rows to select several) and 'Add all N shown'."""

    session = param.ClassSelector(class_=DashboardSession, instantiate=False)
    table = param.ClassSelector(
        class_=pn.widgets.Tabulator, allow_refs=False, doc="The results Tabulator (its selection indexes result.data)."
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.add_selected = pn.widgets.Button(
            label="Add selected to basket",
            description="Add the selected rows to the basket (Ctrl- or Shift-click rows to select several)",
            disabled=True,
        )
        self.add_shown = pn.widgets.Button(
            label="Add all shown to basket",
            description="Add every row the table shows (all pages, after its filters) to the basket",
            disabled=True,
        )
        self.add_selected.on_click(lambda _e: add_results(self.session, list(self.table.selection)))
        self.add_shown.on_click(lambda _e: add_results(self.session, list(self.session.results.view_indices)))
        self.table.param.watch(self._labels, ["selection"])
        self.session.results.param.watch(self._labels, ["view_indices", "result"])
        self._labels()

    def _labels(self, *_: Any) -> None:
        selected = len(self.table.selection)
        shown = len(self.session.results.view_indices) if self.session.results.result is not None else 0
        self.add_selected.param.update(
            label=f"Add {plural(selected, 'selected row')} to basket" if selected else "Add selected to basket",
            disabled=not selected,
        )
        self.add_shown.param.update(
            label=f"Add all {shown:,} shown to basket" if shown else "Add all shown to basket", disabled=not shown
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.add_selected, self.add_shown, css_classes=["ax-basket-bar"])


class PreviewBasketButton(pn.viewable.Viewer):
    """Puts the previewed product in the basket, or takes it out."""

    session = param.ClassSelector(class_=DashboardSession, instantiate=False)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.button = pn.widgets.Button(label="Add to basket", width=190, css_classes=["ax-preview-basket"])
        self.button.on_click(self._toggle)
        self.session.results.param.watch(self._label, ["selected_index", "result"])
        self.session.basket.param.watch(self._label, ["basket"])
        self._label()

    def _toggle(self, *_: Any) -> None:
        index = self.session.results.selected_index
        if index is not None:
            toggle_result(self.session, index)

    def _label(self, *_: Any) -> None:
        product = self.session.results.selected
        inside = product is not None and product in self.session.basket
        self.button.param.update(
            label="In basket ✓ (remove)" if inside else "Add to basket",
            description="Take this product out of the basket" if inside else "Put this product in the basket",
            color="success" if inside else "default",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.button
