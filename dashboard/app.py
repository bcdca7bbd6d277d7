"""Build the dashboard for one browser session: ``create_app(backend=None)``.

``panel serve dashboard`` runs ``dashboard/main.py``, which calls this once per session, so every
session gets its own state, backend connection and views. Only read-only things (the thumbnail
service, whose values are pure functions of a product URL) are shared, through ``pn.state.as_cached``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import panel as pn
from panel.io.state import set_curdoc
from panel.theme.fast import Fast

from aurorax_core import AuroraXCoreError, DemoBuildProgress, default_catalog_path, ensure_demo_catalog

from .images import ImageSource
from .media import esc
from .runner import thread_runner
from .state import DashboardState, friendly_error
from .views.backend import BackendPanel, connect
from .views.export import ExportPanel
from .views.gallery import Gallery
from .views.preview import ProductPreview
from .views.results_table import ResultsTable
from .views.search_form import EnterToSearch, SearchForm
from .views.status import SearchStatus
from .views.style import html

TITLE = "AuroraX data products"
ACCENT = "#0072b2"  # Okabe-Ito blue: readable on white and on the dark theme's background
_PERMALINK_PARAMS = [
    "start",
    "end",
    "programs",
    "platforms",
    "instrument_types",
    "data_product_types",
    "metadata_filters",
    "metadata_filters_logical_operator",
    "table_filters",
    "selected_index",
    "view",
    "result",
]

pn.extension("tabulator", notifications=False)

# Panel's Fast design links a Google Fonts stylesheet. The page must work offline and must not make
# the browser contact hosts other than this server, so drop it (the system font is used instead).
# A subclass cannot do this: Panel resolves the design's bundled files by class name.
Fast._resources = {**Fast._resources, "font": {}}


# Searches of all sessions share two workers, first come first served. Ten sessions searching at
# once with a thread each made every search finish at about the time of the slowest (the threads
# share the GIL and the cores); queued, the first sessions get their rows in a fraction of that.
_SEARCH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dashboard-search")


def _search_executor(fn: Callable[[], None]) -> None:
    _SEARCH_POOL.submit(fn)


def _doc_dispatcher(doc: Any) -> Callable[[Callable[[], None]], None]:
    """Run ``fn`` on the session's event loop (Bokeh documents are not thread-safe)."""

    def dispatch(fn: Callable[[], None]) -> None:
        def run() -> None:
            with set_curdoc(doc):
                fn()

        doc.add_next_tick_callback(run)

    return dispatch


def _shared_images() -> ImageSource:
    def make() -> Any:
        from aurorax_core import ThumbnailService

        return ThumbnailService()

    try:
        service = pn.state.as_cached("aurorax-dashboard-thumbnail-service", make)
    except (ImportError, AuroraXCoreError):
        service = None
    return ImageSource(service=service)


def _default_spec() -> str | None:
    """What the page opens by default: AURORAX_API_URL, else AURORAX_CATALOG / the default catalog."""
    return os.environ.get("AURORAX_API_URL", "").strip() or None


