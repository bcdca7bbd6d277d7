"""`aurorax-core` against `aurorax-core serve` (--api-url), and on the demo archive (default and explicit)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import REPO, CliRunner, isolated_env, sample_records, write_json

EXAMPLES = REPO / "examples" / "queries"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def server_url(tmp_path: Path, cli: CliRunner) -> Iterator[str]:
    """`aurorax-core --catalog c.sqlite serve --port 0` on 127.0.0.1, with the sample records; its URL."""
    write_json(tmp_path / "records.json", sample_records())
    cli("--catalog", "server.sqlite", "catalog", "ingest", "records.json", "--quiet").assert_ok()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aurorax_core",
            "--catalog",
            "server.sqlite",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=isolated_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    found: list[str] = []
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            match = re.search(r"as an AuroraX API at (http://127\.0\.0\.1:\d+)", line)
            if match and not found:
                found.append(match.group(1))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60  # generous: the shared machine may be busy
        while not found and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found, f"the server did not start: {''.join(seen)}"
        yield found[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_remote_backend_through_the_cli(cli: CliRunner, tmp_path: Path, server_url: str):
    """--api-url: search, get_status, get_data, search_resubmit, sources and availability against a real server."""
    shutil.copy(EXAMPLES / "docs_example.json", tmp_path / "q.json")
    api = ("--api-url", server_url)
    run = cli(*api, "data_products", "search", "q.json").assert_ok()
    match = re.search(rf"Data has been saved to '({UUID})_data\.json'", run.stdout)
    assert match, run.describe()
    request_id = match.group(1)
    assert f"Request ID: {request_id}" in run.stdout
    records = json.loads((tmp_path / f"{request_id}_data.json").read_text())
    assert len(records) == 8
    assert [r["start"] for r in records] == sorted(r["start"] for r in records)

    status = cli(*api, "data_products", "get_status", request_id).assert_ok().stdout
    assert "Completed:\t\tTrue" in status and "Result count:\t\t8" in status
    assert f"Data URL:\t\t{server_url}/api/v1/data_products/requests/{request_id}/data" in status
    cli(*api, "data_products", "get_data", request_id, "--outfile", "got.json").assert_ok()
    assert json.loads((tmp_path / "got.json").read_text()) == records
    resubmitted = cli(*api, "data_products", "search_resubmit", request_id).assert_ok().stdout
    assert re.search(rf"new request ID is {UUID}$", resubmitted.strip())
    cli(*api, "data_products", "get_status", "some-bad-request-id").assert_user_error("request ID not found")

    sources = cli(*api, "sources", "list").assert_ok().stdout.splitlines()
    assert [row.split()[0] for row in sources[2:]] == ["96", "103", "175"]
    cli(*api, "sources", "get_using_identifier", "12345678").assert_user_error(
        "No Data Source record found in AuroraX for identifier 12345678"
    )
    availability = cli(*api, "availability", "data_products", "2020-01-01", "2020-01-01", "--program", "auroramax")
    assert availability.assert_ok().stdout.splitlines()[2].split()[0] == "175"


def _messages(stdout: str, request_id: str) -> list[str]:
    """The progress lines without their timestamps, the request id replaced by <id>."""
    lines = [re.sub(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\] ", "", line) for line in stdout.splitlines()]
    return [line.replace(request_id, "<id>") for line in lines]


def test_same_output_and_data_file_as_aurorax_cli(cli: CliRunner, tmp_path: Path, server_url: str):
    """Against the same server, `aurorax-core data_products search` prints aurorax-cli's lines and writes the
    byte-identical data file (aurorax-cli 1.27, the real tool, run in a subprocess)."""
    shutil.copy(EXAMPLES / "docs_example.json", tmp_path / "q.json")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "ours").mkdir()
    aurorax_cli = [sys.executable, "-c", "from pyaurorax.cli.cli import cli; cli()", f"--api-base-url={server_url}"]
    theirs = subprocess.run(
        [*aurorax_cli, "search", "data_products", "search", "../q.json"],
        cwd=tmp_path / "theirs",
        env=isolated_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    ours = cli("--api-url", server_url, "data_products", "search", "../q.json", cwd=tmp_path / "ours").assert_ok()
    (their_file,) = (tmp_path / "theirs").glob("*_data.json")
    (our_file,) = (tmp_path / "ours").glob("*_data.json")
    assert our_file.read_bytes() == their_file.read_bytes()
    their_id = their_file.name.removesuffix("_data.json")
    our_id = our_file.name.removesuffix("_data.json")
    assert _messages(ours.stdout, our_id) == _messages(theirs.stdout, their_id)

    # The same request's status (with the log table and the query), its logs, the sources table: identical text.
    for args in (
        ["get_status", our_id, "--show-logs", "--show-query"],
        ["get_logs", our_id, "--table-max-width", "60"],  # summaries wrapped into multi-line cells
        ["sources", "list"],
    ):
        is_request = args[0] in ("get_status", "get_logs")
        group = ["search", "data_products"] if is_request else ["search"]
        theirs = subprocess.run(
            [*aurorax_cli, *group, *args],
            env=isolated_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert theirs.returncode == 0, theirs.stdout + theirs.stderr
        ours_cmd = ["data_products", *args] if is_request else args
        ours = cli("--api-url", server_url, *ours_cmd).assert_ok()
        assert ours.stdout == theirs.stdout


def test_docs_query_on_the_demo_archive(cli: CliRunner, tmp_path: Path, demo_catalog_path: Path):
    """The AuroraX docs' example query works as written on the demo archive; every record is marked synthetic."""
    shutil.copy(demo_catalog_path, tmp_path / "demo.sqlite")
    run = cli("--catalog", "demo.sqlite", "data_products", "search", str(EXAMPLES / "docs_example.json")).assert_ok()
    (data_file,) = tmp_path.glob("*_data.json")
    records = json.loads(data_file.read_text())
    assert records, run.describe()
    assert all(r["data_source"]["platform"] == "fort smith" for r in records)
    assert all(r["metadata"].get("demo_synthetic") is True for r in records)
    assert [r["start"] for r in records] == sorted(r["start"] for r in records)
    assert f"Downloading {len(records)} results" in run.stdout


