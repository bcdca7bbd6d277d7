"""AuroraX metadata-filter semantics (PROTOCOL §3.7), independent of any storage engine.

What a data-product search means for ``data_product_metadata_filters``, in one place, for every
engine: how a metadata key's schema ``data_type`` chooses the comparison mode, how a record value
compares with a filter value in that mode, and a compiled Python predicate over a record's
metadata. An SQL engine narrows its rows with what it can push down and runs the predicate on the
rest.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..query import DataProductQuery, MetadataFilterExpression

if TYPE_CHECKING:
    from ..models import DataProduct

NUMERIC_TYPES: Final = frozenset({"double", "int", "integer", "float", "long", "number", "decimal"})
_NUMBER_RE: Final = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")

MetadataPredicate = Callable[[dict[str, Any]], bool]
"""A compiled filter: True when a record's metadata satisfies it."""

_MISSING: Final = object()


def as_number(value: Any) -> int | float | None:
    """The value as a number, or None. Booleans are not numbers; numeric strings are."""
    kind = type(value)
    if kind is int or kind is float:
        return value if kind is int or math.isfinite(value) else None
    if kind is str and _NUMBER_RE.match(value):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            number = float(text)
            return number if math.isfinite(number) else None
    return None


def as_text(value: Any) -> str:
    """The value as a string: strings as is, booleans lower-case, null as 'null', else JSON."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int or kind is float:
        return repr(value)
    return json.dumps(value, sort_keys=True)


def mode_for(data_type: str | None) -> str:
    if data_type is None:
        return "auto"
    data_type = str(data_type).strip().lower()
    if data_type in NUMERIC_TYPES:
        return "numeric"
    if data_type in ("bool", "boolean"):
        return "bool"
    if data_type in ("string", "str", "text"):
        return "string"
    return "auto"


def compare(mode: str, left: Any, right: Any) -> int | None:
    """-1/0/1 comparing a record value with a filter value, or None when they cannot be compared."""
    if mode == "numeric":
        a, b = as_number(left), as_number(right)
        if a is None or b is None:
            return None
    elif mode == "bool":
        a, b = as_text(left).lower(), as_text(right).lower()
    elif mode == "string":
        a, b = as_text(left), as_text(right)
    else:
        a, b = as_number(left), as_number(right)
        if a is None or b is None:
            a, b = as_text(left), as_text(right)
    return (a > b) - (a < b)  # type: ignore[operator]


def compile_expression(expr: MetadataFilterExpression, mode: str) -> Callable[[dict[str, Any]], bool]:
    key, op, values = expr.key, expr.operator, expr.values
    if mode == "auto" and all(type(v) is str and as_number(v) is None for v in values):
        # Common case (keogram_type = daily): plain string comparison, no per-row number parsing.
        texts = tuple(values)
        if op == "=" or op == "in":
            wanted = frozenset(texts)
            return lambda md: (v := md.get(key, _MISSING)) is not _MISSING and as_text(v) in wanted
        if op == "!=" or op == "not in":
            unwanted = frozenset(texts)
            return lambda md: (v := md.get(key, _MISSING)) is not _MISSING and as_text(v) not in unwanted

    def compare_all(md: dict[str, Any]) -> bool:
        value = md.get(key, _MISSING)
        if value is _MISSING:
            return False
        results = [compare(mode, value, v) for v in values]
        if op == "=" or op == "in":
            return any(c == 0 for c in results)
        if op == "!=" or op == "not in":
            return all(c is not None and c != 0 for c in results)
        if op == "between":
            return results[0] is not None and results[0] >= 0 and results[1] is not None and results[1] <= 0
        c = results[0]
        if c is None:
            return False
        if op == ">":
            return c > 0
        if op == "<":
            return c < 0
        if op == ">=":
            return c >= 0
        return c <= 0  # "<="

    return compare_all


class _Intervals:
    """A union of closed intervals [low, high] of mutually comparable values, merged and sorted:
    membership is one binary search, however many ``between`` expressions made it."""

    __slots__ = ("_highs", "_lows")

    def __init__(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        merged: list[list[Any]] = []
        for low, high in sorted(p for p in pairs if not p[1] < p[0]):
            if merged and not merged[-1][1] < low:
                if merged[-1][1] < high:
                    merged[-1][1] = high
            else:
                merged.append([low, high])
        self._lows = [m[0] for m in merged]
        self._highs = [m[1] for m in merged]

    def __bool__(self) -> bool:
        return bool(self._lows)

    def __contains__(self, value: Any) -> bool:
        i = bisect_right(self._lows, value) - 1
        return i >= 0 and not self._highs[i] < value


def _numbers(values: Iterable[Any]) -> list[int | float] | None:
    """The values as numbers, or None when one of them is not a number."""
    out = []
    for value in values:
        number = as_number(value)
        if number is None:
            return None
        out.append(number)
    return out


class _KeyAlternatives:
    """OR-ed ``=``/``in``/``between`` expressions on one key in one mode, as set and interval
    lookups: exactly what ``any(compare(...) == 0 ...)`` and the inclusive ``between`` of
    :func:`compare` decide, without a comparison per filter value."""

    __slots__ = ("mode", "num_ranges", "numbers", "text_ranges_any", "text_ranges_plain", "texts")

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.numbers: set[int | float] = set()
        self.texts: set[str] = set()
        self.num_ranges: list[tuple[Any, Any]] = []
        self.text_ranges_plain: list[tuple[str, str]] = []  # used only for non-numeric record values
        self.text_ranges_any: list[tuple[str, str]] = []  # used for every record value

    def add(self, expr: MetadataFilterExpression) -> bool:
        """Take in the expression; False when it is not expressible here (then nothing is taken)."""
        mode = self.mode
        text = (lambda v: as_text(v).lower()) if mode == "bool" else as_text
        if expr.operator in ("=", "in"):
            for value in expr.values:
                number = as_number(value) if mode in ("numeric", "auto") else None
                if number is not None:
                    self.numbers.add(number)
                elif mode != "numeric":  # numeric mode: a non-number filter value never compares equal
                    self.texts.add(text(value))
            return True
        if expr.operator != "between" or len(expr.values) != 2:
            return False
        low, high = expr.values
        numbers = _numbers((low, high))
        if mode == "numeric":
            if numbers is not None:
                self.num_ranges.append((numbers[0], numbers[1]))
            return True
        if mode == "auto":
            if numbers is not None:
                self.num_ranges.append((numbers[0], numbers[1]))
                self.text_ranges_plain.append((as_text(low), as_text(high)))
                return True
            if as_number(low) is None and as_number(high) is None:
                self.text_ranges_any.append((as_text(low), as_text(high)))
                return True
            return False  # one bound numeric, the other not: each end compares in its own way
        self.text_ranges_any.append((text(low), text(high)))
        return True

    def compile(self, key: str) -> MetadataPredicate:
        numbers, texts = frozenset(self.numbers), frozenset(self.texts)
        num_ranges = _Intervals(self.num_ranges)
        plain_ranges = _Intervals(self.text_ranges_plain)
        any_ranges = _Intervals(self.text_ranges_any)
        missing = _MISSING
        if self.mode == "numeric":

            def numeric(md: dict[str, Any]) -> bool:
                value = md.get(key, missing)
                if value is missing:
                    return False
                number = as_number(value)
                return number is not None and (number in numbers or number in num_ranges)

            return numeric
        if self.mode in ("string", "bool"):
            lower = self.mode == "bool"

            def textual(md: dict[str, Any]) -> bool:
                value = md.get(key, missing)
                if value is missing:
                    return False
                text = as_text(value).lower() if lower else as_text(value)
                return text in texts or text in any_ranges

            return textual

        def auto(md: dict[str, Any]) -> bool:
            value = md.get(key, missing)
            if value is missing:
                return False
            number = as_number(value)
            if number is not None:
                if number in numbers or number in num_ranges:
                    return True
                return bool(any_ranges) and as_text(value) in any_ranges
            text = as_text(value)
            return text in texts or text in plain_ranges or text in any_ranges

        return auto


def _expression_cost(expr: MetadataFilterExpression) -> int:
    return max(1, len(expr.values))


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A metadata filter compiled for one source's schema types.

    Attributes:
        predicate: True when a record's metadata satisfies the filter.
        cost: the per-record work in units of one value comparison (for the stop-check cadence).
    """

    predicate: MetadataPredicate
    cost: int


