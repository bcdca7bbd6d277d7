"""The search form: the query fields (declared in ``fields.py``), their options and their checks.

The form knows the backend's data sources (for the cascading program → platform → instrument
type options) but not the backend itself: asking the backend anything is the session's job.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import param

from aurorax_core import (
    METADATA_OPERATORS,
    DataProductQuery,
    DataSource,
    QueryValidationError,
    format_time,
)

from .fields import (
    EXAMPLE_DAY,
    FIELD_NAMES,
    FIELDS,
    KEEP,
    QUERY_FIELDS,
    QUERY_LINK_KEYS,
    SOURCE_FIELDS,
    LinkProblem,
    aware,
    day_range,
    encode_fields,
)
from .labels import labelled, platform_label, program_label, with_count
from .typed_time import TypedTimeError, parse_typed_time

MAX_SPAN = timedelta(days=366 * 25)

# The parameters come from the one field table: a new field is declared there, not here.
_FormFields: type[param.Parameterized] = type(
    "_FormFields", (param.Parameterized,), {f.name: f.parameter() for f in QUERY_FIELDS}
)


class QueryForm(_FormFields):  # type: ignore[misc,valid-type]
    """The query inputs of one session, their options from the backend's sources, and their errors."""

    sources = param.List(default=[], item_type=DataSource, doc="The backend's data sources (full records).")
    metadata_vocabulary = param.Dict(default={}, doc="metadata key -> values present or allowed.")
    field_errors = param.Dict(default={}, doc="Query field -> why the current value cannot be searched.")
    typed_errors = param.Dict(default={}, doc="start/end -> why the text typed there cannot be read.")
    source_counts = param.Dict(
        default={}, doc="(program, platform, instrument_type) -> products in the chosen days; {} when unknown."
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.param.watch(self._refresh_options, ["programs", "platforms", "source_counts"])
        # A new value (typed, picked or preset) replaces what was wrongly typed before.
        self.param.watch(self._clear_typed_errors, ["start", "end"])
        self.param.watch(self._validate, [*FIELD_NAMES, "typed_errors"])
        self._validate()

    def values(self) -> dict[str, Any]:
        """Field name -> current value, for every query field."""
        return {name: getattr(self, name) for name in FIELD_NAMES}

    # --- sources and options --------------------------------------------------------------------

    def set_sources(self, sources: list[DataSource], vocabulary: dict[str, list[Any]]) -> None:
        """New data sources (a new backend): options follow, selections that no longer fit go."""
        with param.parameterized.batch_call_watchers(self):
            self.param.update(sources=sources, metadata_vocabulary=vocabulary)
            self._refresh_options()
        self._validate()

    def matching_sources(
        self, programs: Sequence[str] = (), platforms: Sequence[str] = (), instrument_types: Sequence[str] = ()
    ) -> list[DataSource]:
        """The sources that fit all three constraints (an empty constraint fits everything)."""
        return [
            s
            for s in self.sources
            if (not programs or s.program in programs)
            and (not platforms or s.platform in platforms)
            and (not instrument_types or s.instrument_type in instrument_types)
        ]

    def selected_sources(self) -> list[DataSource]:
        """The sources the current program, platform and instrument type selection names."""
        return self.matching_sources(self.programs, self.platforms, self.instrument_types)

    def has_source_constraint(self) -> bool:
        return any(getattr(self, name) for name in SOURCE_FIELDS)

    def _refresh_options(self, *_: Any) -> None:
        """Program narrows platform, and both narrow instrument type (dropping what no longer fits)."""
        sources = self.sources
        counts = self.source_counts

        def count(within: list[DataSource], attribute: str, value: str) -> int | None:
            if not counts:
                return None
            return sum(counts.get(s.key, 0) for s in within if getattr(s, attribute) == value)

        # Labels are escaped: the browser's option lists (Choices.js, no allowHTML from Bokeh)
        # render them as HTML, and names come from the backend's records.
        program_opts = labelled(
            (s.program for s in sources),
            lambda v: _text(with_count(program_label(v, sources), count(sources, "program", v))),
        )
        by_program = self.matching_sources(self.programs)
        platform_opts = labelled(
            (s.platform for s in by_program),
            lambda v: _text(with_count(platform_label(v, sources), count(by_program, "platform", v))),
        )
        by_platform = self.matching_sources(self.programs, [p for p in self.platforms if p in platform_opts.values()])
        instrument_opts = labelled(
            (s.instrument_type for s in by_platform),
            lambda v: _text(with_count(v, count(by_platform, "instrument_type", v))),
        )
        self.param.programs.objects = program_opts
        self.param.platforms.objects = platform_opts
        self.param.instrument_types.objects = instrument_opts
        keep = {
            "programs": [v for v in self.programs if v in program_opts.values()],
            "platforms": [v for v in self.platforms if v in platform_opts.values()],
            "instrument_types": [v for v in self.instrument_types if v in instrument_opts.values()],
        }
        changed = {k: v for k, v in keep.items() if v != list(getattr(self, k))}
        if changed:
            self.param.update(**changed)

    def metadata_keys(self) -> list[str]:
        """Metadata keys of the currently selected sources (all sources when none is selected)."""
        chosen = self.selected_sources() or self.sources
        keys = {
            str(f.get("field_name"))
            for s in chosen
            for f in (s.data_product_metadata_schema or [])
            if f.get("field_name")
        }
        # Keys known only from the records themselves (embedded catalog).
        if not keys:
            keys = set(self.metadata_vocabulary)
        return sorted(keys)

    # --- typed times -----------------------------------------------------------------------------

    def type_time(self, name: str, text: str, *, now: datetime | None = None) -> bool:
        """Set ``start`` or ``end`` from typed text (see ``typed_time.py``); False, with the reason
        next to the field, when the text cannot be read (the field keeps its last good value)."""
        try:
            span = parse_typed_time(text, now=now)
        except TypedTimeError as exc:
            self.typed_errors = {**self.typed_errors, name: str(exc)}
            return False
        if span.whole:
            self.param.update(start=span.start, end=span.end)
        else:
            setattr(self, name, span.start if name == "start" else span.end)
        self.typed_errors = {k: v for k, v in self.typed_errors.items() if k != name}
        return True

    def _clear_typed_errors(self, *events: param.parameterized.Event) -> None:
        changed = {event.name for event in events}
        if changed & set(self.typed_errors):
            self.typed_errors = {k: v for k, v in self.typed_errors.items() if k not in changed}

    # --- time presets ----------------------------------------------------------------------------

    def set_days(self, first: date, last: date) -> None:
        """The whole UTC days ``first`` .. ``last``."""
        self.param.update(start=day_range(first)[0], end=day_range(last)[1])

    def preset_example_day(self) -> None:
        """The documentation's example: 2020-01-01 (TREx RGB at Fort Smith, when those exist)."""
        updates: dict[str, Any] = dict(zip(("start", "end"), day_range(EXAMPLE_DAY), strict=True))
        if not self.has_source_constraint():
            example = [
                s
                for s in self.sources
                if s.program == "trex" and s.platform == "fort smith" and s.instrument_type == "RGB ASI"
            ]
            if example:
                updates.update(programs=["trex"])
                self.param.update(**updates)
                self.param.update(platforms=["fort smith"])
                self.param.update(instrument_types=["RGB ASI"])
                return
        self.param.update(**updates)

    def step_days(self, days: int) -> None:
        """Move the whole range by ``days`` (±1 day steppers)."""
        delta = timedelta(days=days)
        self.param.update(start=self.start + delta, end=self.end + delta)

    # --- metadata filter builder ------------------------------------------------------------------

    def add_metadata_filter(self, key: str, operator: str, values: Sequence[Any]) -> None:
        """Append a condition (validated when the query is built; errors show next to the builder).

        Raises:
            QueryValidationError: ``operator`` is not an AuroraX metadata operator.
        """
        if operator not in METADATA_OPERATORS:
            raise QueryValidationError(f"unknown operator {operator!r}; use one of {', '.join(METADATA_OPERATORS)}")
        self.metadata_filters = [*self.metadata_filters, {"key": key, "operator": operator, "values": list(values)}]

    def remove_metadata_filter(self, index: int) -> None:
        self.metadata_filters = [f for i, f in enumerate(self.metadata_filters) if i != index]

    # --- validation -----------------------------------------------------------------------------

    def _validate(self, *_: Any) -> None:
        self.field_errors = self.check()

    def check(self) -> dict[str, str]:
        """Why the current inputs cannot be searched, per field (empty when they can).

        Each field checks its own value; then the rules that span fields; then the query itself
        is built, so that anything ``DataProductQuery`` refuses is reported too.
        """
        errors = {f.name: message for f in QUERY_FIELDS if (message := f.check(getattr(self, f.name)))}
        errors.update(self.check_times())
        if not self.has_source_constraint():
            errors["programs"] = "Select at least one program, platform or instrument type."
        elif self.sources and not self.selected_sources():
            errors["instrument_types"] = "No data source has this program, platform and instrument type together."
        if not errors:
            try:
                self._build_query()
            except QueryValidationError as exc:
                errors[_field_named_in(str(exc))] = f"{exc}."
        return errors

    def check_times(self) -> dict[str, str]:
        """Why start and end cannot be searched (typed text that cannot be read, order, span)."""
        errors = {name: FIELDS[name].check(getattr(self, name)) for name in ("start", "end")}
        errors = {k: v for k, v in errors.items() if v}
        errors.update(self.typed_errors)
        if errors:
            return errors
        start, end = aware(self.start), aware(self.end)
        if end < start:
            errors["end"] = (
                f"End ({format_time(end)}) is before start ({format_time(start)}). Pick an end after the start."
            )
        elif end - start > MAX_SPAN:
            years = (end - start).days / 365.25
            errors["end"] = (
                f"The range spans {years:.0f} years; the limit is 25 (ground-imager data start in 2004). "
                "Narrow the range."
            )
        return errors

    def _build_query(self) -> DataProductQuery:
        return DataProductQuery(**{f.name: f.query_value(getattr(self, f.name)) for f in QUERY_FIELDS})

    def to_query(self) -> DataProductQuery:
        """The query the inputs describe.

        Raises:
            QueryValidationError: the inputs are invalid (the message names the field).
        """
        errors = self.check()
        if errors:
            raise QueryValidationError("; ".join(errors.values()))
        return self._build_query()

    # --- permalinks -----------------------------------------------------------------------------

    def to_permalink(self) -> dict[str, str]:
        """The URL query parameters of the query fields."""
        return encode_fields(self.values())

    def apply_permalink(self, params: Mapping[str, str]) -> list[str]:
        """Restore the fields from URL parameters; readable problems with the link (may be empty).

        Values are validated like typed input: unknown programs etc. are dropped with a note.
        Source and type fields are restored only when the link carries a query, so that a link
        such as ``?theme=dark`` keeps the form as it is.
        """
        problems: list[str] = []
        has_query = any(k in params for k in QUERY_LINK_KEYS)
        for field in QUERY_FIELDS:
            text = str(params.get(field.link) or "")
            if not text and not (field.needs_query and has_query):
                continue
            # Options are read now: a program set just before narrows the platforms.
            parameter = self.param[field.name]
            options = list(parameter.objects or []) if isinstance(parameter, param.Selector) else []
            try:
                value, found = field.decode(text, options)
            except LinkProblem as exc:
                problems.append(f"link parameter {field.link}: {exc}")
                continue
            problems += [f"link parameter {field.link}: {p}" for p in found]
            if field.needs_query and not has_query:
                continue
            if value is not KEEP:
                setattr(self, field.name, value)
        return problems


def _text(label: str) -> str:
    """A label that reads as itself when rendered as HTML."""
    return html.escape(label, quote=False)


def _field_named_in(message: str) -> str:
    """The form field a core validation message is about (its messages start with the field)."""
    lowered = message.lower()
    for name in sorted(FIELDS, key=len, reverse=True):
        if lowered.startswith((name, name.replace("_", " "), FIELDS[name].link)):
            return name
    return "metadata_filters" if "metadata" in lowered else "end"


def coerce_filter_value(text: str) -> str | int | float:
    """'5' -> 5, '2.5' -> 2.5, anything else stays text (metadata values are strings or numbers)."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return stripped
    return number if math.isfinite(number) else stripped
