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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..query import MetadataFilterExpression

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


def compile_metadata_filter(
    expressions: Sequence[MetadataFilterExpression],
    logical_operator: str,
    data_types: Mapping[str, str] | None = None,
) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate over a record's metadata implementing PROTOCOL §3.7, or None when no filter.

    ``data_types`` maps metadata keys to the source's schema ``data_type``: ``double``/``int``
    compare numerically, ``bool`` as lower-case ``true``/``false``, ``string`` as text; keys
    without a schema entry compare numerically when both sides are numbers, else as text. A record
    that lacks the key never satisfies the expression, whatever the operator. ``between`` is
    inclusive at both ends.
    """
    if not expressions:
        return None
    types = data_types or {}
    preds = [compile_expression(e, mode_for(types.get(e.key))) for e in expressions]
    if len(preds) == 1:
        return preds[0]
    if logical_operator.upper() == "OR":
        return lambda md: any(p(md) for p in preds)
    return lambda md: all(p(md) for p in preds)
