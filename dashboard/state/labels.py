"""How sources are named in the form: display spellings of programs and sites."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aurorax_core import DataSource


def program_label(program: str, sources: Iterable[DataSource]) -> str:
    """'trex' -> 'TREx': the spelling the sources' display names use, else the identifier."""
    for source in sources:
        if source.program == program and source.display_name:
            first = source.display_name.split()[0]
            if first.lower().replace("-", "") == program.lower().replace("-", ""):
                return first
    return program


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