def compile_filter(
    expressions: Sequence[MetadataFilterExpression],
    logical_operator: str,
    data_types: Mapping[str, str] | None = None,
) -> CompiledFilter | None:
    """:func:`compile_metadata_filter` with its per-record cost; None when there is no filter.

    With ``OR``, the ``=``/``in``/``between`` expressions on one key become one set lookup and one
    binary search over merged intervals (20,000 OR-ed ``between`` cost one lookup, not 40,000
    comparisons); every other expression is compiled on its own.
    """
    if not expressions:
        return None
    types = data_types or {}
    preds: list[MetadataPredicate] = []
    cost = 0
    if logical_operator.upper() == "OR" and len(expressions) > 1:
        groups: dict[str, _KeyAlternatives] = {}
        for expr in expressions:
            mode = mode_for(types.get(expr.key))
            group = groups.get(expr.key)
            if group is None:
                group = groups[expr.key] = _KeyAlternatives(mode)
            if not group.add(expr):
                preds.append(compile_expression(expr, mode))
                cost += _expression_cost(expr)
        for key, group in groups.items():
            preds.append(group.compile(key))
            cost += 2
    else:
        for expr in expressions:
            preds.append(compile_expression(expr, mode_for(types.get(expr.key))))
            cost += _expression_cost(expr)
    if len(preds) == 1:
        return CompiledFilter(preds[0], cost)
    if logical_operator.upper() == "OR":
        return CompiledFilter(lambda md: any(p(md) for p in preds), cost)
    return CompiledFilter(lambda md: all(p(md) for p in preds), cost)


