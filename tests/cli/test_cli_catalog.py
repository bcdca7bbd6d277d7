"""`aurorax-core` end to end on an embedded catalog with data: ingest, search, the request lifecycle, tables."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
from cli_helpers import REPO, SOURCES, CliRunner, make_runner, sample_records, write_json

EXAMPLES = REPO / "examples" / "queries"
RECORD_KEYS = {"data_source", "data_product_type", "start", "end", "url", "metadata"}
BASIC_INFO_KEYS = {"identifier", "program", "platform", "instrument_type", "source_type", "display_name"}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TS = r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+\] "


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog built with `catalog ingest` from sample_records() (53 records, 3 sources)."""
    base = tmp_path_factory.mktemp("catalog")
    write_json(base / "records.json", sample_records())
    run = make_runner(base)("--catalog", "catalog.sqlite", "catalog", "ingest", "records.json").assert_ok()
    assert re.search(r"inserted:\s+53 records", run.stdout), run.describe()
    assert re.search(r"sources added:\s+3", run.stdout), run.describe()
    return base / "catalog.sqlite"


@pytest.fixture
def work(catalog: Path, tmp_path: Path) -> Path:
    """A private copy of the catalog in the test's directory (tests may write search requests)."""
    shutil.copy(catalog, tmp_path / "catalog.sqlite")
    return tmp_path


def _search_ids(stdout: str) -> str:
    match = re.search(rf"Data has been saved to '({UUID})_data\.json'", stdout)
    assert match, stdout
    return match.group(1)


def test_docs_query_search_writes_the_aurorax_cli_data_file(cli: CliRunner, work: Path):
    """The AuroraX docs query, --catalog before the command: aurorax-cli's lines and a sorted raw-records file."""
    shutil.copy(EXAMPLES / "docs_example.json", work / "q.json")
    run = cli("--catalog", "catalog.sqlite", "data_products", "search", "q.json", "--poll-interval", "5").assert_ok()
    lines = run.stdout.splitlines()
    assert all(re.match(TS, line) for line in lines), run.stdout
    messages = [re.sub(TS, "", line) for line in lines]
    request_id = _search_ids(run.stdout)
    assert messages[:6] == [
        "Reading in query file ...",
        "Preparing search ...",
        "Search object created",
        "Request submitted",
        f"Request ID: {request_id}",
        "Data is now available",
    ]
    assert re.fullmatch(r"Downloading 8 results and \d+\.\d kB of data \.\.\.", messages[6]), messages
    assert messages[7:] == ["Writing data to file ...", f"Data has been saved to '{request_id}_data.json'"]

    text = (work / f"{request_id}_data.json").read_text()
    records = json.loads(text)
    assert text.startswith('[\n  {\n    "data_source"')  # json.dump(..., indent=2), as aurorax-cli writes it
    assert len(records) == 8
    assert [r["start"] for r in records] == sorted(r["start"] for r in records)
    for record in records:
        assert set(record) == RECORD_KEYS
        assert set(record["data_source"]) == BASIC_INFO_KEYS
        assert record["data_source"]["platform"] == "fort smith"
        assert "2020-01-01T00:00:00" <= record["start"] <= record["end"] <= "2020-01-01T23:59:59"
    assert {r["data_product_type"] for r in records} == {"keogram", "montage"}


def test_data_file_is_reingestable(cli: CliRunner, work: Path):
    """The search's data file goes back in with `catalog ingest`: into a new catalog, then as updates."""
    shutil.copy(EXAMPLES / "example2.json", work / "q.json")
    run = cli("--catalog", "catalog.sqlite", "data_products", "search", "q.json", "--quiet").assert_ok()
    assert run.stdout == ""
    (data_file,) = work.glob("*_data.json")
    assert len(json.loads(data_file.read_text())) == 10  # one daily keogram per day at Gillam

    fresh = cli("--catalog", "copy.sqlite", "catalog", "ingest", data_file.name).assert_ok()
    assert re.search(r"inserted:\s+10 records", fresh.stdout) and re.search(r"sources added:\s+1\b", fresh.stdout)
    again = cli("--catalog", "copy.sqlite", "catalog", "ingest", data_file.name).assert_ok()
    assert re.search(r"inserted:\s+0 records", again.stdout) and re.search(r"updated:\s+10 records", again.stdout)
    cli(
        "--catalog", "copy.sqlite", "data_products", "search", "q.json", "--outfile", "again.json", "--quiet"
    ).assert_ok()
    assert json.loads((work / "again.json").read_text()) == json.loads(data_file.read_text())


