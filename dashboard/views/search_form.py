"""The sidebar search form: time range with presets, cascading source selectors, metadata filters."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape as html_escape
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from aurorax_core import METADATA_OPERATORS, AuroraXCoreError

from ..media import esc
from ..state import DashboardSession, QueryForm, coerce_filter_value
from ..state.typed_time import format_typed
from .base import SessionView
from .style import html

_ERROR_STYLE = {"color": "var(--ax-error, #b00020)", "font-size": "0.85em", "margin": "0 10px"}


def _naive(value: datetime | None) -> datetime | None:
    # Bokeh's pickers are zone-less; the form says "UTC" and we convert at the boundary.
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def field_error(form: QueryForm, field: str) -> pn.pane.HTML:
    """A live-region message under one form field, bound to ``form.field_errors[field]``."""

    def message(errors: dict[str, str]) -> str:
        text = errors.get(field, "")
        return f'<div role="alert" class="ax-field-error">{esc(text)}</div>' if text else ""

    return html(
        pn.bind(message, form.param.field_errors),
        visible=pn.bind(lambda errors: bool(errors.get(field)), form.param.field_errors),
        styles=_ERROR_STYLE,
        sizing_mode="stretch_width",
        margin=(0, 10),
    )


class MetadataFilterBuilder(SessionView):
    """Build metadata conditions from the sources' schemas and the values present; AND/OR."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        form = self.session.form
        self._key = pn.widgets.Select(label="Metadata key", options=[], sizing_mode="stretch_width")
        self._operator = pn.widgets.Select(label="Operator", options=list(METADATA_OPERATORS), value="in", width=90)
        self._values = pn.widgets.MultiChoice(
            label="Values", options=[], sizing_mode="stretch_width", placeholder="Choose values"
        )
        self._typed = pn.widgets.TextInput(
            label="Values (typed, comma-separated)",
            placeholder="e.g. 5, 10 for between",
            sizing_mode="stretch_width",
        )
        self._add = pn.widgets.Button(label="Add filter", color="default", sizing_mode="stretch_width")
        self._logical = pn.widgets.RadioButtonGroup.from_param(
            form.param.metadata_filters_logical_operator, label="Combine filters with", color="default"
        )
        self._list = pn.Column(sizing_mode="stretch_width", margin=0)
        self._message = html("", styles=_ERROR_STYLE, visible=False, sizing_mode="stretch_width")
        self._add.on_click(self._on_add)
        self._key.param.watch(self._on_key, "value")
        self._refresh_keys()
        self._render_list()
        self._layout = pn.Card(
            pn.Row(self._key, self._operator, sizing_mode="stretch_width"),
            self._values,
            self._typed,
            self._add,
            self._message,
            html("<span>Combine filters with</span>", margin=(0, 10)),
            self._logical,
            self._list,
            field_error(form, "metadata_filters"),
            title="Metadata filters",
            collapsed=True,
            sizing_mode="stretch_width",
        )

    @param.depends(
        "session.form.sources",
        "session.form.programs",
        "session.form.platforms",
        "session.form.instrument_types",
        watch=True,
    )
    def _refresh_keys(self) -> None:
        keys = self.session.form.metadata_keys()
        self._key.options = keys
        if keys and self._key.value not in keys:
            self._key.value = keys[0]
        self._on_key()

    def _on_key(self, *_: Any) -> None:
        values = self.session.form.metadata_vocabulary.get(self._key.value or "", [])
        # Bokeh's MultiChoice gives Choices.js no allowHTML, which then renders labels as HTML:
        # labels are escaped (record text stays text); the values stay as the record has them.
        self._values.options = {html_escape(str(v), quote=False): str(v) for v in values}
        self._values.value = []

    def _on_add(self, *_: Any) -> None:
        values: list[Any] = list(self._values.value)
        values += [coerce_filter_value(v) for v in self._typed.value.split(",") if v.strip()]
        key = self._key.value
        if not key:
            self._show("Choose a metadata key first (select a data source with a metadata schema).")
            return
        if not values:
            self._show("Choose or type at least one value.")
            return
        try:
            self.session.form.add_metadata_filter(key, self._operator.value, values)
        except AuroraXCoreError as exc:
            self._show(str(exc))
            return
        self._show("")
        self._values.value = []
        self._typed.value = ""

    def _show(self, message: str) -> None:
        self._message.object = f'<div role="alert">{esc(message)}</div>' if message else ""
        self._message.visible = bool(message)

    @param.depends("session.form.metadata_filters", watch=True)
    def _render_list(self) -> None:
        form = self.session.form
        rows = []
        for index, expression in enumerate(form.metadata_filters):
            values = ", ".join(str(v) for v in expression.get("values", []))
            text = f"{expression.get('key')} {expression.get('operator')} ({values})"
            remove = pn.widgets.Button(label="Remove ✕", width=90, color="light", description=f"Remove filter {text}")
            remove.on_click(lambda _e, i=index: form.remove_metadata_filter(i))
            rows.append(pn.Row(html(f"<code>{esc(text)}</code>", sizing_mode="stretch_width"), remove))
        self._list.objects = rows

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class SearchForm(SessionView):
    """Time range, presets, program → platform → instrument type, product types, filters, Search."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        session = self.session
        form = session.form
        # Typed text first (a day, a time, a month, a range, "yesterday"; see state/typed_time.py),
        # a calendar for those who prefer to click. The labels are the fields' own.
        self._start = pn.widgets.TextInput(
            label=form.param.start.label,
            value=format_typed(form.start),
            placeholder="e.g. 2020-01-05, 2020-01, 2020-01-01..2020-01-07, yesterday",
            sizing_mode="stretch_width",
        )
        self._end = pn.widgets.TextInput(
            label=form.param.end.label,
            value=format_typed(form.end),
            placeholder="e.g. 2020-01-05 (to its end), 2020-01-05 06:00",
            sizing_mode="stretch_width",
        )
        self._start.param.watch(lambda e: self._typed("start", e.new), "value")
        self._end.param.watch(lambda e: self._typed("end", e.new), "value")
        self._start_picker = pn.widgets.DatetimePicker(
            label="Start, from the calendar", value=_naive(form.start), sizing_mode="stretch_width", enable_seconds=True
        )
        self._end_picker = pn.widgets.DatetimePicker(
            label="End, from the calendar", value=_naive(form.end), sizing_mode="stretch_width", enable_seconds=True
        )
        # Bokeh's pickers are zone-less, the form's times are UTC: converted both ways here
        # (equal values stop the round trip).
        self._start_picker.param.watch(lambda e: self._set_time("start", e.new), "value")
        self._end_picker.param.watch(lambda e: self._set_time("end", e.new), "value")
        self._calendar = pn.Card(
            self._start_picker,
            self._end_picker,
            title="Calendar",
            collapsed=True,
            sizing_mode="stretch_width",
        )

        self._newest = pn.widgets.Button(label="Newest night", description="The newest UTC day with data")
        self._week = pn.widgets.Button(label="Last 7 nights", description="The 7 days ending with the newest data")
        self._example = pn.widgets.Button(
            label="2020-01-01 (docs example)", description="The AuroraX documentation's example day"
        )
        self._prev = pn.widgets.Button(label="◀ −1 day", description="Move the range one day earlier")
        self._next = pn.widgets.Button(label="+1 day ▶", description="Move the range one day later")
        for button in (self._newest, self._week, self._example, self._prev, self._next):
            button.sizing_mode = "stretch_width"
        # The latest preset pressed wins, however long the backend takes to answer the first.
        self._newest_lane = session.runner.lane()
        self._newest.on_click(lambda _e: self._nights(1))
        self._week.on_click(lambda _e: self._nights(7))
        self._example.on_click(lambda _e: form.preset_example_day())
        self._prev.on_click(lambda _e: form.step_days(-1))
        self._next.on_click(lambda _e: form.step_days(1))

        def choice(parameter: param.Parameter, placeholder: str) -> pn.widgets.MultiChoice:
            return pn.widgets.MultiChoice.from_param(
                parameter, placeholder=placeholder, sizing_mode="stretch_width", solid=False
            )

        self._programs = choice(form.param.programs, "Any program")
        self._platforms = choice(form.param.platforms, "Any platform")
        self._instruments = choice(form.param.instrument_types, "Any instrument type")
        # The option labels carry counts. When only the labels change, Panel 1.9 does not resend
        # the chosen values with their new labels, and the browser drops them: send them again.
        for widget in (self._programs, self._platforms, self._instruments):
            widget.param.watch(lambda _e, w=widget: w.param.trigger("value"), "options")
        self._types = pn.widgets.MultiChoice.from_param(
            form.param.data_product_types, placeholder="All product types", sizing_mode="stretch_width"
        )
        self._search = pn.widgets.Button(
            label=pn.bind(lambda busy: "Searching…" if busy else "Search", session.job.param.is_searching),
            color="primary",
            sizing_mode="stretch_width",
            description="Run the search (Enter)",
        )
        self._search.on_click(lambda _e: session.param.trigger("search"))
        # What a first search needs comes first, so that Search is on the first screen (1280x800);
        # the help, the calendar and the metadata filters follow it.
        self._layout = pn.Column(
            html("<h2 class='ax-h'>Time range (UTC)</h2>", margin=(0, 10)),
            self._start,
            field_error(form, "start"),
            self._end,
            field_error(form, "end"),
            pn.Row(self._prev, self._next, sizing_mode="stretch_width"),
            pn.Row(self._newest, self._week, sizing_mode="stretch_width"),
            self._example,
            html("<h2 class='ax-h'>Data sources</h2>", margin=(0, 10)),
            self._programs,
            field_error(form, "programs"),
            self._platforms,
            field_error(form, "platforms"),
            self._instruments,
            field_error(form, "instrument_types"),
            self._types,
            self._search,
            html(
                "<p class='ax-dim' style='font-size:0.85em;margin:0'>All times are UTC. Type a day, a time, a "
                "month (2020-01), a range (2020-01-01..2020-01-07) or <em>yesterday</em>; or use the calendar, "
                "day buttons and presets. Enter searches.</p>",
                margin=(0, 10),
            ),
            self._calendar,
            MetadataFilterBuilder(session=session),
            sizing_mode="stretch_width",
            css_classes=["ax-search-form"],
        )

    def _nights(self, nights: int) -> None:
        # Asking a remote backend for its newest day is an HTTP call: keep it off the event loop.
        session = self.session

        def work() -> Any:
            try:
                return session.newest_day()
            except Exception:  # newest_day reports problems as None; this is a last guard
                return None

        self._newest_lane.submit(work, lambda day: session.apply_nights(day, nights))

    def _set_time(self, name: str, value: datetime | None) -> None:
        form = self.session.form
        if value is None:
            # Clearing a picker is a field error, not a crash.
            form.field_errors = {**form.field_errors, name: f"Choose a {name} date and time (UTC)."}
            return
        setattr(form, name, _aware(value))

    @param.depends("session.form.start", "session.form.end", watch=True)
    def _sync_times(self) -> None:
        form = self.session.form
        self._start_picker.value = _naive(form.start)
        self._end_picker.value = _naive(form.end)

        self._show_times()

    def _typed(self, name: str, text: str) -> None:
        if self.session.form.type_time(name, text):
            # Also when the form did not change: Enter re-sends the raw text after its value.
            self._show_times()

    def _show_times(self) -> None:
        """The text fields show what the form holds (a typed month becomes its first second).

        On the next tick: Panel does not send a value back to the browser while it is handling
        that same value coming from the browser.
        """
        form = self.session.form

        def show() -> None:
            self._start.value = format_typed(form.start)
            self._end.value = format_typed(form.end)

        self.session.runner.dispatch(show)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


_ENTER_ESM = r"""
export function render({ model }) {
  // Enter in a text field of the search form runs the search (buttons already react to Enter,
  // and the choice lists use Enter to pick an option, so those are left alone).
  const onKey = (e) => {
    if (e.key !== "Enter" || e.isComposing) return;
    const path = e.composedPath();
    const target = path[0];
    if (!target || target.tagName !== "INPUT") return;
    if (target.classList.contains("choices__input")) return;
    const inForm = path.some((n) => n.classList && n.classList.contains("ax-search-form"));
    if (!inForm) return;
    // The field sends its value on "change" (blur or Enter); send it now, so that the search
    // that follows (same connection, in order) uses exactly what is typed.
    target.dispatchEvent(new Event("change"));
    model.send_msg("search");
  };
  document.addEventListener("keydown", onKey, true);
  model.on("remove", () => document.removeEventListener("keydown", onKey, true));
}
"""


class EnterToSearch(JSComponent):
    """Invisible helper: Enter in a form text field triggers ``session.search``."""

    _esm = _ENTER_ESM

    def __init__(self, session: DashboardSession, **params: Any) -> None:
        # A plain attribute, not a parameter: parameters of a JSComponent are sent to the browser.
        self._session = session
        super().__init__(height=0, width=0, margin=0, **params)
        self.on_msg(self._on_msg)

    def _on_msg(self, msg: Any) -> None:
        # Panel hands over a DataEvent whose ``data`` is what the browser sent.
        if getattr(msg, "data", msg) == "search" and not self._session.job.is_searching:
            self._session.param.trigger("search")
