"""Availability: how many data products each selected source has per day of the form's range.

A grid of sources × days from ``backend.availability(...)`` (backends with the
``AvailabilityCounts`` ability); a click on a cell searches that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

import panel as pn
import param
from panel.custom import JSComponent

from aurorax_core import AvailabilityCounts, DataSource

from ..media import esc
from ..state import DashboardSession, friendly_error
from ..state.fields import aware
from .base import SessionView
from .style import html

MAX_DAYS = 62


@dataclass(frozen=True)
class AvailabilityGrid:
    """Counts per source and day; ``message`` says why there is no grid."""

    days: list[date] = field(default_factory=list)
    rows: list[tuple[str, list[int]]] = field(default_factory=list)
    message: str = ""


def _label(source: DataSource) -> str:
    return source.display_name or f"{source.program} {source.platform} {source.instrument_type}"


def _key(source: DataSource) -> tuple[str, str, str]:
    return (source.program, source.platform, source.instrument_type)


def availability_grid(session: DashboardSession) -> AvailabilityGrid:
    """The grid for the form's sources and days (blocking: the backend is asked; call it off the loop)."""
    backend = session.backend
    form = session.form
    if backend is None:
        return AvailabilityGrid(message="No backend is open yet.")
    if not isinstance(backend, AvailabilityCounts):
        return AvailabilityGrid(
            message=f"This backend ({session.backend_name or type(backend).__name__}) does not answer availability "
            "(counts per day). Use the embedded catalog or an AuroraX API for this view."
        )
    if not form.has_source_constraint():
        return AvailabilityGrid(message="Select at least one program, platform or instrument type to see its days.")
    errors = {k: v for k, v in form.field_errors.items() if k in ("start", "end")}
    if errors:
        return AvailabilityGrid(message=" ".join(errors.values()))
    first, last = aware(form.start).date(), aware(form.end).date()
    count = (last - first).days + 1
    if count > MAX_DAYS:
        return AvailabilityGrid(
            message=f"The range has {count} days; this view shows at most {MAX_DAYS}. Narrow the time range."
        )
    sources = form.selected_sources()
    wanted = {_key(s): s for s in sources}
    kwargs = {}
    # The backend filters on one value per field; with several, everything is asked and filtered here.
    for name, key in (("programs", "program"), ("platforms", "platform"), ("instrument_types", "instrument_type")):
        chosen = getattr(form, name)
        if len(chosen) == 1:
            kwargs[key] = chosen[0]
    answers = backend.availability(first, last, **kwargs)
    days = [first + timedelta(days=i) for i in range(count)]
    by_source: dict[tuple[str, str, str], dict[str, int]] = {}
    for answer in answers:
        key = _key(answer.data_source)
        if key in wanted:
            counts = by_source.setdefault(key, {})
            for day, n in answer.available_data_products.items():
                counts[day] = counts.get(day, 0) + int(n)
    rows = [
        (_label(source), [by_source.get(key, {}).get(d.isoformat(), 0) for d in days])
        for key, source in sorted(wanted.items(), key=lambda kv: _label(kv[1]).lower())
    ]
    if not rows:
        return AvailabilityGrid(message="No data source matches the selection.")
    return AvailabilityGrid(days=days, rows=rows)


_ESM = r"""
export function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "ax-avail-wrap";
  el.appendChild(wrap);
  function draw() {
    wrap.textContent = "";
    const days = model.days || [];
    const rows = model.rows || [];
    if (!days.length) return;
    const table = document.createElement("table");
    table.className = "ax-avail";
    const cap = document.createElement("caption");
    cap.textContent = "Data products per source and UTC day (click a day to search it)";
    table.appendChild(cap);
    const head = document.createElement("tr");
    const corner = document.createElement("th");
    corner.scope = "col";
    corner.textContent = "Source";
    head.appendChild(corner);
    for (const d of days) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = d.slice(5);
      th.title = d;
      head.appendChild(th);
    }
    table.appendChild(head);
    for (const row of rows) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      tr.appendChild(th);
      row.counts.forEach((n, i) => {
        const td = document.createElement("td");
        const b = document.createElement("button");
        b.type = "button";
        b.className = n > 0 ? "ax-day ax-has" : "ax-day";
        b.textContent = String(n);
        b.setAttribute("aria-label", "Search " + days[i] + ": " + row.label + " has " + n + " products");
        b.dataset.day = days[i];
        b.addEventListener("click", () => model.send_msg({ day: days[i] }));
        td.appendChild(b);
        tr.appendChild(td);
      });
      table.appendChild(tr);
    }
    wrap.appendChild(table);
  }
  model.on(["days", "rows"], draw);
  draw();
}
"""