def test_output_options(cli: CliRunner, work: Path):
    """--outfile/--indent/--minify shape the file; --output-to-terminal dict|objects print instead of writing."""
    shutil.copy(EXAMPLES / "example1.json", work / "q.json")
    base = ("--catalog", "catalog.sqlite", "data_products", "search", "q.json")
    cli(*base, "--outfile", "min.json", "--minify", "--quiet").assert_ok()
    minified = (work / "min.json").read_text()
    assert "\n" not in minified and len(json.loads(minified)) == 2  # auroramax on 2020-01-01
    cli(*base, "--outfile", "wide.json", "--indent", "4", "--quiet").assert_ok()
    assert (work / "wide.json").read_text().startswith('[\n    {\n        "data_source"')
    assert json.loads((work / "wide.json").read_text()) == json.loads(minified)

    as_dict = cli(*base, "--output-to-terminal", "dict", "--quiet").assert_ok()
    assert ast.literal_eval(as_dict.stdout.strip()) == json.loads(minified)
    objects = cli(*base, "--output-to-terminal", "objects", "--quiet").assert_ok()
    lines = objects.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("DataProductData(start='2020-01-01T00:00:00'") for line in lines)
    assert "url='https://data.example...'" in lines[0] and lines[0].endswith("data_source=DataSource(...))")
    assert not list(work.glob("*_data.json"))  # terminal output writes no file
    cli(*base, "--outfile", "no/such/dir/out.json").assert_user_error("does not exist")


def test_request_lifecycle_on_the_catalog(cli: CliRunner, work: Path):
    """search, then get_status / get_logs / get_query / get_data / search_resubmit on its request id."""
    shutil.copy(EXAMPLES / "docs_example.json", work / "q.json")
    cat = ("--catalog", "catalog.sqlite", "data_products")
    request_id = _search_ids(cli(*cat, "search", "q.json").assert_ok().stdout)
    searched = json.loads((work / f"{request_id}_data.json").read_text())

    status = cli(*cat, "get_status", request_id, "--show-logs", "--show-query").assert_ok().stdout
    assert "Completed:\t\tTrue" in status
    assert "Error condition:\tFalse" in status
    assert "Result count:\t\t8" in status
    assert re.search(r"Query duration:\t\t\d+(\.\d\d)? seconds? \(\d+ms\)", status)
    assert re.search(r"Timestamp\s+Level\s+Summary *\n=+\n", status)
    assert "Search request arrived and saved" in status
    assert "Finished search in" in status and "found 8 records" in status
    query_text = status.split("Search query:\n==================\n", 1)[1]
    shown = ast.literal_eval(query_text.strip())
    assert "request_id" not in shown
    assert shown["data_sources"]["platforms"] == ["fort smith"]

    logs = cli(*cat, "get_logs", request_id, "--filter", "info").assert_ok().stdout
    assert "Starting query for" in logs and "debug" not in logs
    query = ast.literal_eval(cli(*cat, "get_query", request_id).assert_ok().stdout.strip())
    assert query == shown

    data = cli(*cat, "get_data", request_id, "--outfile", "got.json").assert_ok().stdout.splitlines()
    assert data[0] == "Checking request status ..."
    assert re.fullmatch(r"Downloading 8 results and \d+\.\d kB of data \.\.\.", data[1])
    assert data[-1] == "Data has been saved to 'got.json'"
    assert json.loads((work / "got.json").read_text()) == searched

    resubmit = cli(*cat, "search_resubmit", request_id).assert_ok().stdout.splitlines()
    assert resubmit[:3] == [
        f"Retrieving query for request '{request_id}' ...",
        "Preparing new search ...",
        "Submitting new search ...",
    ]
    new_id = re.fullmatch(rf"Request has been resubmitted, new request ID is ({UUID})", resubmit[3]).group(1)
    assert new_id != request_id
    cli(*cat, "get_data", new_id, "--outfile", "new.json").assert_ok()
    assert json.loads((work / "new.json").read_text()) == searched


