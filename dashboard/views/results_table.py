"""The results table: one row per product, thumbnails, header filters, remote pagination, selection."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import panel as pn
import param

from ..media import alt_text, esc, img_html, link_html
from ..state import RowOrder
from .base import SessionView
from .basket_controls import TableBasketBar
from .style import html

# Shown columns, in order, with their headers. Times are text (YYYY-MM-DD HH:MM:SS) so that the
# header filters are plain substring filters and sorting stays lexicographic = chronological.
# What tells products apart comes first, so it stays in view on narrow screens.
COLUMNS: dict[str, str] = {
    "thumbnail": "Thumbnail",
    "display_name": "Display name",
    "data_product_type": "Product type",
    "sub_type": "Sub-type",
    "start": "Start (UTC)",
    "end": "End (UTC)",
    "program": "Program",
    "platform": "Platform",
    "instrument_type": "Instrument type",
    "imaging_start_time": "Imaging start (UTC)",
    "imaging_end_time": "Imaging end (UTC)",
    "link": "Original",
}
FILTERABLE = [c for c in COLUMNS if c not in ("thumbnail", "link")]
PAGE_SIZE = 20


def _shared_text(series: pd.Series, fmt: Any = None) -> pd.Series:
    """The column as Python strings ('' for missing), one string object per distinct value.

    Products repeat a few names, types and times thousands of times; formatting each distinct
    value once and sharing the object keeps the display frame small (~12 -> ~3 MB per 15,000 rows)
    and fast to build.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = fmt(uniques) if fmt is not None else [str(v) for v in uniques]
    table = np.array([*texts, ""], dtype=object)  # code -1 (missing) -> the last entry, ""
    return pd.Series(table[codes], index=series.index, dtype=object)


def _format_times(uniques: Any) -> list[str]:
    return list(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d %H:%M:%S"))


def table_frame(results: pd.DataFrame | None) -> pd.DataFrame:
    """The display frame: the shown columns as text; thumbnails and links are filled in for the
    visible page only (see ``ResultsTable``)."""
    if results is None or results.empty:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in COLUMNS})
    frame = pd.DataFrame(index=results.index)
    blank = np.full(len(results), "", dtype=object)
    frame["thumbnail"] = blank
    for name in ("display_name", "program", "platform", "instrument_type", "data_product_type", "sub_type"):
        frame[name] = _shared_text(results[name])
    for name in ("start", "end", "imaging_start_time", "imaging_end_time"):
        frame[name] = _shared_text(results[name], _format_times)
    frame["link"] = blank.copy()
    return frame[list(COLUMNS)]


_HIDE_THUMBNAILS = """
.tabulator-col[tabulator-field="thumbnail"], .tabulator-cell[tabulator-field="thumbnail"] { display: none !important; }
"""

# Ties of a sort keep time order: start, then the site's display name, then the result order.
TIE_BREAKERS = ("start", "display_name")


