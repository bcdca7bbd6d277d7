"""The library stays in parts small enough to read, and below the dashboard (issue 11's 'done when')."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_core_module_over_1000_lines_and_no_class_over_400() -> None:
    too_big = []
    for path in sorted((ROOT / "aurorax_core").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 1000:
            too_big.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 400:
                too_big.append(f"{path.relative_to(ROOT)}: class {node.name}")
    assert too_big == []


def test_the_core_never_imports_panel_bokeh_or_the_dashboard() -> None:
    offenders = []
    for path in sorted((ROOT / "aurorax_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in {"panel", "bokeh", "dashboard"}
            ]
    assert offenders == []


def test_backend_abilities_are_declared_not_probed_in_the_entry_points() -> None:
    """The CLI and server test optional abilities with isinstance(backend, Ability), not getattr."""
    abilities = {"metadata_values", "time_span", "check_connectivity", "availability", "stats", "search_body"}
    probes = []
    for folder in ("cli", "server"):
        for path in sorted((ROOT / "aurorax_core" / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in {"getattr", "hasattr"}
                    and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in abilities
                ):
                    probes.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert probes == []
