"""What to say when a search finds nothing: the real reason where the backend can tell it.

In order: the chosen sources have no products in the range at all, from their stats (a site that
stopped operating); the range lies outside everything the backend holds (for sources without
stats, as the AuroraX API lists them without ``include_stats``); they have products there, but none of the chosen
product types; otherwise general tips. No Panel here; the session calls ``no_results_advice`` off the
event loop (it may ask the backend for counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from aurorax_core import AvailabilityCounts, DataProductQuery, DataSource, TimeSpan, parse_time

# Beyond this many days the per-type check would read a lot of counts for a hint: skipped.
MAX_TYPE_CHECK_DAYS = 366


def no_results_advice(
    query: DataProductQuery,
    sources: Sequence[DataSource],
    backend: Any,
    newest_day: Callable[[], date | None],
) -> str:
    """One sentence for an empty result. ``sources``: those the query's source fields select."""
    for reason in (
        _outside_their_years(query, sources),
        _outside_the_backend(query, backend),
        _none_of_those_types(query, sources, backend),
    ):
        if reason:
            return f"No data products match this query: {reason}."
    tips = []
    days = (query.end - query.start).total_seconds() / 86400
    if days < 31:
        tips.append("widen the time range (e.g. the last 7 nights or a whole month)")
    if query.data_product_types:
        tips.append("clear the product-type filter")
    if query.metadata_filters:
        tips.append("remove or loosen the metadata filters")
    if query.platforms or query.instrument_types:
        tips.append("select more platforms or instrument types")
    newest = newest_day()
    if newest is not None:
        tips.append(f"try the newest night with data, {newest.isoformat()}")
    advice = "; ".join(tips) if tips else "change the query"
    return f"No data products match this query. To find some: {advice}."


def _outside_the_backend(query: DataProductQuery, backend: Any) -> str:
    if not isinstance(backend, TimeSpan):
        return ""
    try:
        span = backend.time_span()
    except Exception:  # a hint only: the general tips follow
        return ""
    if not span or span[0] is None or span[1] is None:
        return ""
    first, last = parse_time(span[0]), parse_time(span[1])
    if query.end < first or query.start > last:
        return (
            f"this backend holds data products from {first:%Y-%m-%d} to {last:%Y-%m-%d} only; "
            "choose a range inside it (or another backend)"
        )
    return ""


def _outside_their_years(query: DataProductQuery, sources: Sequence[DataSource]) -> str:
    """'' unless the chosen sources have no products in the range at all (from their stats):
    then which years they do cover, e.g. a site that stopped operating."""
    spans: list[tuple[datetime, datetime]] = []
    for source in sources:
        stats = source.stats or {}
        first, last = stats.get("earliest_data_product_loaded"), stats.get("latest_data_product_loaded")
        if not first or not last:
            return ""
        spans.append((parse_time(first), parse_time(last)))
    if not spans:
        return ""
    earliest, latest = min(s for s, _ in spans), max(e for _, e in spans)
    if latest < query.start:
        return (
            f"the selected sources have no data products after {latest:%Y-%m-%d} "
            f"(they cover {earliest:%Y-%m-%d} to {latest:%Y-%m-%d}); choose a range before then"
        )
    if earliest > query.end:
        return (
            f"the selected sources have no data products before {earliest:%Y-%m-%d} "
            f"(they cover {earliest:%Y-%m-%d} to {latest:%Y-%m-%d}); choose a range after that"
        )
    return ""


def _none_of_those_types(query: DataProductQuery, sources: Sequence[DataSource], backend: Any) -> str:
    """'' unless the sources have products in the range's days but none of the chosen types (from the
    backend's per-type day counts; the AuroraX API's availability has no types, so it never says this)."""
    if not query.data_product_types or not sources or not isinstance(backend, AvailabilityCounts):
        return ""
    first, last = query.start.date(), query.end.date()
    if (last - first).days >= MAX_TYPE_CHECK_DAYS:
        return ""
    narrow = {}
    for name, key in (("program", "program"), ("platform", "platform"), ("instrument_type", "instrument_type")):
        values = {getattr(s, name) for s in sources}
        if len(values) == 1:
            narrow[key] = values.pop()
    try:
        counted = backend.availability(first, last, **narrow)
    except Exception:  # a hint only
        return ""
    chosen = {(s.program, s.platform, s.instrument_type) for s in sources}
    totals: dict[str, int] = {}
    for item in counted:
        source = item.data_source
        if (source.program, source.platform, source.instrument_type) not in chosen or not item.by_type:
            continue
        for kinds in item.by_type.values():
            for kind, n in kinds.items():
                totals[kind] = totals.get(kind, 0) + n
    if not totals or any(totals.get(kind) for kind in query.data_product_types):
        return ""
    wanted = " or ".join(query.data_product_types)
    have = ", ".join(f"{kind} · {n:,}" for kind, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
    return (
        f"the selected sources have no {wanted} products in these days, only {have}; "
        "clear or change the product-type filter"
    )