def create_app(backend: Any = None, *, images: ImageSource | None = None) -> pn.template.FastListTemplate:
    """The whole dashboard for one session.

    Args:
        backend: a Backend, an API URL or a catalog path; None uses ``AURORAX_API_URL``, else
            ``AURORAX_CATALOG`` or the default catalog (the demo archive is built on first use,
            with progress shown on the page).
        images: where thumbnails come from (default: the core's ThumbnailService, shared).
    """
    doc = pn.state.curdoc
    served = doc is not None and doc.session_context is not None
    state = DashboardState()
    if served:
        state.runner.executor = thread_runner
        state.runner.search_executor = _search_executor
        state.runner.dispatch = _doc_dispatcher(doc)
    images = images if images is not None else _shared_images()

    status = SearchStatus(state=state)
    form = SearchForm(state=state)
    table = ResultsTable(state=state, images=images)
    gallery = Gallery(state=state, images=images)
    preview = ProductPreview(state=state, images=images)
    export = ExportPanel(state=state)
    backend_panel = BackendPanel(state=state)
    startup = html("", sizing_mode="stretch_width", visible=False)

    tabs = pn.Tabs(
        ("Table", table),
        ("Gallery", gallery),
        ("Export", export),
        sizing_mode="stretch_width",
        dynamic=False,
        # The results keep at least 600 px (thumbnail, name, type, sub-type and start without
        # scrolling); the preview wraps below them when the window is too narrow for both.
        styles={"flex": "1 1 600px", "min-width": "0"},
    )

    def on_tab(*_: Any) -> None:
        state.view = "gallery" if tabs.active == 1 else "table"

    tabs.param.watch(on_tab, "active")
    state.param.watch(lambda *_: setattr(tabs, "active", 1 if state.view == "gallery" else tabs.active), "view")

    template = pn.template.FastListTemplate(
        # No separate site name: "AuroraX - AuroraX data products" said the same thing twice.
        site="",
        title=TITLE,
        sidebar=[backend_panel, form, EnterToSearch(state=state)],
        main=[
            pn.Column(
                startup,
                status,
                pn.FlexBox(tabs, preview, flex_wrap="wrap", align_items="flex-start", sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            )
        ],
        accent=ACCENT,
        theme_toggle=True,
        sidebar_width=360,
        main_layout=None,
        font="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    )
    # Keep references for tests and the benchmark (per session, not module-level).
    template.state = state  # type: ignore[attr-defined]
    template.views = {  # type: ignore[attr-defined]
        "status": status,
        "form": form,
        "table": table,
        "gallery": gallery,
        "preview": preview,
        "export": export,
        "backend": backend_panel,
        "tabs": tabs,
    }

    def ready(resolved: Any, sources: list[Any], vocabulary: dict[str, list[Any]]) -> None:
        state.apply_backend(resolved, sources, vocabulary)
        startup.visible = False
        _start_permalinks(state)
        state.backend_opening = False  # runs a Search pressed while it was opening

    def failed(exc: BaseException) -> None:
        title, message = friendly_error(exc, action="Opening the backend")
        startup.object = (
            f'<div class="ax-alert ax-alert-error" role="alert"><strong>{esc(title)}</strong>'
            f"<p>{esc(message)}</p><p>Choose another backend in the sidebar.</p></div>"
        )
        startup.visible = True
        _start_permalinks(state)
        state.backend_opening = False

    def progress(message: str) -> None:
        startup.object = f'<div class="ax-alert ax-alert-info" role="status"><p>{esc(message)}</p></div>'
        startup.visible = True

    opening = state.runner.lane()

    def load() -> tuple[Any, list[Any], dict[str, list[Any]]]:
        spec = backend if backend is not None else _default_spec()
        if spec is None:
            spec = _ensure_default_catalog(lambda m: state.runner.dispatch(lambda: progress(m)))
        return connect(spec)

    def start_loading() -> None:
        opening.submit(load, lambda answer: ready(*answer), failed)

    if backend is not None and not isinstance(backend, (str, Path)):
        # A ready Backend object (tests, benchmarks): load synchronously, it is local.
        try:
            resolved, sources, vocabulary = connect(backend)
            ready(resolved, sources, vocabulary)
        except BaseException as exc:
            failed(exc)
    else:
        state.backend_opening = True
        progress("Opening the backend …")
        if served:
            pn.state.onload(start_loading)
        else:
            start_loading()

    if served:
        pn.state.on_session_destroyed(lambda _ctx: _close(state))
    return template


def _close(state: DashboardState) -> None:
    state.cancel_search()
    if state.backend is not None:
        # The session is gone; there is nobody to report a failing close to.
        with contextlib.suppress(Exception):
            state.backend.close()


def _ensure_default_catalog(progress: Callable[[str], None]) -> str:
    """The default catalog path, building the demo archive first (with progress) when it is missing.

    Raises:
        CatalogError: the demo archive cannot be written there.
    """
    path = default_catalog_path()
    if not Path(path).exists():
        progress(f"Building the demo archive at {path} (first run only) …")

        def report(event: DemoBuildProgress) -> None:
            progress(f"Building the demo archive (first run only): {event.message} — {event.fraction:.0%}")

        ensure_demo_catalog(path, progress=report)
    return str(path)


def _start_permalinks(state: DashboardState) -> None:
    """Apply the page URL's query once the backend is known, then keep the URL in sync."""
    location = pn.state.location
    if location is None or getattr(state, "_permalinks_started", False):
        return
    state._permalinks_started = True  # type: ignore[attr-defined]
    params = dict(parse_qsl((location.search or "").lstrip("?")))
    theme = params.get("theme")
    if not any(params.get(k) for k in ("start", "program", "platform", "instrument_type")):
        # A first visit starts from the documentation's example rather than an empty, invalid form.
        state.preset_example_day()
    problems = state.apply_permalink(params)
    if problems:
        state.param.update(error_title="Part of the link could not be used", error="; ".join(problems))
    elif params.get("start") and not state.check():
        state.param.trigger("search")

    def update(*_: Any) -> None:
        if state.is_searching and state.result is None:
            return
        query = state.to_permalink()
        if theme:
            query["theme"] = theme
        search = "?" + urlencode(query)
        if location.search != search:
            location.search = search

    state.param.watch(update, _PERMALINK_PARAMS)
    update()
