"""The night view served on its own (``panel serve dashboard/night/app.py`` or ``create_night_app``).

The dashboard registers :class:`NightView` in its view registry; this page is for links straight to a
night, the browser tests and the benchmark. ``AURORAX_API_URL`` / ``AURORAX_CATALOG`` choose the
backend as in the dashboard.
"""

from __future__ import annotations

import os
from typing import Any

import panel as pn
from panel.theme.fast import Fast

from aurorax_core import Backend, default_catalog_path, open_backend

from ..images import ImageSource
from .state import NightState
from .view import NightView

TITLE = "AuroraX night view"

# As in the dashboard: Fast links a Google Fonts stylesheet; the page must not reach other hosts.
Fast._resources = {**Fast._resources, "font": {}}


def shared_images() -> ImageSource:
    """The core's thumbnail service, one per process (its values are pure functions of a URL)."""

    def make() -> Any:
        from aurorax_core import ThumbnailService

        return ThumbnailService()

    return ImageSource(service=pn.state.as_cached("aurorax-night-thumbnail-service", make))


def create_night_app(backend: Backend | str | None = None, images: Any = None) -> pn.template.FastListTemplate:
    """A page with one NightView; the URL's query (``?night=...&program=...&t=...``) sets it up."""
    if backend is None or isinstance(backend, str):
        spec = backend or os.environ.get("AURORAX_API_URL", "").strip() or str(default_catalog_path())
        backend = open_backend(spec)
    view = NightView(backend=backend, images=images if images is not None else shared_images(), state=NightState())
    template = pn.template.FastListTemplate(
        site="",
        title=TITLE,
        main=[view],
        accent="#0072b2",
        theme_toggle=True,
        main_layout=None,
        font="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    )
    template.night_view = view  # type: ignore[attr-defined]
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.onload(view.sync_location)
    else:
        view.refresh()
    return template


if pn.state.served:
    create_night_app().servable()
