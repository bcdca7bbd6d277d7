"""Export the current results (CSV, aurorax-cli JSON, URL list) and the query (file, Python)."""

from __future__ import annotations

import io
import json
from typing import Any, ClassVar

import panel as pn
import param

from aurorax_core import AuroraXCoreError

from .. import exports
from ..state import FIELD_NAMES
from .base import SessionView
from .style import html

_MONO = (
    "textarea { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 12px; "
    "white-space: pre; overflow-wrap: normal; overflow-x: auto; }"
)


class ExportPanel(SessionView):
    """Download buttons over ``results.view_products()`` and the query; copyable Python snippets."""

    name = param.String(default="export", constant=True)
    title: ClassVar[str] = "Export"
    deferred: ClassVar[bool] = True
    needs: ClassVar[tuple[str, ...]] = ("form", "results")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        results = self.session.results

        def download(label: str, filename: str, make: Any, description: str) -> pn.widgets.FileDownload:
            def callback() -> io.BytesIO:
                return io.BytesIO(make().encode("utf-8"))

            return pn.widgets.FileDownload(
                callback=callback,
                filename=filename,
                label=label,
                color="default",
                embed=False,
                description=description,
                width=190,
            )

        self._csv = download("Results as CSV", "aurorax_results.csv", self._csv_text, "The filtered results as CSV")
        self._json = download(
            "Results as JSON",
            "aurorax_results_data.json",
            lambda: exports.results_json(results.view_products()),
            "The filtered results in aurorax-cli's data-file format",
        )
        self._urls = download(
            "URL list", "aurorax_urls.txt", lambda: exports.url_list(results.view_products()), "One URL per line"
        )
        self._query = download(
            "Query file", "aurorax_query.json", self._query_text, "The query as an aurorax-cli query file"
        )
        self._core_code = pn.widgets.TextAreaInput(
            label="Python (aurorax_core)", height=230, sizing_mode="stretch_width", stylesheets=[_MONO]
        )
        self._pyaurorax_code = pn.widgets.TextAreaInput(
            label="Python (pyaurorax)", height=230, sizing_mode="stretch_width", stylesheets=[_MONO]
        )
        self._copy_core = pn.widgets.Button(label="Copy aurorax_core code", width=200)
        self._copy_pyaurorax = pn.widgets.Button(label="Copy pyaurorax code", width=200)
        copy = "navigator.clipboard && navigator.clipboard.writeText(src.value);"
        self._copy_core.js_on_click(args={"src": self._core_code}, code=copy)
        self._copy_pyaurorax.js_on_click(args={"src": self._pyaurorax_code}, code=copy)
        self._message = html("", sizing_mode="stretch_width")
        # Every query field (from the one field table) and the backend's URL change the code.
        self.session.form.param.watch(self._update_code, list(FIELD_NAMES))
        self.session.param.watch(self._update_code, ["backend_name"])
        self._update_code()

    def _api_url(self) -> str | None:
        name = self.session.backend_name
        return name if name.startswith(("http://", "https://")) else None

    def _csv_text(self) -> str:
        return exports.results_csv(self.session.results.view_products())

    def _query_text(self) -> str:
        try:
            return exports.query_file(self.session.form.to_query())
        except AuroraXCoreError as exc:
            # The button cannot refuse a click; the file says what is wrong instead of being silently bad.
            return json.dumps({"error": str(exc)}, indent=2) + "\n"

    def _update_code(self, *_: Any) -> None:
        try:
            query = self.session.form.to_query()
        except AuroraXCoreError as exc:
            text = f"# The query is not complete yet: {exc}"
            self._core_code.value = text
            self._pyaurorax_code.value = text
            return
        self._core_code.value = exports.python_core(query, api_url=self._api_url())
        self._pyaurorax_code.value = exports.python_pyaurorax(query, api_url=self._api_url())

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            html("<h2 class='ax-h'>Export the filtered results</h2>", margin=(0, 10)),
            pn.FlexBox(self._csv, self._json, self._urls, self._query, sizing_mode="stretch_width"),
            html("<h2 class='ax-h'>Run this search from Python</h2>", margin=(0, 10)),
            pn.Column(self._core_code, self._copy_core, sizing_mode="stretch_width"),
            pn.Column(self._pyaurorax_code, self._copy_pyaurorax, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