def test_unknown_request_ids(cli: CliRunner, work: Path):
    """Every request command answers an unknown (or malformed) id with 'request ID not found', exit 1."""
    unknown = "63e09ea3-2465-4ea8-affe-bb17170f815d"
    for command in ("get_status", "get_logs", "get_query", "get_data", "search_resubmit"):
        cli("--catalog", "catalog.sqlite", "data_products", command, unknown).assert_user_error("request ID not found")
    for command in ("get_status", "get_data"):
        cli("--catalog", "catalog.sqlite", "data_products", command, "some-bad-request-id").assert_user_error(
            "request ID not found"
        )
    assert not list(work.glob("*_data.json"))


def test_sources_tables_and_records(cli: CliRunner, work: Path):
    """sources list/search print aurorax-cli's columns; get/get_using_identifier print key/value lines."""
    cat = ("--catalog", "catalog.sqlite", "sources")
    table = cli(*cat, "list").assert_ok().stdout.splitlines()
    assert re.match(r"Identifier ↓\s+Display Name\s+Program\s+Platform\s+Instrument Type\s+Source Type$", table[0])
    assert set(table[1]) == {"="}
    assert [row.split()[0] for row in table[2:]] == ["96", "103", "175"]
    assert "TREx RGB GILL" in table[3] and "rabbit" not in "\n".join(table)

    by_name = cli(*cat, "list", "--order", "display_name", "--reversed").assert_ok().stdout.splitlines()
    assert "Display Name ↓" in by_name[0]
    assert [row.split()[0] for row in by_name[2:]] == ["103", "96", "175"]
    filtered = cli(*cat, "list", "--program", "trex", "--platform", "gillam").assert_ok().stdout.splitlines()
    assert len(filtered) == 3 and filtered[2].split()[0] == "103"

    stats = cli(*cat, "list", "--include-stats").assert_ok().stdout
    assert "Data Products stats" in stats
    assert "40 records (2020-01-01T00:00 to 2020-01-10T03:00)" in stats
    assert "Total Data Product records:\t53" in stats

    searched = cli(*cat, "search", "--programs", "trex, auroramax", "--instrument-types", "DSLR,RGB ASI").assert_ok()
    assert len(searched.stdout.strip().splitlines()) == 5
    assert len(cli(*cat, "search", "--platforms", "gillam,rabbit lake").assert_ok().stdout.strip().splitlines()) == 3

    one = cli(*cat, "get", "trex", "gillam", "RGB ASI", "--format", "full_record", "--include-stats").assert_ok()
    assert "Identifier:\t\t103\n" in one.stdout
    assert "Instument Type:\t\tRGB ASI" in one.stdout  # aurorax-cli's spelling
    assert "Data Product Stats:\t40 (2020-01-01T00:00 to 2020-01-10T03:00)" in one.stdout
    assert "Data Product Schema:" in one.stdout
    only_id = cli(*cat, "get_using_identifier", "175", "--format", "identifier_only").assert_ok()
    assert only_id.stdout.strip() == "Identifier:\t\t175"
    basic = cli(*cat, "get_using_identifier", "96").assert_ok().stdout
    assert f"Display Name:\t\t{SOURCES['fsmi']['display_name']}" in basic and "Owner" not in basic

    cli(*cat, "get_using_identifier", "12345678").assert_user_error(
        "No Data Source record found in AuroraX for identifier 12345678"
    )
    cli(*cat, "get", "definitely", "doesnt", "exist").assert_user_error("No matching data source found")
    assert cli(*cat, "get_using_identifier", "abc").returncode == 2  # argparse type error