class AvailabilityTable(JSComponent):
    """The grid in the browser; record text goes in with ``textContent`` only."""

    days = param.List(default=[], doc="ISO days (column headers).")
    rows = param.List(default=[], doc="Rows: dicts label/counts.")

    _esm = _ESM

    _stylesheets: ClassVar[list[str]] = [
        """
        .ax-avail-wrap { overflow-x: auto; }
        .ax-avail { border-collapse: collapse; font-size: 0.85em; }
        .ax-avail caption { text-align: left; font-weight: 600; padding: 4px 0; white-space: nowrap; }
        .ax-avail th { text-align: left; padding: 2px 6px; white-space: nowrap; font-weight: normal; }
        .ax-avail td { padding: 1px; }
        .ax-day { min-width: 3.2em; font: inherit; padding: 3px 4px; cursor: pointer; color: inherit;
                  background: transparent; border: 1px solid #8a8a8a55; border-radius: 3px; opacity: 0.7; }
        .ax-day.ax-has { background: #0072b2; color: #ffffff; opacity: 1; border-color: #0072b2; }
        .ax-day:focus-visible { outline: 3px solid #e69f00; outline-offset: 1px; }
        """
    ]


class AvailabilityView(SessionView):
    """Sources × days counts for the form's sources and range; a click searches that day."""

    name = param.String(default="availability", constant=True)
    title: ClassVar[str] = "Availability"
    needs: ClassVar[tuple[str, ...]] = ("form", "backend", "runner")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.grid = AvailabilityTable(sizing_mode="stretch_width")
        self.grid.on_msg(self._on_msg)
        self._message = html("", sizing_mode="stretch_width")
        self._counts = self.session.runner.lane()
        self.refresh()

    @param.depends(
        "session.view",
        "session.backend",
        "session.form.start",
        "session.form.end",
        "session.form.programs",
        "session.form.platforms",
        "session.form.instrument_types",
        watch=True,
    )
    def refresh(self) -> None:
        """Ask the backend again (off the event loop), only while this view is shown."""
        if self.session.view != self.name:
            return
        self._message.object = '<p class="ax-dim" role="status">Counting data products per day …</p>'
        session = self.session
        self._counts.submit(lambda: availability_grid(session), self._show, self._failed)

    def _show(self, grid: AvailabilityGrid) -> None:
        self.grid.param.update(
            days=[d.isoformat() for d in grid.days],
            rows=[{"label": label, "counts": counts} for label, counts in grid.rows],
        )
        if grid.message:
            self._message.object = f'<div class="ax-alert ax-alert-info" role="status"><p>{esc(grid.message)}</p></div>'
        else:
            self._message.object = ""

    def _failed(self, exc: BaseException) -> None:
        title, message = friendly_error(exc, action="Counting products per day")
        self.grid.param.update(days=[], rows=[])
        self._message.object = (
            '<div class="ax-alert ax-alert-error" role="alert">'
            f"<strong>{esc(title)}</strong><p>{esc(message)}</p></div>"
        )

    def search_day(self, day: date) -> None:
        """Search ``day`` (one UTC day) for the form's sources, and show the rows."""
        self.session.form.set_days(day, day)
        self.session.view = self.session.param.view.objects[0]
        self.session.param.trigger("search")

    def _on_msg(self, event: Any) -> None:
        # Panel hands over a DataEvent whose ``data`` is what the browser sent.
        msg = getattr(event, "data", event)
        if not isinstance(msg, dict):
            return
        try:
            day = date.fromisoformat(str(msg.get("day")))
        except ValueError:
            return
        if day.isoformat() in self.grid.days:
            self.search_day(day)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._message, self.grid, sizing_mode="stretch_width")
