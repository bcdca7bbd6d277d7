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
    """dashboard/state/ (and the other non-view modules) hold logic only: no panel or bokeh."""
    paths = sorted((ROOT / "dashboard" / "state").glob("*.py"))
    assert len(paths) >= 6  # the package, not a leftover single module
    for name in ("exports.py", "media.py", "images.py", "runner.py"):
        paths.append(ROOT / "dashboard" / name)
    for path in paths:
        modules = {m.split(".")[0] for m, _n, level in _imports(path) if level == 0}
        assert not modules & {"panel", "bokeh"}, path.name


def test_no_module_over_1000_lines_and_no_class_over_400() -> None:
    """The dashboard stays in parts small enough to read: modules < 1,000 lines, classes < 400."""
    too_big = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 1000:
            too_big.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 400:
                too_big.append(f"{path.name}: class {node.name}")
    assert too_big == []


def test_views_test_backend_abilities_by_protocol_not_getattr() -> None:
    """Optional backend abilities are tested with isinstance(backend, Ability), never probed by name."""
    probes = {"metadata_values", "time_span", "check_connectivity", "availability"}
    offences = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "hasattr"}
                and any(isinstance(a, ast.Constant) and a.value in probes for a in node.args)
            ):
                offences.append(f"{path.name}:{node.lineno}")
    assert offences == []
