"""Opening a catalog: every bad path or file gives a CatalogError that says what to do."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from catalog_data import make_records

from aurorax_core import CatalogBackend, CatalogError, DataProductQuery

QUERY = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")


def test_missing_directory_chain_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "catalog.sqlite"
    with CatalogBackend(path) as catalog:
        catalog.ingest_products(make_records(3))
        assert len(catalog.search(QUERY)) == 3
    assert path.is_file()


def test_directory_that_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(CatalogError, match=r"cannot create the directory .*pass another --catalog path"):
        CatalogBackend(blocker / "sub" / "catalog.sqlite")


def test_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="is a directory"):
        CatalogBackend(tmp_path)


def test_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(CatalogError) as info:
        CatalogBackend(path)
    assert str(info.value) == (
        f"{path} is not an aurorax-core catalog (not an SQLite database); pass another --catalog path or remove it"
    )
    assert path.read_text().startswith("these are my notes")  # untouched


def test_sqlite_file_without_our_schema(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(CatalogError, match="SQLite database but not an aurorax-core catalog"):
        CatalogBackend(path)
    with sqlite3.connect(path) as conn:  # untouched
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["customers"]


def test_catalog_written_by_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    CatalogBackend(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(CatalogError, match=r"newer aurorax-core .*schema version 99.*upgrade aurorax-core"):
        CatalogBackend(path)


def test_catalog_from_an_older_development_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    CatalogBackend(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 1")
    with pytest.raises(CatalogError, match=r"older development version .*schema version 1.*rebuild it"):
        CatalogBackend(path)


def test_empty_file_becomes_a_catalog(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    with CatalogBackend(path) as catalog:
        assert catalog.stats()["records"] == 0


def test_readonly_open_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        CatalogBackend(tmp_path / "nope.sqlite", readonly=True)
    assert not (tmp_path / "nope.sqlite").exists()


def test_readonly_catalog_searches_but_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with CatalogBackend(path) as catalog:
        catalog.ingest_products(make_records(5))
    with CatalogBackend(path, readonly=True) as reader:
        assert len(reader.search(QUERY)) == 5
        with pytest.raises(CatalogError, match="read-only"):
            reader.ingest_products(make_records(5, seed=9))
        with pytest.raises(CatalogError, match="read-only"):
            reader.submit(QUERY)


_AS_OTHER_USER = """
import os, sys
from aurorax_core import CatalogBackend, CatalogError, DataProductQuery
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
mode, path = sys.argv[1], sys.argv[2]
try:
    catalog = CatalogBackend(path)
    query = DataProductQuery(start="2019-01-01T00:00:00", end="2021-01-01T00:00:00")
    print("OPENED", catalog.readonly, len(catalog.search(query)))
    try:
        catalog.submit(query)
    except CatalogError as exc:
        print("WRITE-REFUSED", exc)
except CatalogError as exc:
    print("ERROR", exc)
"""


def _run_without_write_permission(mode: str, path: Path) -> str:
    # Root ignores directory permissions, so the check runs as 'nobody' (modules imported first,
    # while the interpreter's own files are still readable).
    result = subprocess.run(
        [sys.executable, "-c", _AS_OTHER_USER, mode, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def locked_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="aurorax-ro-"))
    os.chmod(directory, 0o755)
    yield directory
    os.chmod(directory, 0o755)
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


def test_new_catalog_in_a_read_only_directory(locked_dir: Path) -> None:
    os.chmod(locked_dir, 0o555)
    out = _run_without_write_permission("create", locked_dir / "catalog.sqlite")
    assert out.startswith("ERROR cannot create the catalog in")
    assert "the directory is read-only; pass another --catalog path" in out
    assert not (locked_dir / "catalog.sqlite").exists()


def test_existing_catalog_in_a_read_only_directory_is_searchable(locked_dir: Path) -> None:
    path = locked_dir / "catalog.sqlite"
    with CatalogBackend(path) as catalog:
        catalog.ingest_products(make_records(7))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.chmod(path, 0o644)
    os.chmod(locked_dir, 0o555)
    out = _run_without_write_permission("open", path)
    assert out.splitlines()[0] == "OPENED True 7"
    assert out.splitlines()[1].startswith("WRITE-REFUSED cannot record a search request: catalog")


def test_a_catalog_locked_by_a_long_write_says_so_and_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the write lock past the busy timeout (as a multi-million-record
    ingest through the rollback journal does) is reported as such: never as "not a catalog,
    remove it"."""
    import aurorax_core.backends.catalog.store as catalog_module

    path = tmp_path / "catalog.sqlite"
    with CatalogBackend(path) as catalog:
        catalog.ingest_products(make_records(5))
    monkeypatch.setattr(catalog_module, "BUSY_TIMEOUT_S", 0.2)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        assert writer.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        # Opened before the lock (read-only: a writable open would put the catalog back in WAL mode).
        reading = CatalogBackend(path, readonly=True)
        writer.execute("BEGIN EXCLUSIVE")
        for attempt in (lambda: CatalogBackend(path), lambda: reading.search(QUERY)):
            with pytest.raises(CatalogError) as info:
                attempt()
            message = str(info.value)
            assert "another process has been writing it for more than 0.2 s" in message
            assert "try again when that write has finished" in message
            assert "remove" not in message
        writer.execute("ROLLBACK")
        assert len(reading.search(QUERY)) == 5  # usable again once the write is over
        reading.close()
    finally:
        writer.close()
    assert path.exists()
