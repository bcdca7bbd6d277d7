"""A query as one SQL statement with bound parameters (identifiers fixed, no user text in the SQL).

The plan is the SQLite catalog's: the data-source constraints resolve to source ids in Python
(the sources are few and cached), the SQL bounds the start time on an index and containment on
the end, and metadata filters on a record's own ``<type>_type`` key narrow the rows through the
``(type, sub_type, start_s)`` index. The filters then run exactly in Python with the shared
AuroraX semantics (``filters.compile_metadata_filter``, shared with SQLite), except when the
pushed-down condition is already exact (plain text values on a key no selected source types as
numeric or bool), as in SQLite.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ...query import DataProductQuery, MetadataFilterExpression
from .rows import ROW_COLUMNS, SUB_TYPE_KEYS, TYPE_CODES, SourceIndex

# A text the filter semantics would read as a number (then it is not compared as plain text).
_NUMBER_RE: Final = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_TEXT_TYPES: Final = frozenset({"string", "str", "text"})


def as_text(value: Any) -> str:
    """A metadata value as the filter semantics compare it as text (stored as ``sub_type``)."""
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


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    params: list[Any]
    # whether the metadata filters must still run in Python on the rows
    needs_python: bool


def _pushdown(
    query: DataProductQuery, index: SourceIndex, source_ids: list[int] | None
) -> tuple[str, list[Any], bool] | None:
    """(SQL condition, parameters, whether it is exact) for the metadata filters, or None."""
    exprs = query.metadata_filters
    if not exprs:
        return None
    is_or = query.metadata_filters_logical_operator.upper() == "OR"
    sids = list(index.by_id) if source_ids is None else source_ids
    parts: list[str] = []
    params: list[Any] = []
    exact = True
    for expr in exprs:
        condition = _condition(expr, index, sids)
        if condition is None:
            if is_or:
                return None  # one unconstrained alternative: no necessary condition at all
            exact = False
            continue
        sql, values, is_exact = condition
        parts.append(sql)
        params.extend(values)
        exact = exact and is_exact
    if not parts:
        return None
    return "(" + (" OR " if is_or else " AND ").join(parts) + ")", params, exact


def _condition(
    expr: MetadataFilterExpression, index: SourceIndex, sids: list[int]
) -> tuple[str, list[Any], bool] | None:
    kind = SUB_TYPE_KEYS.get(expr.key)
    if kind is None or expr.key in index.cross_keys:
        return None  # only a record's own <type>_type key is stored beside the row
    if expr.operator not in ("=", "in", "!=", "not in"):
        return None
    if not all(type(v) is str and not _NUMBER_RE.match(v) for v in expr.values):
        return None
    for sid in sids:
        declared = index.data_types.get(sid, {}).get(expr.key)
        if declared is not None and str(declared).strip().lower() not in _TEXT_TYPES:
            return None
    values = list(expr.values)
    if expr.operator in ("=", "in"):
        return "(type = %s AND sub_type = ANY(%s))", [kind, values], True
    return "(type = %s AND sub_type <> ALL(%s))", [kind, values], True


def plan(query: DataProductQuery, index: SourceIndex, starting: tuple[datetime, datetime] | None = None) -> Plan | None:
    """The statement for ``query`` (optionally only records starting within ``starting``), or
    None when nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    source_ids = index.select(query.programs, query.platforms, query.instrument_types)
    if source_ids is not None:
        if not source_ids:
            return None
        where.append("source_id = ANY(%s)")
        params.append(source_ids)
    start, end = int(query.start.timestamp()), int(query.end.timestamp())
    first, last = start, end
    if starting is not None:
        first, last = max(start, int(starting[0].timestamp())), min(end, int(starting[1].timestamp()))
        if first > last:
            return None
    # start <= end is implied by end_s <= end; stating it bounds the index range scan
    where.append("start_s >= %s AND start_s <= %s AND end_s <= %s")
    params.extend((first, last, end))
    if query.data_product_types:
        where.append("type = ANY(%s)")
        params.append(sorted({TYPE_CODES[t] for t in query.data_product_types}))
    needs_python = bool(query.metadata_filters)
    pushed = _pushdown(query, index, source_ids)
    if pushed is not None:
        sql, values, exact = pushed
        where.append(sql)
        params.extend(values)
        needs_python = not exact
    return Plan(f"SELECT {ROW_COLUMNS} FROM aurorax.products WHERE " + " AND ".join(where), params, needs_python)
