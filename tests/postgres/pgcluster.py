"""A throwaway PostgreSQL cluster for the tests, and fresh databases on it.

The cluster comes from ``AURORAX_TEST_POSTGRES_URL`` (``scripts/test.sh`` starts one and sets it)
or, when that is unset (a plain ``pytest`` run), from ``scripts/pg_throwaway.sh`` started here and
removed at the end of the session. Each test that writes gets its own database.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV_URL = "AURORAX_TEST_POSTGRES_URL"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg_throwaway.sh"


class Cluster:
    """A running PostgreSQL server: its admin URL, and the folder to remove when we started it."""

    def __init__(self, url: str, folder: Path | None) -> None:
        self.url = url
        self.folder = folder

    @classmethod
    def start(cls) -> Cluster:
        """Start a throwaway cluster. Raises RuntimeError with the script's explanation."""
        folder = Path(tempfile.mkdtemp(prefix="aurorax-pg.", dir="/tmp"))
        done = subprocess.run(
            ["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=60, check=False)
            raise RuntimeError(
                f"could not start a throwaway PostgreSQL (scripts/pg_throwaway.sh exit {done.returncode}): "
                f"{done.stderr.strip()}"
            )
        return cls(done.stdout.strip().splitlines()[-1], folder)

    def stop(self) -> None:
        if self.folder is not None:
            subprocess.run(
                ["bash", str(SCRIPT), "stop", str(self.folder)], capture_output=True, timeout=60, check=False
            )

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name made here, not user text
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cluster_from_environment() -> Cluster:
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return Cluster(url, None)
    return Cluster.start()