def test_default_catalog_is_built_once_with_a_notice(cli: CliRunner, tmp_path: Path):
    """No --catalog and no AURORAX_CATALOG: the first command builds the demo archive and says so; later ones don't."""
    first = cli("sources", "list", "--program", "trex").assert_ok()
    assert "building the demo archive" in first.stderr
    assert "TREx RGB" in first.stdout
    assert (tmp_path / "home" / "data" / "aurorax-core" / "catalog.sqlite").exists()
    second = cli("catalog", "stats").assert_ok()
    assert "building the demo archive" not in second.stderr
    assert re.search(r"^Records:\s+[\d,]+$", second.stdout, re.M)


def test_catalog_demo_command(cli: CliRunner, tmp_path: Path):
    """catalog demo builds a small archive, prints a summary, and refuses to overwrite a catalog without --replace."""
    run = cli("--catalog", "d.sqlite", "catalog", "demo", "--start", "2020-01-01", "--end", "2020-01-01").assert_ok()
    assert "Demo archive built at d.sqlite" in run.stdout
    assert re.search(r"records:\s+[\d,]+ from \d+ sites", run.stdout)
    cli("--catalog", "d.sqlite", "catalog", "demo").assert_user_error("pass --replace")
    cli("--catalog", "e.sqlite", "catalog", "demo", "--start", "2020-01-02", "--end", "2020-01-01").assert_user_error(
        "before --start"
    )
    cli("--catalog", "e.sqlite", "catalog", "demo", "--start", "yesterday").assert_user_error("cannot parse --start")
    assert not (tmp_path / "e.sqlite").exists()
