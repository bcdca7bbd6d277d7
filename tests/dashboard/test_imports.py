"""Architecture rules, checked on the source: who may import what."""

from __future__ import annotations

import ast
from pathlib import Path

import aurorax_core

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, level) for every import statement of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [a.name for a in node.names], node.level))
    return found


def test_dashboard_uses_only_the_public_api() -> None:
    """The dashboard imports aurorax_core names listed in __all__, never a submodule."""
    public = set(aurorax_core.__all__)
    offences = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        for module, names, level in _imports(path):
            if level == 0 and module.startswith("aurorax_core."):
                offences.append(f"{path.name}: imports {module}")
            if level == 0 and module == "aurorax_core":
                offences += [f"{path.name}: {n} is not in __all__" for n in names if n not in public]
    assert offences == []


def test_core_never_imports_the_ui_stack() -> None:
    """aurorax_core works without panel, bokeh or param."""
    offences = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "aurorax_core").rglob("*.py"))
        for module, _names, level in _imports(path)
        if level == 0 and module.split(".")[0] in {"panel", "bokeh", "param", "dashboard"}
    ]
    assert offences == []


def test_state_module_does_not_import_panel() -> None:
    """dashboard/state.py (and the other non-view modules) hold logic only: no panel or bokeh."""
    for name in ("state.py", "exports.py", "media.py", "images.py"):
        modules = {m.split(".")[0] for m, _n, level in _imports(ROOT / "dashboard" / name) if level == 0}
        assert not modules & {"panel", "bokeh"}, name
