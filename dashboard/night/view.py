"""The night view: every site's keogram on one UT axis, one cursor, their movies in step, and a map.

``NightView(backend=..., images=..., state=NightState())`` is one Panel Viewer. Searches and image
fetches run off the session's event loop (``executor``) and land back on it (``dispatch``); with the
defaults (call at once) everything is synchronous, which is what headless tests use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import panel as pn
import param

from aurorax_core import AuroraXCoreError, Backend, DataSource, TimeSpan

from ..loop import session_runners
from ..media import esc
from .canvas import NightCanvas
from .geometry import TimeWindow, clock, ut_window
from .keograms import StackImages
from .mapsvg import MapSite, map_svg
from .payload import axis_payload, movies_payload
from .stack import NightStack, load_night, nearest, nights_with_data
from .state import MAX_MOVIES, NightLinkError, NightState, parse_night

_WINDOWS = {"0–24 UT": "ut", "18–18 local solar time": "local"}
_ORDERS = {"Geographic latitude": "geographic", "Magnetic latitude (dipole)": "magnetic"}


class NightView(pn.viewable.Viewer):
    """One night of one instrument across the network."""

    state = param.ClassSelector(class_=NightState, instantiate=False)
    stack = param.Parameter(default=None, doc="The NightStack shown (None before the first load).")
    loading = param.Boolean(default=False)
    message = param.String(default="", doc="What the status line says (plain text).")

    def __init__(
        self,
        backend: Backend,
        images: Any = None,
        state: NightState | None = None,
        runner: Any = None,
        **params: Any,
    ) -> None:
        super().__init__(state=state if state is not None else NightState(), **params)
        self.backend = backend
        self.images = images
        # Inside the dashboard the session's BackgroundRunner does the work off the event loop; alone
        # (tests, the standalone app) the view makes its own pair.
        if runner is not None:
            self.executor, self.dispatch = runner.executor, runner.dispatch
        else:
            self.executor, self.dispatch = session_runners("night-view")
        self._sources: dict[tuple[tuple[str, ...], ...], list[DataSource]] = {}
        self._generation = 0
        self._link_problems: list[str] = []
        self._url_update: Callable[..., None] | None = None
        self._showing = False  # widgets being set from a loaded night (not the user)
        self.canvas = NightCanvas(on_message=self._on_message, sizing_mode="stretch_width")
        self._build_controls()
        self.canvas.param.watch(self._cursor_from_browser, "cursor")
        self.state.param.watch(self._reload, ["night", "programs", "platforms", "instrument_types", "instrument",
                                              "window", "order"])  # fmt: skip
        self.state.param.watch(self._sites_changed, "sites")
        self.state.param.watch(self._cursor_from_state, "t")
        self.state.param.watch(self._redraw_map, "min_elevation")

    # -- layout ---------------------------------------------------------------------------------

    def _build_controls(self) -> None:
        self.prev_button = pn.widgets.Button(label="◀ Previous night", description="k or ↑")
        self.next_button = pn.widgets.Button(label="Next night ▶", description="j or ↓")
        self.newest_button = pn.widgets.Button(label="Newest night")
        self.date_input = pn.widgets.TextInput(
            label="Night (YYYY-MM-DD)", value=self.state.night.isoformat(), width=150
        )
        self.instrument_select = pn.widgets.Select(label="Instrument", options=[], width=200)
        self.window_toggle = pn.widgets.RadioButtonGroup(options=_WINDOWS, value=self.state.window)
        self.order_toggle = pn.widgets.RadioButtonGroup(options=_ORDERS, value=self.state.order)
        self.elevation = pn.widgets.IntSlider(label="Field of view: minimum elevation (°)", start=0, end=60,
                                              step=5, value=int(self.state.min_elevation), width=220)  # fmt: skip
        self.status = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["nv-status"])
        self.nearby = pn.Row(sizing_mode="stretch_width")
        self.prev_button.on_click(lambda _e: self.step(-1))
        self.next_button.on_click(lambda _e: self.step(1))
        self.newest_button.on_click(lambda _e: self.go_newest())
        self.date_input.param.watch(self._typed_date, "value")
        self.instrument_select.param.watch(self._picked_instrument, "value")
        self.window_toggle.param.watch(lambda e: setattr(self.state, "window", e.new), "value")
        self.order_toggle.param.watch(lambda e: setattr(self.state, "order", e.new), "value")
        self.elevation.param.watch(lambda e: setattr(self.state, "min_elevation", float(e.new)), "value")

    def _picked_instrument(self, event: Any) -> None:
        if not self._showing and event.new and event.new != self.state.instrument:
            self.state.instrument = event.new

    def __panel__(self) -> pn.viewable.Viewable:
        nav = pn.Row(self.prev_button, self.date_input, self.next_button, self.newest_button,
                     self.instrument_select, align="end", sizing_mode="stretch_width")  # fmt: skip
        options = pn.Row(self.window_toggle, self.order_toggle, self.elevation, align="center")
        return pn.Column(nav, options, self.status, self.nearby, self.canvas, sizing_mode="stretch_width",
                         css_classes=["ax-night"])  # fmt: skip

    # -- loading --------------------------------------------------------------------------------

    def sources(self) -> list[DataSource]:
        """The selection's data sources (listed once per selection and view).

        Raises:
            AuroraXCoreError: the backend could not list them.
        """
        s = self.state
        key = (tuple(s.programs), tuple(s.platforms), tuple(s.instrument_types))
        if key not in self._sources:
            self._sources[key] = self.backend.list_sources(
                programs=s.programs, platforms=s.platforms, instrument_types=s.instrument_types
            )
        return self._sources[key]

    def _reload(self, *_: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Load the night for the current state: rows first, then the chosen movies."""
        self._generation += 1
        generation = self._generation
        self.loading = True
        self.date_input.value = self.state.night.isoformat()
        self._say(f"Loading the night of {self.state.night.isoformat()} …")

        def work() -> None:
            try:
                sources = self.sources()
                stack = load_night(self.backend, self.state, sources)
                sites = [MapSite(r.code, r.name, r.location.latitude, r.location.longitude, bool(r.keograms))
                         for r in stack.rows if r.location is not None]  # fmt: skip
                svg = map_svg(sites, self.state.min_elevation)
                around: list[date] = (
                    [] if stack.has_data else nights_with_data(self.backend, sources, stack.instrument, stack.night)
                )
            except AuroraXCoreError as exc:
                failure = exc
                self.dispatch(lambda: self._failed(generation, failure))
                return
            # The rows go at once with the images ready by then; the rest follow as they are made.
            images = StackImages(stack, self.images)
            rows = images.first()
            self.dispatch(lambda: self._show(generation, stack, rows, svg, around))
            for more in images.updates():
                if generation != self._generation:
                    images.cancel()
                    return
                self.dispatch(lambda more=more: self._more_images(generation, more))

        self.executor(work)

    def _more_images(self, generation: int, rows: list[dict[str, Any]]) -> None:
        if generation == self._generation:
            self.canvas.rows = rows

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self._say(f"The night could not be loaded: {exc}. Check the backend, or try another night.", error=True)

    def _show(
        self, generation: int, stack: NightStack, rows: list[dict[str, Any]], svg: str, around: list[date]
    ) -> None:
        if generation != self._generation:
            return  # a newer night was asked for meanwhile
        self.stack = stack
        if self.state.instrument != stack.instrument:
            # The row set the selection fell back to; no reload (the night is already loaded). Before
            # the options change: a Select picks its first option itself, which would ask for a reload.
            with param.parameterized.discard_events(self.state):
                self.state.instrument = stack.instrument
        self._showing = True
        try:
            if list(self.instrument_select.options) != list(stack.instruments):
                self.instrument_select.options = list(stack.instruments)
            self.instrument_select.value = stack.instrument
        finally:
            self._showing = False
        known = {r.code for r in stack.rows}
        unknown = [c for c in self.state.sites if c not in known]
        problems = list(self._link_problems)
        self._link_problems = []
        if unknown:
            problems.append(
                f"site {', '.join(unknown)} is not a {stack.instrument} site of this selection; "
                f"choose from {', '.join(sorted(known)) or 'none'}"
            )
            self.state.param.update(sites=[c for c in self.state.sites if c in known])
        self.canvas.param.update(
            axis=axis_payload(stack.window),
            rows=rows,
            map_svg=svg,
            chosen=list(self.state.sites),
            cursor=self._offset_of(stack.window),
        )
        self.loading = False
        if self._url_update is not None:
            self._url_update()
        self._status_for(stack, around, problems)
        self._load_movies()

    def _status_for(self, stack: NightStack, around: list[date], problems: list[str]) -> None:
        self.nearby.objects = []
        with_data = sum(1 for r in stack.rows if r.keograms)
        w = stack.window
        span = f"{w.start:%Y-%m-%d %H:%M} – {w.end:%Y-%m-%d %H:%M} UT"
        if not stack.rows:
            text = "No data source of this selection has an imager; choose a program or instrument type."
        elif not stack.has_data:
            before, after = nearest(around, stack.night)
            text = f"No {stack.instrument} keograms for the night of {stack.night.isoformat()} in this selection."
            if before or after:
                text += " Nearest nights with data:"
                for day in (before, after):
                    if day is not None:
                        button = pn.widgets.Button(label=f"Open {day.isoformat()}", color="primary")
                        button.on_click(lambda _e, d=day: setattr(self.state, "night", d))
                        self.nearby.append(button)
            else:
                text += " No night within 20 days has data either."
        else:
            text = (
                f"{stack.instrument}: {with_data} of {len(stack.rows)} sites have keograms for the night of "
                f"{stack.night.isoformat()} ({span}). Click a row's name or a map site to add its movie "
                f"(up to {MAX_MOVIES})."
            )
        self._say(text, problems=problems)

    def _say(self, text: str, *, error: bool = False, problems: list[str] | None = None) -> None:
        self.message = text
        parts = [f'<p class="nv-message" role="status">{esc(text)}</p>']
        if error:
            parts = [f'<div class="ax-alert ax-alert-error" role="alert"><p>{esc(text)}</p></div>']
        if problems:
            items = "".join(f"<li>{esc(p)}</li>" for p in problems)
            parts.append(
                f'<div class="ax-alert ax-alert-warning nv-problems" role="alert">'
                f"<strong>Part of the link could not be used</strong><ul>{items}</ul></div>"
            )
        self.status.object = "".join(parts)

    def _load_movies(self) -> None:
        stack = self.stack
        if stack is None:
            return
        codes = list(self.state.sites)
        generation = self._generation

        def work() -> None:
            movies = movies_payload(stack, codes, self.images)

            def show() -> None:
                if generation == self._generation and codes == list(self.state.sites):
                    self.canvas.movies = movies

            self.dispatch(show)

        if not codes:
            self.canvas.movies = []
            return
        self.executor(work)

    def _sites_changed(self, *_: Any) -> None:
        self.canvas.chosen = list(self.state.sites)
        self._load_movies()

    def _redraw_map(self, *_: Any) -> None:
        stack = self.stack
        if stack is None:
            return
        sites = [MapSite(r.code, r.name, r.location.latitude, r.location.longitude, bool(r.keograms))
                 for r in stack.rows if r.location is not None]  # fmt: skip
        self.canvas.map_svg = map_svg(sites, self.state.min_elevation)

    # -- cursor ---------------------------------------------------------------------------------

    def _window(self) -> TimeWindow:
        return self.stack.window if self.stack is not None else ut_window(self.state.night)

    def _offset_of(self, window: TimeWindow) -> float:
        return window.offset(window.instant_of_clock(self.state.t))

    def _cursor_from_browser(self, event: Any) -> None:
        instant = self._window().at(float(event.new))
        seconds = instant.hour * 3600 + instant.minute * 60 + instant.second
        if seconds != self.state.t:
            self.state.t = seconds

    def _cursor_from_state(self, *_: Any) -> None:
        offset = self._offset_of(self._window())
        if abs(offset - self.canvas.cursor) >= 1.0:
            self.canvas.cursor = offset

    @property
    def cursor_time(self) -> datetime:
        """The cursor as an aware UT instant."""
        return self._window().instant_of_clock(self.state.t)

    # -- navigation -----------------------------------------------------------------------------

    def step(self, days: int) -> None:
        self.state.night = self.state.night + timedelta(days=days)

    def go_newest(self) -> None:
        """Open the newest night with a daily keogram of the current instrument."""
        anchor = datetime.now(UTC).date()
        try:
            if isinstance(self.backend, TimeSpan):
                span = self.backend.time_span()
                if span is not None:
                    anchor = span[1].date()
            instrument = self.stack.instrument if self.stack is not None else ""
            found = nights_with_data(self.backend, self.sources(), instrument, anchor - timedelta(days=30), days=30)
        except AuroraXCoreError as exc:
            self._say(f"The newest night could not be found: {exc}", error=True)
            return
        found = [d for d in found if d <= anchor]
        if not found:
            self._say(f"No {self.state.instrument or 'selected'} keograms in the 60 days up to {anchor}.")
            return
        self.state.night = found[-1]

    def _typed_date(self, event: Any) -> None:
        if event.new == self.state.night.isoformat():
            return
        try:
            self.state.night = parse_night(event.new)
        except NightLinkError as exc:
            self._say(str(exc), error=True)

    def _on_message(self, msg: Mapping[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "nav" and msg.get("step") in (-1, 1):
            self.step(int(msg["step"]))
        elif kind == "toggle" and isinstance(msg.get("code"), str) and not self.state.toggle_site(msg["code"]):
            self._say(f"At most {MAX_MOVIES} movies play together; remove one first.")

    # -- the link -------------------------------------------------------------------------------

    def apply_link(self, params: Mapping[str, Any]) -> list[str]:
        """Apply a link's query parameters; problems are shown with the next load (and returned)."""
        with param.parameterized.discard_events(self.state):
            problems = self.state.apply_params(params)
        self._link_problems = problems
        self.window_toggle.value = self.state.window
        self.order_toggle.value = self.state.order
        self.elevation.value = int(self.state.min_elevation)
        return problems

    def sync_location(self) -> None:
        """Apply the page's URL once, load, then keep the URL equal to ``state.to_params()``."""
        location = pn.state.location
        if location is not None:
            self.apply_link(dict(parse_qsl((location.search or "").lstrip("?"))))

            def update(*_: Any) -> None:
                search = "?" + urlencode(self.state.to_params())
                if location.search != search:
                    location.search = search

            self.state.param.watch(update, list(self.state.param))
            self._url_update = update
            update()
        self.refresh()

    def cursor_label(self) -> str:
        return f"{clock(self.state.t)} UT"
