"""Night: the night view (``dashboard/night/``) as a tab of the dashboard.

The night's sources come from the form (program, platform, instrument type), its date from the
link's ``night`` or else the form's start day; the night, cursor time, movie sites and instrument
are this tab's own permalink parameters, so ``?view=night&night=2020-01-14&program=themis-asi&t=06:30:00``
opens that night with the cursor at 06:30 UT.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qsl

import panel as pn
import param

from ..night.basket_control import NightBasketButton
from ..night.geometry import clock
from ..night.state import NightState
from ..night.view import NightView
from ..state.fields import aware
from .base import SessionView

_LINKED = ("night", "t", "sites", "instrument")


class NightTab(SessionView):
    """Every site's keogram for one night on one UT axis, a cursor, movies in step and a map."""

    name = param.String(default="night", constant=True)
    title: ClassVar[str] = "Night"
    needs: ClassVar[tuple[str, ...]] = ("form", "backend", "images", "runner")
    permalink: ClassVar[tuple[str, ...]] = _LINKED

    night = param.String(default="", doc="The night (YYYY-MM-DD); empty: the form's start day.")
    t = param.String(default="", doc="The cursor (HH:MM:SS UT); empty: 00:00:00.")
    sites = param.String(default="", doc="Site codes whose movies play, comma-separated.")
    instrument = param.String(default="", doc="The instrument type of the row set; empty: the selection's first.")

    def __init__(self, session: Any = None, **params: Any) -> None:
        super().__init__(session=session, **params)
        self.state = NightState()
        self.view: NightView | None = None
        self._backend: Any = None
        self._holder = pn.Column(sizing_mode="stretch_width")
        self._loaded: tuple[Any, ...] | None = None
        self._echo = False  # own parameters being set from the view (not from a link)
        self._from_request()
        self.state.param.watch(self._to_link, ["night", "t", "sites", "instrument"])
        self.session.param.watch(self._show, ["view", "backend"])
        self.param.watch(self._link_changed, list(_LINKED))
        self._show()
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.onload(self._resend)

    def _resend(self) -> None:
        """Send the stack again once the page is connected.

        A link's night starts loading at session creation. Images that arrived after the page's
        HTML was written but before its websocket opened changed the server's model and reached
        no one (Bokeh sends changes to connected pages only), so a night never drawn before kept
        its thumbnails. Bokeh sends nothing for a value equal to the model's: hence the empty step.
        """
        if self.view is None:
            return
        canvas = self.view.canvas
        rows, movies = list(canvas.rows), list(canvas.movies)
        canvas.param.update(rows=[], movies=[])
        canvas.param.update(rows=rows, movies=movies)

    def _from_request(self) -> None:
        """Take this tab's part of the page's link now, at session creation.

        The dashboard applies the session's part of a link (sources, ``view``) before the views'
        own parameters; read first, the night and cursor are known when ``view=night`` shows the
        tab, so the night's first load is the link's night (not the form's day, then the link's).
        """
        location = pn.state.location if pn.state.curdoc is not None else None
        if location is None or not location.search:
            return
        params = dict(parse_qsl(location.search.lstrip("?")))
        self.param.update(**{name: str(params[name]) for name in _LINKED if name in params})

    def _link_changed(self, *_: Any) -> None:
        if not self._echo:
            self._show()

    def _link(self) -> dict[str, str]:
        form = self.session.form
        night = self.night
        if not night and form.start is not None:
            night = aware(form.start).date().isoformat()
        return {
            "program": ",".join(form.programs),
            "platform": ",".join(form.platforms),
            "instrument_type": ",".join(form.instrument_types),
            "night": night,
            "t": self.t,
            "sites": self.sites,
            "instrument": self.instrument,
        }

    def _show(self, *_: Any) -> None:
        """Build the view as soon as there is a backend (with the page); load the night when the tab
        is shown.

        Not built on the first show, nor right after the page loaded: widgets that join a live page
        and are changed by the night's load before the browser has built their views raise "Cannot
        read properties of undefined" from bokeh-widgets (a quick click on the tab, an Availability
        cell). In the first document they cost ~0.15 s of page load, which the Availability and
        Export tabs, sent after the load (``deferred``), more than give back.
        """
        backend = self.session.backend
        shown = self.session.view == self.name
        if backend is None:
            return
        created = self.view is None or backend is not self._backend
        if created:
            self._backend = backend
            self.view = NightView(backend, self.session.images, self.state, runner=self.session.runner)
            self._loaded = None
        assert self.view is not None
        if shown:
            link = self._link()
            key = tuple(sorted(link.items()))
            if key != self._loaded:
                self.view.apply_link(link)
                self._loaded = key
                self.view.refresh()
        if created:
            # Into the page after a link's night set its widgets: a new widget changed in the
            # same patch that adds it reaches the browser before its view exists.
            self._holder[:] = [NightBasketButton(view=self.view, basket=self.session.basket), self.view]

    def _to_link(self, *_: Any) -> None:
        if self.view is None:
            return
        self._echo = True
        try:
            self.param.update(
                night=self.state.night.isoformat(),
                t=clock(self.state.t) if self.state.t else "",
                sites=",".join(self.state.sites),
                instrument=self.state.instrument,
            )
        finally:
            self._echo = False
        self._loaded = tuple(sorted(self._link().items()))

    def __panel__(self) -> pn.viewable.Viewable:
        return self._holder
