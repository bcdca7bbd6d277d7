"""Fixtures of the CLI tests (helpers live in cli_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import CliRunner, make_runner


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run ``python -m aurorax_core ...`` in a subprocess with cwd=tmp_path and an isolated HOME."""
    return make_runner(tmp_path)
