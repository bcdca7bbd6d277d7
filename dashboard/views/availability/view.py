"""The Availability tab: the grid for the form's sources and range; a click opens a night, a drag searches."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import panel as pn
import param

from ...media import esc
from ...state import friendly_error
from ..base import SessionView
from ..style import html
from .component import AvailabilityCanvas
from .grid import AvailabilityGrid, NightTarget, RangeTarget, ZoomTarget, availability_grid, payload, source_label

_WATCHED = ("start", "end", "programs", "platforms", "instrument_types")


class AvailabilityView(SessionView):
    """Sources × days (weeks, months) with a status per cell; see ``grid.py`` for the layout."""

    name = param.String(default="availability", constant=True)
    title: ClassVar[str] = "Availability"
    deferred: ClassVar[bool] = True
    needs: ClassVar[tuple[str, ...]] = ("form", "backend", "runner")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.canvas = AvailabilityCanvas(on_message=self.on_message, sizing_mode="stretch_width")
        self.grid = AvailabilityGrid()
        self._message = html("", sizing_mode="stretch_width")
        self._lane = self.session.runner.lane()
        self._tokens = itertools.count(1)
        self._token = 0
        self._asked: tuple[Any, ...] | None = None
        self._handing_over = False
        self.session.param.watch(self.refresh, ["view", "backend"])
        self.session.form.param.watch(self.refresh, list(_WATCHED))
        self.refresh()

    def _key(self) -> tuple[Any, ...]:
        form = self.session.form
        return (
            id(self.session.backend),
            *(tuple(v) if isinstance(v, list) else v for v in map(form.__getattribute__, _WATCHED)),
        )

    def refresh(self, *_: Any) -> None:
        """Ask again (off the event loop) while this tab is shown and the question changed."""
        if self.session.view != self.name or self._handing_over:
            return
        key = self._key()
        if key == self._asked:
            return
        self._asked = key
        self._message.object = '<p class="ax-dim" role="status">Counting data products per source and day …</p>'
        session = self.session
        token = next(self._tokens)

        def work() -> tuple[AvailabilityGrid, str]:
            grid = availability_grid(session)
            # The JSON is built here, in the worker: a year of 60 sources is ~20,000 cells.
            return grid, payload(grid, token) if grid.rows else ""

        def failed(exc: BaseException) -> None:
            self._asked = None  # asking again (e.g. after the backend recovers) is allowed
            self._failed(exc)

        self._lane.submit(work, lambda answer: self._show(token, *answer), failed)

    def _show(self, token: int, grid: AvailabilityGrid, text: str) -> None:
        self.grid, self._token = grid, token
        self.canvas.payload = text
        if grid.message:
            self._message.object = f'<div class="ax-alert ax-alert-info" role="status"><p>{esc(grid.message)}</p></div>'
        else:
            self._message.object = ""

    def _failed(self, exc: BaseException) -> None:
        title, message = friendly_error(exc, action="Counting products per day")
        self.grid = AvailabilityGrid()
        self.canvas.payload = ""
        self._message.object = (
            '<div class="ax-alert ax-alert-error" role="alert">'
            f"<strong>{esc(title)}</strong><p>{esc(message)}</p></div>"
        )

    # --- what a click or a drag does -------------------------------------------------------------

    def on_message(self, msg: dict[str, Any]) -> None:
        """A click (``open``) or a drag (``range``) from the browser, for the grid it was drawn from."""
        if msg.get("token") != self._token:
            return  # drawn from an older grid
        try:
            if msg.get("type") == "open":
                self.open_cell(int(msg["row"]), int(msg["col"]))
            elif msg.get("type") == "range":
                self.search_range(int(msg["row0"]), int(msg["col0"]), int(msg["row1"]), int(msg["col1"]))
        except (KeyError, TypeError, ValueError):
            return  # not a message this view sends

    def open_cell(self, row: int, col: int) -> None:
        """A day: that night for that source in the Night tab. A week or month: its days, here."""
        target = self.grid.cell_target(row, col)
        if isinstance(target, ZoomTarget):
            self.session.form.set_days(target.first, target.last)
        elif isinstance(target, NightTarget):
            self.open_night(target)

    def open_night(self, target: NightTarget) -> None:
        source, session = target.source, self.session
        with self._quiet():
            _select(session.form, [source.program], [source.platform], [source.instrument_type])
            session.form.set_days(target.night, target.night)
        night = session.tabs.get("night")
        if night is None:  # no Night tab in this app: search that day instead
            self._to_table()
            return
        night.param.update(night=target.night.isoformat(), instrument=source.instrument_type, t="", sites="")
        session.view = "night"

    def search_range(self, row0: int, col0: int, row1: int, col1: int) -> RangeTarget | None:
        """Search the dragged days for the dragged rows' sources and show the table."""
        target = self.grid.drag_target(row0, col0, row1, col1, self.session.form.sources)
        if target is None:
            return None
        with self._quiet():
            _select(self.session.form, target.programs, target.platforms, target.instrument_types)
            self.session.form.set_days(target.first, target.last)
        if target.also:
            names = ", ".join(source_label(s) for s in target.also)
            self._say_after_search(
                f"The form selects programs × platforms × instrument types, so this search also covers {names}."
            )
        self._to_table()
        return target

    def _say_after_search(self, text: str) -> None:
        # The search clears the status line's notice when it starts and sets it when it ends.
        job = self.session.job

        def ended(event: param.parameterized.Event) -> None:
            if event.new:
                return  # it has only started
            job.param.unwatch(watcher)
            if not job.error:
                job.notice = f"{job.notice} {text}".strip()

        watcher = job.param.watch(ended, "is_searching")

    def _to_table(self) -> None:
        views = list(self.session.param.view.objects)
        self.session.view = "table" if "table" in views else views[0]
        self.session.param.trigger("search")

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        # The form changes below are for another tab: do not count them here on the way out.
        self._handing_over = True
        try:
            yield
        finally:
            self._handing_over = False

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._message, self.canvas, sizing_mode="stretch_width")


def _select(form: Any, programs: Sequence[str], platforms: Sequence[str], instrument_types: Sequence[str]) -> None:
    # One field at a time: each narrows the next one's options (program → platform → instrument type).
    form.param.update(programs=list(programs))
    form.param.update(platforms=list(platforms))
    form.param.update(instrument_types=list(instrument_types))
