"""aurorax-cli (pyaurorax's CLI) against our server: its CLI tests (PROTOCOL §10.4) ported.

A few runs go through the installed ``aurorax-cli`` executable in a subprocess (the real entry
point, end to end); the rest call the same click command in-process with click's CliRunner, as
pyaurorax's own CLI tests do, to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pyaurorax.cli.cli import cli

from aurorax_core import DataProductQuery
from aurorax_core.backends.catalog import CatalogBackend

from .conftest import POLL

EXAMPLE1 = {  # examples/queries/search/data_products/example1.json
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_sources": {"programs": ["auroramax"], "platforms": [], "instrument_types": []},
    "data_product_type_filters": [],
}
EXAMPLE2 = {  # example2.json: trex/gillam/RGB ASI, keogram_type in (daily), ten days
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-10T23:59:59",
    "data_sources": {
        "programs": ["trex"],
        "platforms": ["gillam"],
        "instrument_types": ["RGB ASI"],
        "data_product_metadata_filters": {
            "logical_operator": "AND",
            "expressions": [{"key": "keogram_type", "operator": "in", "values": ["daily"]}],
        },
    },
    "data_product_type_filters": ["keogram"],
}


def _cli_exe() -> list[str]:
    exe = shutil.which("aurorax-cli")
    return [exe] if exe else [sys.executable, "-c", "from pyaurorax.cli.cli import cli; cli()"]


def run_exe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_cli_exe(), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def run(server_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [f"--api-base-url={server_url}", *args], catch_exceptions=False)


@pytest.fixture
def query_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name, body in (("example1", EXAMPLE1), ("example2", EXAMPLE2)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(body))
    return files


@pytest.fixture(scope="module")
def request_id(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A completed search (the CLI tests' ``data_products_search_id``), run by the CLI itself."""
    folder = tmp_path_factory.mktemp("cli-search")
    query = folder / "q.json"
    query.write_text(json.dumps(EXAMPLE1))
    # the default outfile is <request_id>_data.json in the working directory
    previous = os.getcwd()
    os.chdir(folder)
    try:
        result = run(server_url, "search", "data_products", "search", str(query), f"--poll-interval={POLL}", "--quiet")
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    written = list(folder.glob("*_data.json"))
    assert len(written) == 1
    return written[0].name.removesuffix("_data.json")


# --- the real executable ------------------------------------------------------------------------


