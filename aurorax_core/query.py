"""The data-product query: an immutable value with one serializer to and from AuroraX JSON.

The JSON form is the body pyaurorax POSTs to ``/api/v1/data_products/search`` and the query-file
format of ``aurorax-cli data_products search QUERY.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from .errors import QueryValidationError, RecordValidationError
from .models import DATA_PRODUCT_TYPES, format_time, parse_time

METADATA_OPERATORS: Final[tuple[str, ...]] = ("=", "!=", ">", "<", ">=", "<=", "between", "in", "not in")
LOGICAL_OPERATORS: Final[tuple[str, ...]] = ("AND", "OR")
# Longer than any ground-imager archive (THEMIS ASI started in 2004); a wider range is almost
# certainly a typo (e.g. 2200 for 2020) and would make the backend scan everything.
MAX_QUERY_SPAN: Final = timedelta(days=366 * 25)

# --- the cost of a query is bounded wherever it enters (Python API, CLI, server, dashboard) ------
# Each number is a few times what real AuroraX queries need (PROTOCOL.md, shared/aurorax/data,
# assets/data_sources.json), so no real query comes near it, while the per-row work of the largest
# allowed query stays small enough for a search to notice a cancel or its deadline quickly: the
# catalog checks both every 4,096 rows, and the metadata filter is what each row costs.
#
# Cost model (CPU time on the demo archive, measured with bench-free `time.process_time`): a row costs
# ~3.3 us to read and encode plus ~0.55 us per filter value compared (``between`` compares two,
# ``in`` on a numeric or typed key one per value). With at most MAX_FILTER_VALUES values in all, a
# row costs at most ~3.3 + 20 * 0.55 ~ 15 us, so 4,096 rows take ~60 ms < 100 ms between two checks.
# Real queries: 1-2 expressions (docs and pyaurorax examples; example2.json; the pyaurorax test suite
# ORs two), at most 8 values (keogram_type has 7 values seen plus 1 schema-only value).
MAX_METADATA_EXPRESSIONS: Final = 8
"""Metadata expressions per query: one per metadata key a data product carries (a type key,
imaging start/end, the ML classification keys) with room to spare; real queries use 1-2."""
MAX_VALUES_PER_EXPRESSION: Final = 16
"""Values in one expression: twice keogram_type's 8 known values (the longest real ``in`` list)."""
MAX_FILTER_VALUES: Final = 20
"""Values in all expressions together: the per-row cost bound of the cost model above."""
MAX_KEY_LENGTH: Final = 64
"""Characters in a metadata key: the longest real key (calgary_cloud_ml_v1_confidence) has 30."""
MAX_VALUE_LENGTH: Final = 256
"""Characters in a metadata value: real values are type names (<= 20) and timestamps (26)."""
MAX_NAME_LENGTH: Final = 64
"""Characters in a program, platform, instrument type or data product type: the longest real one
('near-infrared ASI') has 17."""
MAX_LIST_ENTRIES: Final = 128
"""Entries in programs / platforms / instrument_types / data_product_type_filters: production has
18 programs, 76 platforms and 9 instrument types (101 data sources; 108 in 2022)."""
MAX_QUERY_BYTES: Final = 64 * 1024
"""Bytes of a query's JSON (a server body, a query file): a largest-allowed query is ~30 kB, a
real one ~500 bytes."""

_QUERY_KEYS: Final = {"start", "end", "data_sources", "data_product_type_filters", "request_id"}
_SOURCE_KEYS: Final = {"programs", "platforms", "instrument_types", "data_product_metadata_filters"}

MetadataValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class MetadataFilterExpression:
    """One metadata condition, e.g. ``keogram_type in (daily, hourly)``."""

    key: str
    operator: str
    values: tuple[MetadataValue, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise QueryValidationError("metadata filter: 'key' must be a non-empty string, e.g. 'keogram_type'")
        if len(self.key) > MAX_KEY_LENGTH:
            raise QueryValidationError(
                f"metadata filter key {self.key[:40]!r}... has {len(self.key)} characters, more than the limit "
                f"of {MAX_KEY_LENGTH} (MAX_KEY_LENGTH); metadata keys are short names like 'keogram_type'"
            )
        operator = self.operator.strip().lower() if isinstance(self.operator, str) else self.operator
        if operator not in METADATA_OPERATORS:
            raise QueryValidationError(
                f"metadata filter on {self.key!r}: unknown operator {self.operator!r}; "
                f"use one of {', '.join(repr(o) for o in METADATA_OPERATORS)}"
            )
        values = self.values
        # A dict or a string is iterable but is never the list the wire format means.
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise QueryValidationError(
                f"metadata filter on {self.key!r}: 'values' must be a list, e.g. [\"daily\"], got {values!r}"
            )
        values = tuple(values)
        if len(values) > MAX_VALUES_PER_EXPRESSION:
            raise QueryValidationError(
                f"metadata filter on {self.key!r} has {len(values)} values, more than the limit of "
                f"{MAX_VALUES_PER_EXPRESSION} per expression (MAX_VALUES_PER_EXPRESSION); narrow the list"
            )
        for value in values:
            if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
                raise QueryValidationError(
                    f"metadata filter on {self.key!r}: a value has {len(value)} characters, more than the "
                    f"limit of {MAX_VALUE_LENGTH} (MAX_VALUE_LENGTH)"
                )
            if not isinstance(value, (str, int, float, bool)) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise QueryValidationError(
                    f"metadata filter on {self.key!r}: value {value!r} must be a string or a finite number"
                )
        if not values:
            raise QueryValidationError(f"metadata filter on {self.key!r}: 'values' is empty; give at least one value")
        if operator == "between" and len(values) != 2:
            raise QueryValidationError(
                f"metadata filter on {self.key!r}: 'between' needs exactly two values [low, high], got {len(values)}"
            )
        if operator in ("=", "!=", ">", "<", ">=", "<=") and len(values) != 1:
            raise QueryValidationError(
                f"metadata filter on {self.key!r}: {operator!r} takes one value, got {len(values)}; "
                "use 'in' or 'not in' for several"
            )
        object.__setattr__(self, "operator", operator)
        object.__setattr__(self, "values", values)

    def to_api_dict(self) -> dict[str, Any]:
        return {"key": self.key, "operator": self.operator, "values": list(self.values)}

    @classmethod
    def from_api_dict(cls, data: Any) -> MetadataFilterExpression:
        if not isinstance(data, Mapping):
            raise QueryValidationError(
                'metadata filter expression must be an object like {"key": "keogram_type", '
                f'"operator": "=", "values": ["daily"]}}, got {data!r}'
            )
        missing = [k for k in ("key", "operator", "values") if k not in data]
        if missing:
            raise QueryValidationError(f"metadata filter expression {dict(data)!r} is missing {', '.join(missing)}")
        return cls(key=data["key"], operator=data["operator"], values=data["values"])

    def describe(self) -> str:
        if self.operator == "between":
            return f"{self.key} between {self.values[0]} and {self.values[1]}"
        if self.operator in ("in", "not in"):
            return f"{self.key} {self.operator} ({', '.join(str(v) for v in self.values)})"
        return f"{self.key} {self.operator} {self.values[0]}"


def _string_tuple(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise QueryValidationError(f'{name} must be a list of strings, e.g. ["trex"], got {value!r}')
    items = tuple(value)
    if len(items) > MAX_LIST_ENTRIES:
        raise QueryValidationError(
            f"{name} has {len(items)} entries, more than the limit of {MAX_LIST_ENTRIES} (MAX_LIST_ENTRIES); "
            "leave the list empty to mean all of them"
        )
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise QueryValidationError(f"{name}: every entry must be a non-empty string, got {item!r}")
        if len(item) > MAX_NAME_LENGTH:
            raise QueryValidationError(
                f"{name}: {item[:40]!r}... has {len(item)} characters, more than the limit of {MAX_NAME_LENGTH} "
                "(MAX_NAME_LENGTH); names are like 'trex', 'fort smith', 'RGB ASI'"
            )
    # Duplicates change nothing in an OR list; dropping them keeps equal queries equal.
    return tuple(dict.fromkeys(items))


def _check_filter_cost(filters: tuple[Any, ...]) -> None:
    # before any expression is built: a list of 20,000 expressions is refused without parsing them
    if len(filters) > MAX_METADATA_EXPRESSIONS:
        raise QueryValidationError(
            f"the query has {len(filters)} metadata filter expressions, more than the limit of "
            f"{MAX_METADATA_EXPRESSIONS} (MAX_METADATA_EXPRESSIONS); combine values with 'in' instead"
        )


def _query_time(name: str, value: Any) -> datetime:
    if isinstance(value, (datetime, date, str)):
        try:
            return parse_time(value, field_name=name)
        except RecordValidationError as exc:
            raise QueryValidationError(str(exc)) from None
    raise QueryValidationError(f"{name} must be a date/time like '2020-01-01T00:00:00', got {value!r}")


@dataclass(frozen=True, slots=True)
class DataProductQuery:
    """A data-product search: a UTC time range, data-source constraints and metadata filters.

    Lists are OR'ed inside and AND'ed together; an empty list means no constraint. Time is
    containment: a product matches when ``start >= query.start and end <= query.end``.
    Construct it with lists or tuples; it stores tuples and validates on construction.

    Raises:
        QueryValidationError: any field is invalid; the message names it and says how to fix it.
    """

    start: datetime
    end: datetime
    programs: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    instrument_types: tuple[str, ...] = ()
    data_product_types: tuple[str, ...] = ()
    metadata_filters: tuple[MetadataFilterExpression, ...] = ()
    metadata_filters_logical_operator: str = "AND"
    request_id: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        start = _query_time("start", self.start)
        end = _query_time("end", self.end)
        if end < start:
            raise QueryValidationError(
                f"end ({format_time(end)}) is before start ({format_time(start)}); swap them or fix the dates"
            )
        if end - start > MAX_QUERY_SPAN:
            raise QueryValidationError(
                f"the time range {format_time(start)} .. {format_time(end)} spans more than 25 years; "
                "narrow it (AuroraX ground-imager data start in 2004)"
            )
        set_ = object.__setattr__
        # AuroraX queries carry whole seconds; truncating here keeps the JSON round trip exact.
        set_(self, "start", start.replace(microsecond=0))
        set_(self, "end", end.replace(microsecond=0))
        set_(self, "programs", _string_tuple("programs", self.programs))
        set_(self, "platforms", _string_tuple("platforms", self.platforms))
        set_(self, "instrument_types", _string_tuple("instrument_types", self.instrument_types))
        types = _string_tuple("data_product_types", self.data_product_types)
        unknown = [t for t in types if t not in DATA_PRODUCT_TYPES]
        if unknown:
            raise QueryValidationError(
                f"unknown data product type {unknown[0]!r}; use one of {', '.join(DATA_PRODUCT_TYPES)}"
            )
        set_(self, "data_product_types", types)
        filters = self.metadata_filters
        if filters is None:
            filters = ()
        if isinstance(filters, (str, bytes, Mapping)) or not isinstance(filters, Iterable):
            raise QueryValidationError(f"metadata_filters must be a list of expressions, got {filters!r}")
        filters = tuple(filters)
        _check_filter_cost(filters)
        expressions = tuple(
            f if isinstance(f, MetadataFilterExpression) else MetadataFilterExpression.from_api_dict(f) for f in filters
        )
        total = sum(len(e.values) for e in expressions)
        if total > MAX_FILTER_VALUES:
            raise QueryValidationError(
                f"the metadata filters have {total} values in all, more than the limit of {MAX_FILTER_VALUES} "
                "(MAX_FILTER_VALUES: every record is compared with each value); use fewer values"
            )
        set_(self, "metadata_filters", expressions)
        logical = self.metadata_filters_logical_operator
        logical = "AND" if logical is None else logical
        if not isinstance(logical, str) or logical.strip().upper() not in LOGICAL_OPERATORS:
            raise QueryValidationError(f"metadata_filters_logical_operator must be 'AND' or 'OR', got {logical!r}")
        set_(self, "metadata_filters_logical_operator", logical.strip().upper())

    # --- the one serializer -------------------------------------------------------------------

    def to_api_payload(self) -> dict[str, Any]:
        """The AuroraX query JSON, exactly as pyaurorax builds it (aurorax-cli query-file form)."""
        filters: dict[str, Any] = {}
        # pyaurorax sends {} when there is no filter; a non-default operator is still written
        # (AuroraX accepts an empty expression list) so that the JSON round trip is lossless.
        if self.metadata_filters or self.metadata_filters_logical_operator != "AND":
            filters = {
                "expressions": [f.to_api_dict() for f in self.metadata_filters],
                "logical_operator": self.metadata_filters_logical_operator,
            }
        return {
            "data_sources": {
                "programs": list(self.programs),
                "platforms": list(self.platforms),
                "instrument_types": list(self.instrument_types),
                "data_product_metadata_filters": filters,
            },
            "start": format_time(self.start),
            "end": format_time(self.end),
            "data_product_type_filters": list(self.data_product_types),
        }

    @classmethod
    def from_api_payload(cls, payload: Any) -> DataProductQuery:
        """Parse an AuroraX query (a dict from JSON).

        Raises:
            QueryValidationError: the payload is not an AuroraX data-product query.
        """
        if not isinstance(payload, Mapping):
            raise QueryValidationError(
                f"a query must be a JSON object with 'start', 'end' and 'data_sources', got {type(payload).__name__}"
            )
        unknown = sorted(set(payload) - _QUERY_KEYS)
        if unknown:
            raise QueryValidationError(
                f"unknown query key(s) {', '.join(map(repr, unknown))}; a data-product query has "
                f"{', '.join(sorted(_QUERY_KEYS - {'request_id'}))}"
            )
        for key in ("start", "end"):
            if key not in payload:
                raise QueryValidationError(f'the query has no \'{key}\'; add e.g. "{key}": "2020-01-01T00:00:00"')
        sources = payload.get("data_sources")
        sources = {} if sources is None else sources
        if not isinstance(sources, Mapping):
            raise QueryValidationError(f"'data_sources' must be an object, got {sources!r}")
        unknown = sorted(set(sources) - _SOURCE_KEYS)
        if unknown:
            raise QueryValidationError(
                f"unknown key(s) in data_sources: {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(_SOURCE_KEYS))}"
            )
        filters_block = sources.get("data_product_metadata_filters")
        filters_block = {} if filters_block is None else filters_block
        expressions: Any = []
        logical: Any = "AND"
        if isinstance(filters_block, Mapping):
            expressions = filters_block.get("expressions")
            expressions = [] if expressions is None else expressions
            logical = filters_block.get("logical_operator") or "AND"
        elif isinstance(filters_block, list):
            # pyaurorax's legacy form: a bare list of expression dicts.
            expressions = filters_block
        else:
            raise QueryValidationError(
                f"'data_product_metadata_filters' must be an object with 'expressions' and "
                f"'logical_operator', got {filters_block!r}"
            )
        if not isinstance(expressions, list):
            raise QueryValidationError(f"metadata filter 'expressions' must be a list, got {expressions!r}")
        request_id = payload.get("request_id")
        return cls(
            start=payload["start"],
            end=payload["end"],
            programs=sources.get("programs"),
            platforms=sources.get("platforms"),
            instrument_types=sources.get("instrument_types"),
            data_product_types=payload.get("data_product_type_filters"),
            metadata_filters=tuple(expressions),
            metadata_filters_logical_operator=logical,
            request_id=request_id if isinstance(request_id, str) else None,
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_api_payload(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> DataProductQuery:
        """Parse query JSON text.

        Raises:
            QueryValidationError: empty text, invalid JSON, or an invalid query.
        """
        if not text.strip():
            raise QueryValidationError(
                "the query is empty; it must be a JSON object (see `data_products search_template`)"
            )
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_QUERY_BYTES:
            raise QueryValidationError(too_large_message(size))
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QueryValidationError(
                f"the query is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        return cls.from_api_payload(payload)

    @classmethod
    def from_file(cls, path: str | Path) -> DataProductQuery:
        """Read an ``aurorax-cli`` query file.

        Raises:
            QueryValidationError: the file is missing, unreadable, empty or not a valid query.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise QueryValidationError(f"query file {str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise QueryValidationError(f"cannot read query file {str(path)!r}: {exc}") from None
        try:
            return cls.from_json(text)
        except QueryValidationError as exc:
            raise QueryValidationError(f"{path}: {exc}") from None

    # --- conveniences -------------------------------------------------------------------------

    def replace(self, **changes: Any) -> DataProductQuery:
        """A copy with some fields changed (validated again)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        current.update(changes)
        return DataProductQuery(**current)

    def describe(self) -> str:
        """A human-readable description in the style of AuroraX's describe endpoint."""
        clauses = [
            f"{name} in ({', '.join(values)})"
            for name, values in (
                ("program", self.programs),
                ("platform", self.platforms),
                ("instrument_type", self.instrument_types),
            )
            if values
        ]
        sources = " AND ".join(clauses)
        sources = f"{sources} filtered by metadata ()" if sources else "filtered by metadata ()"
        joiner = f" {self.metadata_filters_logical_operator} "
        filters = joiner.join(f.describe() for f in self.metadata_filters)
        text = (
            f"Find data_products for (({sources}) AND  data_product_metadata_filters [{filters}]) "
            f"AND data_product start >= {_java_time(self.start)} UTC "
            f"AND data_product end <= {_java_time(self.end)} UTC AND"
        )
        if self.data_product_types:
            text += f" data_product_type in ({', '.join(self.data_product_types)})"
        return text


def too_large_message(size: int | None) -> str:
    """The refusal of a query whose JSON is over MAX_QUERY_BYTES (``size`` None: not known yet)."""
    given = f"{size:,} bytes" if size is not None else "more"
    return (
        f"the query is {given}, more than the limit of {MAX_QUERY_BYTES:,} bytes (MAX_QUERY_BYTES); "
        "a real query is well under 1 kB: leave lists empty to mean all, and use fewer metadata filters"
    )


def _java_time(value: datetime) -> str:
    # AuroraX renders times with Java's LocalDateTime.toString(): seconds only when non-zero.
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    if value.second:
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return value.strftime("%Y-%m-%dT%H:%M")


SEARCH_TEMPLATE: Final[dict[str, Any]] = {
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_sources": {
        "programs": ["string"],
        "platforms": ["string"],
        "instrument_types": ["string"],
        "data_product_metadata_filters": {
            "logical_operator": "AND",
            "expressions": [{"key": "string", "operator": "=", "values": ["string"]}],
        },
    },
    "data_product_type_filters": ["keogram"],
}
