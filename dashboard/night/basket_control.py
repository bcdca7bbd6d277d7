"""The night view's add-to-basket control: the night's keograms and the movies shown, in one click."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from aurorax_core import DataProduct

from .view import NightView


def night_products(view: NightView) -> tuple[list[DataProduct], list[DataProduct]]:
    """(keograms on the rows, movies of the chosen sites) of the night the view shows."""
    stack = view.stack
    if stack is None:
        return [], []
    keograms = [placed.product for row in stack.rows for placed in row.keograms]
    movies = [stack.movies[code] for code in view.state.sites if code in stack.movies]
    return keograms, movies


class NightBasketButton(pn.viewable.Viewer):
    """'Add this night's N keograms and M movies to the basket' (``basket``: the session's BasketState)."""

    view = param.ClassSelector(class_=NightView, instantiate=False)
    basket = param.Parameter(doc="The session's basket (dashboard.state.basket.BasketState).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.button = pn.widgets.Button(label="Add this night to basket", disabled=True, css_classes=["nv-basket"])
        self.button.on_click(lambda _e: self.add())
        self.view.param.watch(self._label, ["stack"])
        self.view.state.param.watch(self._label, ["sites"])
        self._label()

    def add(self) -> int:
        keograms, movies = night_products(self.view)
        return int(self.basket.add([*keograms, *movies]))

    def _label(self, *_: Any) -> None:
        keograms, movies = night_products(self.view)
        parts = [f"{len(keograms)} keogram{'s' if len(keograms) != 1 else ''}"] if keograms else []
        if movies:
            parts.append(f"{len(movies)} movie{'s' if len(movies) != 1 else ''}")
        self.button.param.update(
            label=f"Add this night's {' and '.join(parts)} to basket" if parts else "Add this night to basket",
            disabled=not parts,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.button