def test_exe_test_connectivity(server_url: str, tmp_path: Path) -> None:
    done = run_exe(f"--api-base-url={server_url}", "--test-connectivity", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Connectivity to the AuroraX API looks good!" in done.stdout


def test_exe_search_writes_the_catalog_records(
    server_url: str, tmp_path: Path, query_files: dict[str, Path], catalog: CatalogBackend
) -> None:
    outfile = tmp_path / "out.json"
    done = run_exe(
        f"--api-base-url={server_url}",
        "search",
        "data_products",
        "search",
        str(query_files["example2"]),
        f"--poll-interval={POLL}",
        f"--outfile={outfile}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Data has been saved to" in done.stdout
    records = json.loads(outfile.read_text())
    expected = catalog.search(DataProductQuery.from_api_payload(EXAMPLE2)).to_api_records()
    assert len(records) > 0
    assert sorted(records, key=lambda r: (r["start"], r["url"])) == expected


def test_exe_bad_request_id(server_url: str, tmp_path: Path) -> None:
    done = run_exe(f"--api-base-url={server_url}", "search", "data_products", "get_status", "bad-id", cwd=tmp_path)
    assert done.returncode == 1
    assert "request ID not found" in done.stdout + done.stderr


# --- data_products commands -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["example1", "example2"])
def test_describe(server_url: str, query_files: dict[str, Path], name: str) -> None:
    result = run(server_url, "search", "data_products", "describe", str(query_files[name]))
    assert result.exit_code == 0
    query = EXAMPLE1 if name == "example1" else EXAMPLE2
    assert DataProductQuery.from_api_payload(query).describe() in result.output


def test_search_output_to_terminal_objects(server_url: str, query_files: dict[str, Path]) -> None:
    result = run(
        server_url,
        "search",
        "data_products",
        "search",
        str(query_files["example1"]),
        f"--poll-interval={POLL}",
        "--output-to-terminal=objects",
    )
    assert result.exit_code == 0
    assert "DataProductData(start='2020-01-01T" in result.output
    assert "data_product_type='keogram'" in result.output


@pytest.mark.parametrize("flags", [[], ["--show-logs"], ["--show-query"], ["--show-logs", "--filter-logs=info"]])
def test_get_status(server_url: str, request_id: str, flags: list[str]) -> None:
    result = run(server_url, "search", "data_products", "get_status", request_id, *flags)
    assert result.exit_code == 0, result.output
    assert "Completed:" in result.output
    assert "Error condition:" in result.output
    assert re.search(
        rf"Data URL:\s+{re.escape(server_url)}/api/v1/data_products/requests/{request_id}/data", result.output
    )
    if "--show-logs" in flags:
        assert "Finished search in" in result.output
    if "--filter-logs=info" in flags:
        assert "Starting to write data to file" not in result.output
    if "--show-query" in flags:
        assert "auroramax" in result.output


def test_get_logs_and_get_query(server_url: str, request_id: str) -> None:
    logs = run(server_url, "search", "data_products", "get_logs", request_id)
    assert logs.exit_code == 0
    assert "Search request arrived and saved" in logs.output
    query = run(server_url, "search", "data_products", "get_query", request_id)
    assert query.exit_code == 0
    assert "'programs': ['auroramax']" in query.output
    assert "request_id" not in query.output


def test_get_data_to_file_and_terminal(
    server_url: str, request_id: str, tmp_path: Path, catalog: CatalogBackend
) -> None:
    outfile = tmp_path / "data.json"
    result = run(server_url, "search", "data_products", "get_data", request_id, f"--outfile={outfile}")
    assert result.exit_code == 0, result.output
    assert (
        json.loads(outfile.read_text()) == catalog.search(DataProductQuery.from_api_payload(EXAMPLE1)).to_api_records()
    )
    objects = run(server_url, "search", "data_products", "get_data", request_id, "--output-to-terminal=dict")
    assert objects.exit_code == 0
    assert "'url':" in objects.output


def test_search_resubmit(server_url: str, request_id: str) -> None:
    result = run(server_url, "search", "data_products", "search_resubmit", request_id)
    assert result.exit_code == 0, result.output
    assert "Request has been resubmitted, new request ID is" in result.output
    new_id = result.output.strip().rsplit(" ", 1)[-1]
    assert new_id != request_id
    assert run(server_url, "search", "data_products", "get_status", new_id).exit_code == 0


@pytest.mark.parametrize("command", ["get_status", "get_logs", "get_query", "get_data", "search_resubmit"])
def test_bad_request_id(server_url: str, command: str) -> None:
    result = CliRunner().invoke(cli, [f"--api-base-url={server_url}", "search", "data_products", command, "bad-id"])
    assert result.exit_code == 1
    if command == "get_data":
        # pyaurorax 1.27's get_data handler shadows `type` and dies with a TypeError on any API
        # error; what matters here is that the 404 stopped it before any download.
        assert "Downloading" not in result.output
    else:
        assert "request ID not found" in result.output


# --- sources and availability -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["basic_info", "with_metadata", "identifier_only", "full_record"])
@pytest.mark.parametrize(
    "source",
    [
        ("swarm", "swarma", "footprint"),
        ("themis-asi", "gillam", "panchromatic ASI"),
        ("auroramax", "yellowknife", "DSLR"),
    ],
)
def test_sources_get(server_url: str, source: tuple[str, str, str], fmt: str) -> None:
    for extra in ([], ["--include-stats"]):
        result = run(server_url, "search", "sources", "get", *source, f"--format={fmt}", *extra)
        assert result.exit_code == 0, result.output
        assert "Identifier:" in result.output


@pytest.mark.parametrize("identifier", ["3", "30", "44", "76"])
def test_sources_get_using_identifier(server_url: str, identifier: str) -> None:
    result = run(server_url, "search", "sources", "get_using_identifier", identifier, "--format=full_record")
    assert result.exit_code == 0, result.output
    assert "Identifier:" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--program=swarm"],
        ["--platform=gillam"],
        ["--instrument-type=RGB ASI"],
        ["--source-type=ground"],
        ["--owner=dchaddoc@ucalgary.ca"],
        ["--order=display_name", "--reversed"],
        ["--include-stats"],
    ],
)
def test_sources_list(server_url: str, args: list[str]) -> None:
    result = run(server_url, "search", "sources", "list", *args)
    assert result.exit_code == 0, result.output
    assert "Identifier" in result.output
    if "--include-stats" in args:
        assert "Total Data Product records:" in result.output


@pytest.mark.parametrize(
    "args", [["--programs=swarm,themis"], ["--platforms=gillam,rabbit lake"], ["--instrument-types=RGB ASI,footprint"]]
)
def test_sources_search(server_url: str, args: list[str]) -> None:
    result = run(server_url, "search", "sources", "search", *args)
    assert result.exit_code == 0, result.output
    assert "Identifier" in result.output


@pytest.mark.parametrize(
    "args",
    [[], ["--program=trex"], ["--platform=gillam"], ["--instrument-type=RGB ASI"], ["--source-type=ground"]],
)
def test_availability_data_products(server_url: str, args: list[str], catalog: CatalogBackend) -> None:
    result = run(server_url, "search", "availability", "data_products", "2022-01-01", "2022-01-01", *args)
    assert result.exit_code == 0, result.output
    assert "Available Records" in result.output


def test_availability_bad_date(server_url: str) -> None:
    result = CliRunner().invoke(
        cli, [f"--api-base-url={server_url}", "search", "availability", "data_products", "x", "y"]
    )
    assert result.exit_code == 1
    assert "Error parsing start date" in result.output