def compile_metadata_filter(
    expressions: Sequence[MetadataFilterExpression],
    logical_operator: str,
    data_types: Mapping[str, str] | None = None,
) -> MetadataPredicate | None:
    """A predicate over a record's metadata implementing PROTOCOL §3.7, or None when no filter.

    ``data_types`` maps metadata keys to the source's schema ``data_type``: ``double``/``int``
    compare numerically, ``bool`` as lower-case ``true``/``false``, ``string`` as text; keys
    without a schema entry compare numerically when both sides are numbers, else as text. A record
    that lacks the key never satisfies the expression, whatever the operator. ``between`` is
    inclusive at both ends.
    """
    compiled = compile_filter(expressions, logical_operator, data_types)
    return None if compiled is None else compiled.predicate


def schema_types(schema: Iterable[Any] | None) -> dict[str, str]:
    """key -> ``data_type`` from a data source's ``data_product_metadata_schema``."""
    types: dict[str, str] = {}
    for entry in schema or []:
        if isinstance(entry, Mapping) and entry.get("field_name") and entry.get("data_type"):
            types[str(entry["field_name"])] = str(entry["data_type"])
    return types


# --------------------------------------------------------------------------------------------
# What an SQL engine can decide itself (each dialect renders it)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextMatch:
    """An expression that holds exactly when the record has ``key`` and its value, as text
    (:func:`as_text`), is one of ``texts`` (or, ``negated``, none of them): what SQL can test as
    ``value IN (...)`` / ``NOT IN (...)`` on a text column or a JSON text extraction."""

    key: str
    texts: frozenset[str]
    negated: bool


def text_match(expr: MetadataFilterExpression, modes: Iterable[str]) -> TextMatch | None:
    """``expr`` as a :class:`TextMatch` when that is exact for records of sources whose modes for
    its key are ``modes`` (:func:`mode_for` of each selected source's data_type), else None.

    ``=``/``in``/``!=``/``not in`` with plain non-numeric strings compare as text in the
    ``auto`` and ``string`` modes (a numeric record value never equals a non-numeric text).
    """
    if expr.operator not in ("=", "in", "!=", "not in"):
        return None
    if not all(type(v) is str and as_number(v) is None for v in expr.values):
        return None
    if not set(modes) <= {"auto", "string"}:
        return None
    return TextMatch(expr.key, frozenset(expr.values), expr.operator in ("!=", "not in"))  # type: ignore[arg-type]