class ResultsTabulator(pn.widgets.Tabulator):
    """A Tabulator whose sort is stable and keeps time in order.

    Panel 1.9 breaks ties between equal values by the row position written as text ('10' sorts
    before '2'), so sorting by display name scrambled each site's rows in time. Here a sort is
    a stable multi-column sort, with ``TIE_BREAKERS`` appended, case-insensitive like
    Tabulator's own.
    """

    def _sort_df(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.sorters:
            return df
        fields = [self._renamed_cols.get(s["field"], s["field"]) for s in self.sorters]
        ascending = [s.get("dir", "asc") == "asc" for s in self.sorters]
        for tie in TIE_BREAKERS:
            if tie not in fields and tie in df.columns:
                fields.append(tie)
                ascending.append(True)

        def key(column: pd.Series) -> pd.Series:
            return column.fillna("").astype(str).str.lower() if column.dtype.kind in "SUO" else column

        return df.sort_values(fields, ascending=ascending, kind="mergesort", key=key)


def encode_sort(sorters: list[dict[str, Any]]) -> str:
    """Tabulator sorters as link text: ``display_name,-start`` (``-`` for descending)."""
    return ",".join(("-" if s.get("dir") == "desc" else "") + str(s.get("field")) for s in sorters)


def decode_sort(text: str) -> list[dict[str, str]]:
    """Link text to Tabulator sorters; columns that cannot be sorted are left out."""
    sorters = []
    for part in (p.strip() for p in text.split(",")):
        field = part.lstrip("-")
        if field in FILTERABLE and all(s["field"] != field for s in sorters):
            sorters.append({"field": field, "dir": "desc" if part.startswith("-") else "asc"})
    return sorters


class ResultsTable(SessionView):
    """Tabulator over the results; filters/sort -> ``results.view_indices``; click -> selection."""

    name = param.String(default="table", constant=True)
    title: ClassVar[str] = "Table"
    needs: ClassVar[tuple[str, ...]] = ("results", "runner", "images")
    permalink: ClassVar[tuple[str, ...]] = ("sort",)

    sort = param.String(default="", doc="The table's sort as link text, e.g. 'display_name,-start'.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        header_filters = {
            name: {"type": "input", "func": "like", "placeholder": f"Filter {COLUMNS[name].lower()}"}
            for name in FILTERABLE
        }
        self.table = ResultsTabulator(
            table_frame(None),
            pagination="remote",
            page_size=PAGE_SIZE,
            header_filters=header_filters,
            titles=COLUMNS,
            show_index=False,
            selectable=True,  # Ctrl/Shift-click selects several rows (for the basket)
            disabled=True,
            layout="fit_data_table",
            formatters={"thumbnail": {"type": "html"}, "link": {"type": "html"}},
            header_align="left",
            widths={"thumbnail": 136},
            sizing_mode="stretch_width",
            min_height=200,
            css_classes=["ax-results"],
        )
        self._count = html("", margin=(0, 10), sizing_mode="stretch_width")
        self._link_filters: dict[str, str] = {}
        # One bound method object: Tabulator.remove_filter compares by identity, and each
        # ``self._link_filter`` access makes a new one (the old filter then was never removed).
        self._link_filter_fn = self._link_filter
        # Thumbnails of several pages may load at once; new results make them all stale.
        self._thumbs = self.session.runner.lane(supersede=False)
        self._pending: set[int] = set()
        self._chips = pn.Row(visible=False, sizing_mode="stretch_width")
        self._basket_bar = TableBasketBar(session=self.session, table=self.table)
        self.table.param.watch(self._on_selection, ["selection"])
        self.table.param.watch(self._on_view_change, ["filters", "sorters"])
        self.table.param.watch(lambda e: setattr(self, "sort", encode_sort(e.new)), "sorters")
        self.table.param.watch(self._load_page_thumbnails, ["page", "value"])
        # The display frame is built with the search, in its worker thread.
        self.session.results.result_views["table"] = lambda _result, frame: table_frame(frame)
        self._on_results()

    # --- results -> table ---------------------------------------------------------------------
    # Each direction sets the other side only when it differs, so nothing echoes back.

    @param.depends("session.results.frame", watch=True)
    def _on_results(self) -> None:
        results = self.session.results
        self._thumbs.reset()
        self._pending.clear()
        frame = results.prepared.get("table")
        if frame is None or results.frame is None or len(frame) != len(results.frame):
            frame = table_frame(results.frame)
        self._fill_cached_thumbnails(frame)
        self.table.param.update(value=frame, selection=[], page=1)
        self._apply_state_filters()
        self._on_view_change()
        self._on_selected()

    def _header_filters(self) -> dict[str, str]:
        return {
            str(f.get("field")): str(f.get("value"))
            for f in self.table.filters
            if isinstance(f, dict) and f.get("value") not in (None, "") and f.get("field") in FILTERABLE
        }

    def _apply_state_filters(self) -> None:
        """Filters that came from the state (a permalink) and are not typed in the header.

        Panel cannot push values into Tabulator's header inputs, so these are applied on the
        server as a function filter and shown as removable chips above the table.
        """
        header = self._header_filters()
        wanted = {
            k: v for k, v in self.session.results.table_filters.items() if k in FILTERABLE and v and header.get(k) != v
        }
        if wanted == self._link_filters:
            return
        if self._link_filters:
            self.table.remove_filter(self._link_filter_fn)
        self._link_filters = wanted
        if wanted:
            self.table.add_filter(self._link_filter_fn)
        self._render_chips()

    def _link_filter(self, frame: pd.DataFrame) -> pd.DataFrame:
        # The same rule as the header filters ("like": case-insensitive substring); "=text" is an
        # exact match (a facet chip's "daily" must not also select "daily_hires").
        mask = pd.Series(True, index=frame.index)
        for column, text in self._link_filters.items():
            values = frame[column].astype(str)
            if text.startswith("="):
                mask &= values.str.lower() == text[1:].lower()
            else:
                mask &= values.str.contains(text, case=False, regex=False)
        return frame[mask]

    def _render_chips(self) -> None:
        chips = []
        for column, text in self._link_filters.items():
            label = f"{COLUMNS[column]} contains “{text}”"
            button = pn.widgets.Button(label=f"Remove filter: {label} ✕", description=f"Remove the filter {label}")
            button.on_click(lambda _e, c=column: self._drop_link_filter(c))
            chips.append(button)
        self._chips.objects = chips
        self._chips.visible = bool(chips)

    def _drop_link_filter(self, column: str) -> None:
        results = self.session.results
        results.table_filters = {k: v for k, v in results.table_filters.items() if k != column}

    @param.depends("session.results.table_filters", watch=True)
    def _on_state_filters(self) -> None:
        before = dict(self._link_filters)
        self._apply_state_filters()
        if self._link_filters != before:
            self._on_view_change()

    @param.depends("session.results.selected_index", watch=True)
    def _on_selected(self) -> None:
        results = self.session.results
        index = results.selected_index
        # With a preview open beside the table, its big image stands for the row's thumbnail: the
        # thumbnail column gives its width to name, type, sub-type and start (a style, no re-render).
        sheets = [_HIDE_THUMBNAILS] if index is not None else []
        if list(self.table.stylesheets) != sheets:
            self.table.stylesheets = sheets
        wanted = [] if index is None else [index]
        place = results.position()
        if place is not None:
            # j/k past the page's last row turns the page, so the open product's row stays in view.
            page = (place[0] - 1) // self.table.page_size + 1
            if page != self.table.page:
                self.table.page = page
        # A multi-row selection (for the basket) that holds the open product is kept as it is.
        if list(self.table.selection) != wanted and index not in self.table.selection:
            self.table.selection = wanted

    @param.depends("sort", watch=True)
    def _on_sort(self) -> None:
        sorters = decode_sort(self.sort)
        if sorters != list(self.table.sorters):
            self.table.sorters = sorters

    # --- table -> results ---------------------------------------------------------------------

    def _on_selection(self, event: param.parameterized.Event) -> None:
        selection = list(event.new)
        if selection:
            self.session.results.selected_index = int(self.table.value.index[selection[0]])

    def _on_view_change(self, *_: Any) -> None:
        # What the user filtered and sorted is what the gallery and the exports use.
        results = self.session.results
        view = self.table.current_view
        filters = {**self._link_filters, **self._header_filters()}
        updates: dict[str, Any] = {"view_indices": RowOrder(int(i) for i in view.index)}
        if filters != results.table_filters:
            updates["table_filters"] = filters
        results.param.update(**updates)
        self._render_count()
        self._load_page_thumbnails()

    def _render_count(self) -> None:
        results = self.session.results
        if results.result is None:
            self._count.object = (
                '<p class="ax-count" role="status" aria-live="polite">No search yet: choose a time range and '
                "data sources, then press Search (or Enter in a field).</p>"
            )
            return
        total = 0 if results.frame is None else len(results.frame)
        shown = len(results.view_indices)
        text = f"{total} product{'s' if total != 1 else ''}"
        if shown != total:
            text = f"{shown} of {total} products match the table filters"
        self._count.object = f'<p class="ax-count" role="status" aria-live="polite">{esc(text)}</p>'

    def _fill_cached_thumbnails(self, frame: pd.DataFrame) -> None:
        """Put the first page's links, and its thumbnails already in memory, into the frame, so that
        rows, links and warm thumbnails reach the browser in one message (a few dict look-ups)."""
        result = self.session.results.result
        images = self.session.images
        if result is None or frame.empty:
            return
        page = list(frame.index[: self.table.page_size])
        links = frame["link"].copy()
        thumbs = frame["thumbnail"].copy()
        for i in page:
            product = result.data[i]
            links.at[i] = link_html(product.url, "open ↗")
            uri = images.cached_thumbnail(product) if images is not None else None
            if uri is not None:
                thumbs.at[i] = img_html(uri, alt_text(product), width=120, height=60)
        frame["link"] = links
        frame["thumbnail"] = thumbs

    def _page_rows(self) -> list[int]:
        first = (max(self.table.page, 1) - 1) * self.table.page_size
        rows = self.session.results.view_indices[first : first + self.table.page_size]
        return [i for i in rows if i in self.table.value.index]

    @param.depends("session.view", watch=True)
    def _on_shown(self) -> None:
        if self.session.view == self.name:
            self._load_page_thumbnails()

    def _load_page_thumbnails(self, *_: Any) -> None:
        """Fill the thumbnail cells of the visible page only, made off the event loop.

        The rows go to the browser first; thumbnails follow as one patch per page.
        """
        result = self.session.results.result
        if result is None or self.table.value.empty:
            return
        page = self._page_rows()
        # Links are cheap: made here, for the shown page only (not for every row of a big result).
        links = [(i, link_html(result.data[i].url, "open ↗")) for i in page if not self.table.value.at[i, "link"]]
        self._patch_cells("link", links)
        images = self.session.images
        # Hidden (another tab is shown): the page's thumbnails wait for the tab, instead of being
        # rendered beside the gallery's (a cold gallery took 1.1 s instead of 0.4 s to fill).
        if images is None or self.session.view != self.name:
            return
        missing = [i for i in page if not self.table.value.at[i, "thumbnail"] and i not in self._pending]
        if not missing:
            return
        self._pending.update(missing)
        products = [result.data[i] for i in missing]

        def work() -> list[str]:
            try:
                uris = images.thumbnails(products)
            except Exception:  # a failed render leaves the placeholder; never breaks the table
                uris = [None] * len(products)
            return [img_html(uri, alt_text(p), width=120, height=60) for p, uri in zip(products, uris, strict=True)]

        self._thumbs.submit(work, lambda cells: self._apply_thumbnails(missing, cells))

    def _apply_thumbnails(self, indices: list[int], cells: list[str]) -> None:
        self._pending.difference_update(indices)
        self._patch_cells("thumbnail", list(zip(indices, cells, strict=True)))

    def _patch_cells(self, column: str, items: list[tuple[int, str]]) -> None:
        """Set cells of the shown page.

        Panel 1.9's ``Tabulator.patch`` forwards absolute row positions to the browser's data
        source, which with remote pagination holds only the current page: any patch past the first
        page fails with "Out-of bounds index". Past page 1 the frame is updated in place and the
        page re-sent instead (a trigger keeps the selection: the index does not change).
        """
        if not items:
            return
        if self.table.page <= 1:
            self.table.patch({column: items})
            return
        frame = self.table.value
        for index, cell in items:
            frame.at[index, column] = cell
        self.table.param.trigger("value")

    def __panel__(self) -> pn.viewable.Viewable:
        # The active filters are listed above the results in every tab (views/facets.py).
        return pn.Column(self._count, self._basket_bar, self.table, sizing_mode="stretch_width")
