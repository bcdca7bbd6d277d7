"""How a user moves through the results: facet counts, groups by night, the keogram time axis.

Pure functions of the results (no Panel), so that the views stay thin and the state tests need
no browser. Night keys are UT dates of a product's start: the dashboard's sources are North
American imagers, whose nights (~00-16 UT) fall inside one UT date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aurorax_core import DataProduct

_PLURAL = {"summary_plot": "summary plots", "data_availability": "availability plots", "gridded_data": "gridded data"}


def type_words(product_type: str, sub_type: str = "") -> str:
    """'keogram', 'daily' -> 'daily keograms'; words a user reads on a chip."""
    plural = _PLURAL.get(product_type, product_type.replace("_", " ") + "s")
    return f"{sub_type.replace('_', ' ')} {plural}" if sub_type else plural


@dataclass(frozen=True)
class Facet:
    """One quick-filter chip: a product type, optionally with a sub-type, and its product count."""

    data_product_type: str
    sub_type: str
    count: int

    @property
    def label(self) -> str:
        return f"{type_words(self.data_product_type, self.sub_type)} · {self.count:,}"

    @property
    def filters(self) -> dict[str, str]:
        """The table filters that select exactly this facet's rows ("=": exact, not a substring)."""
        out = {"data_product_type": "=" + self.data_product_type}
        if self.sub_type:
            out["sub_type"] = "=" + self.sub_type
        return out


def product_facets(frame: Any) -> list[Facet]:
    """Product types with their counts, each followed by its sub-types (largest first).

    A type with a single sub-type gets no separate sub-type chip (it would say the same thing).
    """
    if frame is None or len(frame) == 0:
        return []
    types = frame["data_product_type"].fillna("").astype(str)
    subs = frame["sub_type"].fillna("").astype(str)
    by_type = types.value_counts()
    pairs = frame.assign(_t=types, _s=subs).groupby(["_t", "_s"]).size()
    out: list[Facet] = []
    for product_type, count in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        if not product_type:
            continue
        out.append(Facet(product_type, "", int(count)))
        within = sorted(
            ((str(s), int(n)) for (t, s), n in pairs.items() if t == product_type and s),
            key=lambda kv: (-kv[1], kv[0]),
        )
        if len(within) > 1 or (within and within[0][1] != count):
            out += [Facet(product_type, s, n) for s, n in within]
    return out


def night_key(product: DataProduct) -> str:
    return product.start.date().isoformat()


@dataclass(frozen=True)
class NightGroup:
    """A run of the gallery: one night (and site, when grouped by site), its positions in the gallery order."""

    key: str
    label: str
    first: int
    count: int


def group_by_night(
    products: Sequence[DataProduct], indices: Sequence[int], *, by_site: bool = False
) -> tuple[list[int], list[NightGroup]]:
    """The gallery's order and its groups.

    ``indices`` are the result indices in the table's order; the gallery keeps that order inside
    each group and puts the groups in night order (then site), so a month reads night by night
    whatever the table is sorted by.
    """
    keyed: dict[tuple[str, str], list[int]] = {}
    for i in indices:
        product = products[i]
        site = (product.data_source.display_name or product.data_source.platform) if by_site else ""
        keyed.setdefault((night_key(product), site), []).append(i)
    order: list[int] = []
    groups: list[NightGroup] = []
    for (night, site), members in sorted(keyed.items()):
        label = f"{night} · {site}" if site else night
        label += f" · {len(members):,} product{'s' if len(members) != 1 else ''}"
        groups.append(NightGroup(f"{night}/{site}" if site else night, label, len(order), len(members)))
        order += members
    return order, groups


def time_axis(start: datetime, end: datetime, *, max_ticks: int = 13) -> list[tuple[float, str]]:
    """Tick marks under a keogram spanning ``start``..``end``: (percent from the left, 'HH UT').

    Hours are labelled at a step of 1, 2, 3, 4, 6 or 12 h so that at most ``max_ticks`` show.
    """
    span = (end - start).total_seconds()
    if span <= 0:
        return []
    hours = span / 3600
    step = next((s for s in (1, 2, 3, 4, 6, 12, 24) if hours / s <= max_ticks - 1), 24)
    tick = start.replace(minute=0, second=0, microsecond=0)
    if tick < start:
        tick += timedelta(hours=1)
    out: list[tuple[float, str]] = []
    while tick <= end:
        if tick.hour % step == 0:
            out.append((round((tick - start).total_seconds() / span * 100, 3), f"{tick:%H}"))
        tick += timedelta(hours=1)
    return out