T = TypeVar("T")


def push_down(
    expressions: Sequence[MetadataFilterExpression],
    logical_operator: str,
    render: Callable[[MetadataFilterExpression], tuple[T, bool] | None],
) -> tuple[list[T], bool] | None:
    """Combine what an SQL dialect can render of each expression into what the engine applies.

    ``render(expr)`` returns the dialect's condition for ``expr`` and whether it is exact (else
    only necessary), or None when the dialect cannot narrow by it. The answer is the rendered
    conditions (to be combined with the query's logical operator) and whether together they decide
    the filter exactly (else :func:`compile_metadata_filter` still runs on the narrowed rows), or
    None when nothing can be pushed down: under ``OR`` one unrenderable alternative leaves no
    necessary condition; under ``AND`` it is skipped and the result is not exact.
    """
    if not expressions:
        return None
    is_or = logical_operator.upper() == "OR"
    rendered: list[T] = []
    exact = True
    for expr in expressions:
        part = render(expr)
        if part is None:
            if is_or:
                return None
            exact = False
            continue
        rendered.append(part[0])
        exact = exact and part[1]
    if not rendered:
        return None
    return rendered, exact


# --------------------------------------------------------------------------------------------
# The reference: the whole query semantics in plain Python (what tests compare engines with)
# --------------------------------------------------------------------------------------------


def _reference_expression(expr: MetadataFilterExpression, mode: str, metadata: Mapping[str, Any]) -> bool:
    if expr.key not in metadata:
        return False
    value = metadata[expr.key]
    results = [compare(mode, value, v) for v in expr.values]
    op = expr.operator
    if op in ("=", "in"):
        return any(c == 0 for c in results)
    if op in ("!=", "not in"):
        return all(c is not None and c != 0 for c in results)
    if op == "between":
        low, high = results
        return low is not None and high is not None and low >= 0 and high <= 0
    c = results[0]
    if c is None:
        return False
    return {">": c > 0, "<": c < 0, ">=": c >= 0, "<=": c <= 0}[op]


def _whole_seconds(value: datetime) -> int:
    return math.floor(value.timestamp())


def matches(query: DataProductQuery, product: DataProduct) -> bool:
    """Whether ``product`` is in the result of ``query`` (PROTOCOL §3.7), written for clarity.

    Time: containment at whole-second precision (``start >= query.start`` and ``end <=
    query.end``); data sources: each non-empty list OR'ed inside, the lists AND'ed; types: in
    the list when given; metadata filters: each expression in the mode of the product's source's
    schema for its key, combined with the query's logical operator.
    """
    source = product.data_source
    if _whole_seconds(product.start) < int(query.start.timestamp()):
        return False
    if _whole_seconds(product.end) > int(query.end.timestamp()):
        return False
    if query.programs and source.program not in query.programs:
        return False
    if query.platforms and source.platform not in query.platforms:
        return False
    if query.instrument_types and source.instrument_type not in query.instrument_types:
        return False
    if query.data_product_types and product.data_product_type not in query.data_product_types:
        return False
    if not query.metadata_filters:
        return True
    return metadata_matches(
        query.metadata_filters,
        query.metadata_filters_logical_operator,
        product.metadata or {},
        schema_types(source.data_product_metadata_schema),
    )


def metadata_matches(
    expressions: Sequence[MetadataFilterExpression],
    logical_operator: str,
    metadata: Mapping[str, Any],
    data_types: Mapping[str, str] | None = None,
) -> bool:
    """The reference for :func:`compile_metadata_filter`: each expression compared value by value."""
    types = data_types or {}
    results = (_reference_expression(e, mode_for(types.get(e.key)), metadata) for e in expressions)
    if logical_operator.upper() == "OR":
        return any(results)
    return all(results)


def reference_search(query: DataProductQuery, products: Iterable[DataProduct]) -> list[DataProduct]:
    """The products ``query`` returns, sorted by start, then URL (the catalog's order)."""
    found = [p for p in products if matches(query, p)]
    found.sort(key=lambda p: (_whole_seconds(p.start), p.url))
    return found
