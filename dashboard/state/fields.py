"""Every query field of the search form, declared once.

``QUERY_FIELDS`` is the one table the form is made of. From each entry come: the form's
parameter (name = ``DataProductQuery`` field), its check, its value in the query, its permalink
key with the encoding and decoding, the lists watched by the permalink and the export view,
and its line in the exported Python code. A new form field is one entry here plus its widget in
``views/search_form.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import param

from aurorax_core import (
    DATA_PRODUCT_TYPES,
    AuroraXCoreError,
    MetadataFilterExpression,
    QueryValidationError,
    format_time,
    parse_time,
)

# The day the AuroraX documentation uses in its examples (TREx RGB at Fort Smith, 2020-01-01).
EXAMPLE_DAY = date(2020, 1, 1)


def day_range(day: date) -> tuple[datetime, datetime]:
    """One UTC day as an inclusive AuroraX range: 00:00:00 .. 23:59:59."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(seconds=1)


def aware(value: datetime | date) -> datetime:
    """A form time as an aware UTC datetime (pickers give zone-less values, meant as UTC)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


class LinkProblem(ValueError):
    """A permalink value that cannot be used; the message says which and why."""


# ``decode`` returns this when the link's value is ignored and the field keeps its value.
KEEP: Any = object()


@dataclass(frozen=True)
class QueryField:
    """One query field. Subclasses say how its value is checked, queried, linked and exported.

    Attributes:
        name: the ``DataProductQuery`` field and the form parameter.
        link: the permalink key (``?program=trex``).
        label: the label the form shows.
        doc: the parameter's doc (tooltips, ``from_param`` widgets).
        needs_query: restored from a link only when the link carries a query (a link with only
            ``?theme=dark`` keeps the form as it is).
        only_with: encoded in links and code only when this other field is set.
        in_code_when_empty: written into exported Python code even when empty.
    """

    name: str
    link: str
    label: str
    doc: str = ""
    needs_query: bool = False
    only_with: str = ""
    in_code_when_empty: bool = True

    def parameter(self) -> param.Parameter:
        raise NotImplementedError

    def check(self, value: Any) -> str:
        """Why ``value`` cannot be searched ('' when it can)."""
        return ""

    def query_value(self, value: Any) -> Any:
        """The value as ``DataProductQuery`` takes it."""
        return value

    def encode(self, value: Any) -> str | None:
        """The permalink text, None to leave the key out."""
        raise NotImplementedError

    def decode(self, text: str, allowed: Sequence[Any]) -> tuple[Any, list[str]]:
        """(value, problems) from link text; ``allowed`` are the form's current options.

        Raises:
            LinkProblem: the text cannot be used at all (the field keeps its value).
        """
        raise NotImplementedError

    def python(self, query_value: Any) -> str:
        """The keyword argument in exported Python code (aurorax_core / pyaurorax)."""
        return f"{self.name}={list(query_value)!r}"


@dataclass(frozen=True)
class TimeField(QueryField):
    default: datetime | None = None

    def parameter(self) -> param.Parameter:
        return param.Date(default=self.default, label=self.label, doc=self.doc)

    def check(self, value: Any) -> str:
        return "" if value is not None else f"Choose a {self.name} date and time (UTC)."

    def query_value(self, value: Any) -> Any:
        return aware(value)

    def encode(self, value: Any) -> str | None:
        return None if value is None else format_time(aware(value))

    def decode(self, text: str, allowed: Sequence[Any]) -> tuple[Any, list[str]]:
        try:
            return parse_time(text, field_name=self.name), []
        except AuroraXCoreError as exc:
            raise LinkProblem(str(exc)) from None

    def python(self, query_value: Any) -> str:
        v = query_value
        return f"{self.name}=datetime.datetime({v.year}, {v.month}, {v.day}, {v.hour}, {v.minute}, {v.second})"


@dataclass(frozen=True)
class ChoicesField(QueryField):
    """A list of choices; ``options`` fixed here, or (None) filled from the backend's sources."""

    options: tuple[str, ...] | None = None
    unknown: str = "unknown {values} (not in this backend)"

    def parameter(self) -> param.Parameter:
        return param.ListSelector(default=[], objects=list(self.options or ()), label=self.label, doc=self.doc)

    def query_value(self, value: Any) -> Any:
        return tuple(value)

    def encode(self, value: Any) -> str | None:
        return ",".join(value) if value else None

    def decode(self, text: str, allowed: Sequence[Any]) -> tuple[Any, list[str]]:
        wanted = [v for v in (part.strip() for part in text.split(",")) if v]
        options = list(self.options) if self.options is not None else list(allowed)
        bad = [v for v in wanted if v not in options]
        problems = [self.unknown.format(values=", ".join(bad))] if bad else []
        return [v for v in wanted if v in options], problems