def test_availability_table(cli: CliRunner, work: Path):
    """availability data_products prints one row per source and day; all three date forms work."""
    cat = ("--catalog", "catalog.sqlite", "availability", "data_products")
    run = cli(*cat, "2020/01/01", "20200102").assert_ok().stdout.splitlines()
    assert re.match(r"Identifier ↓\s+Display Name\s+.*\s+Date\s+Available Records$", run[0])
    rows = [line.split("   ") for line in run[2:]]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    assert [(c[0], c[6], c[7]) for c in cells] == [
        ("96", "2020-01-01", "8"),
        ("103", "2020-01-01", "4"),
        ("103", "2020-01-02", "4"),
        ("175", "2020-01-01", "2"),
        ("175", "2020-01-02", "2"),
    ]
    gill = cli(*cat, "2020-01-01", "2020-01-10", "--platform", "gillam", "--instrument-type", "RGB ASI").assert_ok()
    assert len(gill.stdout.strip().splitlines()) == 2 + 10
    none = cli(*cat, "1990-01-01", "1990-01-02").assert_ok()
    assert none.stdout.strip() == "No data products availability information found!"


def test_catalog_stats(cli: CliRunner, work: Path):
    """catalog stats: records, sources, per-type counts, time span, file size and bytes per record."""
    out = cli("--catalog", "catalog.sqlite", "catalog", "stats").assert_ok().stdout
    assert re.search(r"^Records:\s+53$", out, re.M)
    assert re.search(r"^Data sources:\s+3 \(3 with data products\)$", out, re.M)
    assert re.search(r"^  keogram\s+40$", out, re.M)
    assert re.search(r"^  montage\s+1$", out, re.M)
    assert re.search(r"^  movie\s+12$", out, re.M)  # 10 at Gillam, 2 AuroraMAX
    assert re.search(r"^Time span:\s+2019-12-31T00:00:00 \.\. 2020-01-10T\d\d:00:00$", out, re.M)
    assert re.search(r"^File size:\s+\d+(\.\d)? (kB|MB)$", out, re.M)
    assert re.search(r"^Bytes per record:\s+[\d,]+$", out, re.M)


def test_catalog_from_environment(cli: CliRunner, work: Path):
    """AURORAX_CATALOG selects the catalog when --catalog is not given (no demo build)."""
    run = cli("catalog", "stats", env={"AURORAX_CATALOG": str(work / "catalog.sqlite")}).assert_ok()
    assert re.search(r"^Records:\s+53$", run.stdout, re.M)
    assert "demo" not in run.stderr


def test_outfile_that_is_a_stream_or_a_link(cli: CliRunner, work: Path):
    """--outfile on a FIFO writes into it (the FIFO stays a FIFO); on a symlink it replaces the link's target."""
    import os
    import stat
    import threading

    shutil.copy(EXAMPLES / "example1.json", work / "q.json")
    base = ("--catalog", "catalog.sqlite", "data_products", "search", "q.json", "--quiet")
    fifo = work / "pipe.json"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    run = cli(*base, "--outfile", "pipe.json").assert_ok()
    reader.join(timeout=60)
    assert received, f"nothing arrived through the FIFO\n{run.describe()}"
    assert len(json.loads(received[0])) == 2, received[0][:300]
    assert stat.S_ISFIFO(fifo.stat().st_mode)

    (work / "target.json").write_text("old")
    (work / "link.json").symlink_to("target.json")
    cli(*base, "--outfile", "link.json").assert_ok()
    assert (work / "link.json").is_symlink()
    assert len(json.loads((work / "target.json").read_text())) == 2
    cli("--catalog", "/dev/null", "sources", "list").assert_user_error("is not a regular file")
