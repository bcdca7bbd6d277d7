"""How sources are named in the form: display spellings of programs and sites."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aurorax_core import DataSource


def program_label(program: str, sources: Iterable[DataSource]) -> str:
    """'trex' -> 'TREx', 'themis-asi' -> 'THEMIS ASI': the spelling the sources' display names use
    (as AuroraX writes program names: words, not identifiers), else the identifier."""
    for source in sources:
        if source.program == program and source.display_name:
            first = source.display_name.split()[0]
            if first.lower().replace("-", "") == program.lower().replace("-", ""):
                return first.replace("-", " ")
    return program


def has_data_products(source: DataSource) -> bool:
    """Whether the source has data products (True when the backend does not say)."""
    stats = source.stats or {}
    count = stats.get("data_product_count")
    return count is None or int(count) > 0


def with_count(label: str, count: int | None) -> str:
    """'TREx' -> 'TREx · 1,234' (products in the chosen range), unchanged when unknown."""
    return label if count is None else f"{label} · {count:,}"


def platform_label(platform: str, sources: Iterable[DataSource]) -> str:
    """'fort smith' -> 'Fort Smith (FSMI)': the site name plus the code in its display names."""
    codes: list[str] = []
    for source in sources:
        if source.platform == platform and source.display_name:
            last = source.display_name.split()[-1]
            if last.isupper() and last.isalpha() and 3 <= len(last) <= 5 and last not in codes:
                codes.append(last)
    name = platform.title() if platform.islower() else platform
    return f"{name} ({'/'.join(codes)})" if codes else name


def labelled(values: Iterable[str], label: Callable[[str], str]) -> dict[str, str]:
    items = sorted(set(values), key=lambda v: label(v).lower())
    labels: dict[str, str] = {}
    for value in items:
        text = label(value)
        # Two values with the same label would collapse in a dict; keep both visible.
        labels[text if text not in labels else f"{text} [{value}]"] = value
    return labels