@dataclass(frozen=True)
class FiltersField(QueryField):
    def parameter(self) -> param.Parameter:
        return param.List(default=[], item_type=dict, label=self.label, doc=self.doc)

    def check(self, value: Any) -> str:
        for number, expression in enumerate(value, start=1):
            try:
                MetadataFilterExpression.from_api_dict(expression)
            except QueryValidationError as exc:
                return f"Filter {number}: {exc}"
        return ""

    def query_value(self, value: Any) -> Any:
        return tuple(MetadataFilterExpression.from_api_dict(e) for e in value)

    def encode(self, value: Any) -> str | None:
        return json.dumps(value, separators=(",", ":")) if value else None

    def decode(self, text: str, allowed: Sequence[Any]) -> tuple[Any, list[str]]:
        try:
            filters = json.loads(text)
            if not isinstance(filters, list):
                raise ValueError("not a list")
            return [MetadataFilterExpression.from_api_dict(f).to_api_dict() for f in filters], []
        except (ValueError, QueryValidationError) as exc:
            raise LinkProblem(str(exc)) from None

    def python(self, query_value: Any) -> str:
        return f"{self.name}={[f.to_api_dict() for f in query_value]!r}"


@dataclass(frozen=True)
class ChoiceField(QueryField):
    options: tuple[str, ...] = ()

    def parameter(self) -> param.Parameter:
        return param.Selector(default=self.options[0], objects=list(self.options), label=self.label, doc=self.doc)

    def encode(self, value: Any) -> str | None:
        return str(value)

    def decode(self, text: str, allowed: Sequence[Any]) -> tuple[Any, list[str]]:
        # An unknown operator in a link leaves the form's operator as it is.
        return (text if text in self.options else KEEP), []

    def python(self, query_value: Any) -> str:
        return f"{self.name}={query_value!r}"


QUERY_FIELDS: tuple[QueryField, ...] = (
    TimeField("start", "start", "Start (UTC)", "Start of the time range, UTC.", default=day_range(EXAMPLE_DAY)[0]),
    TimeField("end", "end", "End (UTC)", "End of the time range, UTC.", default=day_range(EXAMPLE_DAY)[1]),
    ChoicesField("programs", "program", "Program", needs_query=True),
    ChoicesField("platforms", "platform", "Platform", needs_query=True),
    ChoicesField("instrument_types", "instrument_type", "Instrument type", needs_query=True),
    ChoicesField(
        "data_product_types",
        "type",
        "Product type",
        "Empty means all types.",
        needs_query=True,
        options=tuple(DATA_PRODUCT_TYPES),
        unknown="unknown product type {values}",
    ),
    FiltersField(
        "metadata_filters",
        "filters",
        "Metadata filters",
        "Metadata conditions: dicts with 'key', 'operator' and 'values'.",
        in_code_when_empty=False,
    ),
    ChoiceField(
        "metadata_filters_logical_operator",
        "op",
        "Combine filters",
        only_with="metadata_filters",
        options=("AND", "OR"),
    ),
)
FIELDS: dict[str, QueryField] = {f.name: f for f in QUERY_FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS)
# A search over everything would scan the whole archive; one of these is the least we ask for.
SOURCE_FIELDS: tuple[str, ...] = ("programs", "platforms", "instrument_types")
# A link "carries a query" when it names a source or a start time.
QUERY_LINK_KEYS: tuple[str, ...] = (*(FIELDS[n].link for n in SOURCE_FIELDS), FIELDS["start"].link)


def encode_fields(values: Mapping[str, Any]) -> dict[str, str]:
    """The permalink parameters of the form's values (field name -> value)."""
    out: dict[str, str] = {}
    for field in QUERY_FIELDS:
        if field.only_with and not values.get(field.only_with):
            continue
        text = field.encode(values.get(field.name))
        if text is not None:
            out[field.link] = text
    return out


def python_arguments(query: Any) -> list[str]:
    """The query's keyword arguments as Python source lines (for the exported snippets)."""
    lines = []
    for field in QUERY_FIELDS:
        value = getattr(query, field.name)
        if (field.only_with and not getattr(query, field.only_with)) or (not field.in_code_when_empty and not value):
            continue
        lines.append(f"    {field.python(value)},")
    return lines
