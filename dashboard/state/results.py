"""The results of a session: the search result, its frame, the table's filters and order, the selection."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

import param

from aurorax_core import DataProduct, SearchResult, products_to_dataframe

# name -> fn(result, frame): per-result values that views need (e.g. the table's display frame).
ResultView = Callable[[SearchResult, Any], Any]


class RowOrder(list):
    """The value of ``Results.view_indices``: a list that param compares with ``==``.

    param decides whether a value changed by walking two lists element by element in Python;
    for a month's 7,638 rows that was ~80 ms on the session's event loop per search.
    """


param.parameterized.Comparator.equalities[RowOrder] = operator.eq


class Results(param.Parameterized):
    """What the last search found and how the user looks at it (filters, order, open product)."""

    result = param.ClassSelector(class_=SearchResult, default=None, allow_None=True)
    frame = param.DataFrame(default=None, allow_None=True, doc="One row per product (DATAFRAME_COLUMNS).")
    view_indices = param.List(default=[], doc="Row indices of the results as filtered and sorted in the table.")
    table_filters = param.Dict(default={}, doc="Table column -> header-filter text.")
    selected_index = param.Integer(default=None, allow_None=True, doc="Index into result.data of the open product.")
    pending_selection = param.String(default="", doc="URL of a product to select once results arrive (permalink).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # A search computes these in its worker thread, so that nothing proportional to the
        # result size runs on the session's event loop (shared by all sessions of the server).
        self.result_views: dict[str, ResultView] = {}
        self.prepared: dict[str, Any] = {}

    def prepare_views(self, result: SearchResult, frame: Any) -> dict[str, Any]:
        """Run the registered ``result_views`` builders (meant for the worker thread).

        Raises:
            Exception: whatever a builder raises (the search then reports it as failed).
        """
        return {name: build(result, frame) for name, build in list(self.result_views.items())}

    def show(self, result: SearchResult, *, frame: Any = None, prepared: dict[str, Any] | None = None) -> None:
        """Show ``result``; ``frame`` and ``prepared`` when already built (in a worker), else built here.

        The permalink's pending selection is opened when the product is among the results.
        """
        if frame is None:
            frame = products_to_dataframe(result.data)
        self.prepared = prepared if prepared is not None else self.prepare_views(result, frame)
        selected = None
        if self.pending_selection:
            selected = next((i for i, p in enumerate(result.data) if p.url == self.pending_selection), None)
        self.param.update(
            result=result,
            frame=frame,
            view_indices=RowOrder(range(len(result.data))),
            selected_index=selected,
            pending_selection="",
        )

    @property
    def selected(self) -> DataProduct | None:
        """The product whose preview is open."""
        if self.result is None or self.selected_index is None:
            return None
        if 0 <= self.selected_index < len(self.result.data):
            return self.result.data[self.selected_index]
        return None

    def select_url(self, url: str) -> bool:
        """Open the product with this URL; False when it is not in the results."""
        if self.result is None:
            return False
        for i, p in enumerate(self.result.data):
            if p.url == url:
                self.selected_index = i
                return True
        return False

    def step(self, delta: int) -> bool:
        """Open the next (``delta`` > 0) or previous product in the table's order; False at an end.

        With nothing open, any step opens the first product of the order.
        """
        order = self.view_indices
        if self.result is None or not order:
            return False
        if self.selected_index is None or self.selected_index not in order:
            target = order[0] if delta >= 0 else order[-1]
        else:
            position = order.index(self.selected_index) + delta
            if not 0 <= position < len(order):
                return False
            target = order[position]
        self.selected_index = target
        return True

    def position(self) -> tuple[int, int] | None:
        """(1-based place of the open product in the table's order, how many there are)."""
        if self.selected_index is None or self.selected_index not in self.view_indices:
            return None
        return self.view_indices.index(self.selected_index) + 1, len(self.view_indices)

    def view_products(self) -> list[DataProduct]:
        """The results as the table currently filters and sorts them."""
        if self.result is None:
            return []
        data = self.result.data
        return [data[i] for i in self.view_indices if 0 <= i < len(data)]

    # --- permalinks -----------------------------------------------------------------------------

    def to_permalink(self) -> dict[str, str]:
        """URL parameters of the table filters and the open product."""
        out: dict[str, str] = {}
        if self.table_filters:
            out["table"] = json.dumps(self.table_filters, separators=(",", ":"), sort_keys=True)
        selected = self.selected
        if selected is not None:
            out["product"] = selected.url
        elif self.pending_selection:
            out["product"] = self.pending_selection
        return out

    def apply_permalink(self, params: Mapping[str, str]) -> list[str]:
        """Restore table filters and the product to open once results arrive; problems found."""
        problems: list[str] = []
        if params.get("table"):
            try:
                table = json.loads(str(params["table"]))
                if not isinstance(table, dict):
                    raise ValueError("not an object")
                self.table_filters = {str(k): str(v) for k, v in table.items() if isinstance(v, (str, int, float))}
            except ValueError as exc:
                problems.append(f"link parameter table: {exc}")
        if params.get("product"):
            self.pending_selection = str(params["product"])
        return problems
