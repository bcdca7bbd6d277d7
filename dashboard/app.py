"""The dashboard for one browser session: ``DashboardApp(backend=None)``.

``panel serve dashboard`` runs ``dashboard/main.py``, which makes one per session, so every
session gets its own state, backend connection and views. Only read-only things (the thumbnail
service, whose values are pure functions of a product URL) are shared, through ``pn.state.as_cached``.
The tabs come from ``views/registry.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import panel as pn
import param
from panel.theme.fast import Fast

from aurorax_core import AuroraXCoreError, DemoBuildProgress, default_catalog_path, ensure_demo_catalog

from .images import ImageSource
from .loop import document_dispatcher, served_document
from .media import esc
from .permalink import PermalinkSync
from .runner import DaemonPool, thread_runner
from .state import DashboardSession, friendly_error
from .views.backend import BackendPanel, connect
from .views.base import SessionView
from .views.copy_link import CopyLink
from .views.facets import FacetChips
from .views.preview import ProductPreview
from .views.registry import VIEWS, view_names
from .views.search_form import EnterToSearch, SearchForm
from .views.status import SearchStatus
from .views.style import html

TITLE = "AuroraX data products"
ACCENT = "#0072b2"  # Okabe-Ito blue: readable on white and on the dark theme's background
pn.extension("tabulator", notifications=False)

# Panel's Fast design links a Google Fonts stylesheet. The page must work offline and must not make
# the browser contact hosts other than this server, so drop it (the system font is used instead).
# A subclass cannot do this: Panel resolves the design's bundled files by class name.
Fast._resources = {**Fast._resources, "font": {}}


# Searches of all sessions share two workers, first come first served. Ten sessions searching at
# once with a thread each made every search finish at about the time of the slowest (the threads
# share the GIL and the cores); queued, the first sessions get their rows in a fraction of that.
_SEARCH_POOL = DaemonPool(workers=2, name="dashboard-search")


def _search_executor(fn: Callable[[], None]) -> None:
    _SEARCH_POOL.submit(fn)


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
    api = os.environ.get("AURORAX_API_URL", "").strip()
    if api:
        return api
    catalog = os.environ.get("AURORAX_CATALOG", "").strip()
    # a catalog server (postgresql://...) is opened by its URL, never built as a demo file there
    return catalog if "://" in catalog else None


class DashboardApp(pn.viewable.Viewer):
    """The whole dashboard for one session: the session, its views (tabs from the registry), the page.

    Args:
        backend: a Backend, an API URL or a catalog path; None uses ``AURORAX_API_URL``, else
            ``AURORAX_CATALOG`` or the default catalog (the demo archive is built on first use,
            with progress shown on the page).
        images: where thumbnails come from (default: the core's ThumbnailService, shared).
    """

    session = param.ClassSelector(class_=DashboardSession, instantiate=False, constant=True)

    views_registry: ClassVar[tuple[type[SessionView], ...]] = VIEWS

    def __init__(self, backend: Any = None, *, images: ImageSource | None = None, **params: Any) -> None:
        session = DashboardSession(
            view_names=view_names(self.views_registry),
            images=images if images is not None else _shared_images(),
        )
        super().__init__(session=session, **params)
        doc = served_document()
        self._served = doc is not None
        if doc is not None:
            session.runner.executor = thread_runner
            session.runner.search_executor = _search_executor
            session.runner.dispatch = document_dispatcher(doc)
        # Views by name: the registry's tabs, then the fixed parts of the page.
        self.views: dict[str, Any] = {cls.name: cls(session=session) for cls in self.views_registry}
        tab_views = list(self.views.values())
        session.tabs.update(self.views)
        self.views.update(
            status=SearchStatus(session=session),
            facets=FacetChips(session=session),
            form=SearchForm(session=session),
            preview=ProductPreview(session=session, open_night=self._open_night),
            backend=BackendPanel(session=session),
        )
        self._startup = html("", sizing_mode="stretch_width", visible=False)
        self.tabs = pn.Tabs(
            *((view.title, self._tab_content(view)) for view in tab_views),
            sizing_mode="stretch_width",
            dynamic=False,
            # The results keep at least 480 px (name, type, sub-type and start without scrolling);
            # the preview sits beside them, and wraps below only when the window is too narrow.
            styles={"flex": "1 1 480px", "min-width": "0"},
        )
        names = [view.name for view in tab_views]
        # The tab shown and session.view are one thing, linked both ways (equal values stop the echo).
        self.tabs.param.watch(lambda e: setattr(session, "view", names[e.new]), "active")
        session.param.watch(lambda e: setattr(self.tabs, "active", names.index(e.new)), "view")
        self._permalinks = PermalinkSync(session, tab_views)
        self._close_dialog = pn.widgets.Button(label="Close", description="Close the backend dialog", width=100)
        # The backend is chosen rarely: a header button opens it in a dialog, out of the form's way.
        self.backend_button = pn.widgets.Button(
            label=pn.bind(_backend_label, session.param.backend_name),
            description="Choose the embedded catalog or an AuroraX API",
            color="light",
            variant="outline",
            align="center",
        )
        self.template = pn.template.FastListTemplate(
            # No separate site name: "AuroraX - AuroraX data products" said the same thing twice.
            site="",
            title=TITLE,
            sidebar=[self.views["form"], EnterToSearch(session)],
            header=[pn.Row(self.backend_button, CopyLink(width=220, height=36, align="center"))],
            modal=[pn.Column(self.views["backend"], self._close_dialog, sizing_mode="stretch_width")],
            main=[
                pn.Column(
                    self._startup,
                    self.views["status"],
                    self.views["facets"],
                    self.views["preview"].keys,
                    pn.FlexBox(
                        self.tabs,
                        self.views["preview"],
                        flex_wrap="wrap",
                        align_items="flex-start",
                        sizing_mode="stretch_width",
                    ),
                    sizing_mode="stretch_width",
                )
            ],
            accent=ACCENT,
            theme_toggle=True,
            sidebar_width=360,
            main_layout=None,
            font="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        )
        self.backend_button.on_click(lambda _e: self.template.open_modal())
        self._close_dialog.on_click(lambda _e: self.template.close_modal())
        self._open(backend)
        if self._served:
            pn.state.on_session_destroyed(lambda _ctx: session.close())

    def _tab_content(self, view: Any) -> Any:
        """The view itself, or, for a ``deferred`` view in a served page that the link does not show,
        an empty holder filled once the page has loaded.

        The first document then carries less: with every tab's widgets in it the page took ~0.3 s
        longer to become usable. Filled on the load (not on the first show), the views are in the
        browser before anyone can click their tab.
        """
        if not (self._served and view.deferred):
            return view
        linked = (pn.state.session_args.get("view") or [b""])[0].decode("utf-8", "replace")
        if view.name == linked:
            return view
        holder = pn.Column(sizing_mode="stretch_width")

        def fill() -> None:
            if not holder.objects:
                holder[:] = [view]

        # On the load, not a moment after it: adding them makes Bokeh lay the page out again, and
        # 1.5 s later that relayout met the first clicks on the rows (a Ctrl-click's selection was
        # lost in a full test run). Shown before the load ends, the tab is filled at once.
        pn.state.onload(fill)
        self.session.param.watch(lambda e: fill() if e.new == view.name else None, "view")
        return holder

    def _open_night(self, product: Any) -> None:
        """Show the Night tab for ``product``'s night (its UT date) and source."""
        night = self.views.get("night")
        if night is None:
            return
        source = product.data_source
        form = self.session.form
        form.param.update(
            programs=[source.program], platforms=[source.platform], instrument_types=[source.instrument_type]
        )
        night.param.update(night=product.start.date().isoformat(), instrument=source.instrument_type)
        self.session.view = "night"

    def __panel__(self) -> pn.template.FastListTemplate:
        return self.template

    # --- opening the backend ----------------------------------------------------------------------

    def _open(self, backend: Any) -> None:
        session = self.session
        if backend is not None and not isinstance(backend, (str, Path)):
            # A ready Backend object (tests, benchmarks): load synchronously, it is local.
            try:
                self._ready(*connect(backend))
            except BaseException as exc:
                self._failed(exc)
            return
        session.backend_opening = True
        self._progress("Opening the backend …")
        opening = session.runner.lane()

        def load() -> tuple[Any, list[Any], dict[str, list[Any]]]:
            spec = backend if backend is not None else _default_spec()
            if spec is None:
                spec = _ensure_default_catalog(lambda m: session.runner.dispatch(lambda: self._progress(m)))
            return connect(spec)

        # At once, not on the page's load event: the backend (and what a link asks for, e.g. a
        # night) is ready while the browser is still loading the page, and comes with it.
        opening.submit(load, lambda answer: self._ready(*answer), self._failed)

    def _ready(self, backend: Any, sources: list[Any], vocabulary: dict[str, list[Any]]) -> None:
        self.session.apply_backend(backend, sources, vocabulary)
        self._startup.visible = False
        self._permalinks.start()
        self.session.backend_opening = False  # runs a Search pressed while it was opening

    def _failed(self, exc: BaseException) -> None:
        title, message = friendly_error(exc, action="Opening the backend")
        self._startup.object = (
            f'<div class="ax-alert ax-alert-error" role="alert"><strong>{esc(title)}</strong>'
            f"<p>{esc(message)}</p><p>Choose another backend in the sidebar.</p></div>"
        )
        self._startup.visible = True
        self._permalinks.start()
        self.session.backend_opening = False

    def _progress(self, message: str) -> None:
        self._startup.object = f'<div class="ax-alert ax-alert-info" role="status"><p>{esc(message)}</p></div>'
        self._startup.visible = True


def _backend_label(name: str) -> str:
    if not name:
        return "Backend ⚙"
    return "Backend: AuroraX API ⚙" if name.startswith(("http://", "https://")) else "Backend: embedded catalog ⚙"


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
