"""The README's examples run as written (against the session's demo catalog)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _env(catalog: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURORAX_")}
    env.update(AURORAX_CATALOG=str(catalog), AURORAX_CACHE_DIR=str(tmp_path / "cache"))
    return env


def test_python_examples_run(demo_catalog_path: Path, tmp_path: Path) -> None:
    """Every ```python block of the README runs and finds the documented records."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", README, re.S))
    assert "aurorax_core.search(" in code
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(demo_catalog_path, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Request submitted" in done.stdout
    first = re.search(r"^[0-9a-f-]{36} (\d+) records$", done.stdout, re.M)
    assert first is not None and int(first.group(1)) > 0, done.stdout
    assert "True image/jpeg" in done.stdout  # a synthetic thumbnail was produced


def test_cli_examples_run(demo_catalog_path: Path, tmp_path: Path) -> None:
    """The README's read-only CLI examples exit 0 (those needing the network or an id are skipped)."""
    block = re.search(r"## Command line.*?```bash\n(.*?)```", README, re.S)
    assert block is not None
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    runnable = [
        c
        for c in commands
        if c and "REQUEST_ID" not in c and "--api-url" not in c and "--catalog" not in c and ">" not in c
    ]
    assert len(runnable) >= 6
    shutil.copytree(ROOT / "examples", tmp_path / "examples")  # commands use relative paths
    catalog = tmp_path / "catalog.sqlite"  # searches record their request id: work on a copy
    shutil.copy(demo_catalog_path, catalog)
    for command in runnable:
        argv = shlex.split(command)
        assert argv[0] == "aurorax-core"
        done = subprocess.run(
            [sys.executable, "-m", "aurorax_core", *argv[1:]],
            cwd=tmp_path,
            env=_env(demo_catalog_path, tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"
        assert "Traceback" not in done.stderr
    assert list(tmp_path.glob("*_data.json")), "data_products search wrote no <request_id>_data.json"
