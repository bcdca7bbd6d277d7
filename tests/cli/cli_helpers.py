"""Helpers for the CLI tests: run ``python -m aurorax_core`` in a subprocess, isolated from the user's setup."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    """The outcome of one CLI invocation."""

    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        command = " ".join(self.args)
        return f"aurorax-core {command} -> {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def assert_ok(self) -> Run:
        assert self.returncode == 0, self.describe()
        assert "Traceback" not in self.output, self.describe()
        return self

    def assert_user_error(self, fragment: str) -> Run:
        """Exit 1, one line 'Error: ...' containing ``fragment`` on stderr, and no traceback."""
        assert self.returncode == 1, self.describe()
        assert "Traceback" not in self.output, self.describe()
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1, self.describe()
        assert fragment in errors[0], self.describe()
        return self


def isolated_env(home: Path) -> dict[str, str]:
    """The environment without AURORAX_* variables, with HOME/XDG dirs inside the test's tmp dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURORAX_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONIOENCODING="utf-8",
        COLUMNS="200",
    )
    # The checkout, not whatever else may be installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


CliRunner = Callable[..., Run]


def make_runner(tmp_path: Path) -> CliRunner:
    """``run(*args, cwd=None, env=None, timeout=120)`` runs ``python -m aurorax_core`` with cwd=tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        full_env = isolated_env(home)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            [sys.executable, "-m", "aurorax_core", *args],
            cwd=cwd or tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(args, proc.returncode, proc.stdout, proc.stderr)

    return run


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- a small realistic catalog ---------------------------------------------------------------------

SOURCES = {
    "fsmi": {
        "identifier": 96,
        "program": "trex",
        "platform": "fort smith",
        "instrument_type": "RGB ASI",
        "source_type": "ground",
        "display_name": "TREx RGB FSMI",
    },
    "gill": {
        "identifier": 103,
        "program": "trex",
        "platform": "gillam",
        "instrument_type": "RGB ASI",
        "source_type": "ground",
        "display_name": "TREx RGB GILL",
    },
    "yknf": {
        "identifier": 175,
        "program": "auroramax",
        "platform": "yellowknife",
        "instrument_type": "DSLR",
        "source_type": "ground",
        "display_name": "AuroraMAX",
    },
}


def _product(source: str, kind: str, sub_type: str, day: str, first_hour: int, last_hour: int) -> dict[str, Any]:
    start = f"{day}T{first_hour:02d}:00:00"
    end = f"{day}T{last_hour:02d}:59:00"
    url = f"https://data.example.org/{source}/{day}/{kind}_{sub_type}_{first_hour:02d}-{last_hour:02d}.jpg"
    return {
        "data_source": dict(SOURCES[source]),
        "data_product_type": kind,
        "start": start,
        "end": end,
        "url": url,
        "metadata": {f"{kind}_type": sub_type, "imaging_start_time": f"{day}T{first_hour:02d}:00:00.000000"},
    }


def sample_records() -> list[dict[str, Any]]:
    """Records for the example queries, deliberately out of order (the CLI must sort them).

    * TREx RGB Fort Smith, 2020-01-01: 6 hourly keograms, a daily keogram, a daily montage (8);
    * TREx RGB Gillam, 2020-01-01..10: per day a daily keogram, 2 hourly keograms and a daily movie (40);
    * AuroraMAX, 2020-01-01 and 2020-01-02: a daily_hires keogram and a real-time daily movie (4);
    * one Fort Smith keogram on 2019-12-31 (outside every example query).
    """
    records = [_product("fsmi", "keogram", "hourly", "2020-01-01", h, h) for h in range(6)]
    records.append(_product("fsmi", "keogram", "daily", "2020-01-01", 0, 23))
    records.append(_product("fsmi", "montage", "daily", "2020-01-01", 0, 23))
    for d in range(1, 11):
        day = f"2020-01-{d:02d}"
        records.append(_product("gill", "keogram", "daily", day, 0, 23))
        records += [_product("gill", "keogram", "hourly", day, h, h) for h in (2, 3)]
        records.append(_product("gill", "movie", "real-time daily", day, 0, 23))
    for day in ("2020-01-01", "2020-01-02"):
        records.append(_product("yknf", "keogram", "daily_hires", day, 0, 23))
        records.append(_product("yknf", "movie", "real-time daily", day, 0, 23))
    records.append(_product("fsmi", "keogram", "daily", "2019-12-31", 0, 23))
    records.reverse()
    return records
