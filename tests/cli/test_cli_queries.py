"""`aurorax-core` query-file handling, run as a user runs it: templates, describe and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import REPO, CliRunner, closed_port, write_json

from aurorax_core.query import SEARCH_TEMPLATE, DataProductQuery

EXAMPLES = REPO / "examples" / "queries"

DOCS_QUERY = {
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:59",
    "data_sources": {"programs": ["trex"], "platforms": ["fort smith"], "instrument_types": ["RGB ASI"]},
    "data_product_type_filters": [],
}


def test_search_template_prints_and_saves_a_valid_query(cli: CliRunner, tmp_path: Path):
    """search_template prints aurorax-cli's template; --outfile saves it; both parse as a query."""
    printed = cli("data_products", "search_template").assert_ok()
    assert json.loads(printed.stdout) == SEARCH_TEMPLATE
    assert printed.stdout.startswith('{\n  "start"')  # indent 2 by default
    DataProductQuery.from_json(printed.stdout)

    saved = cli("data_products", "search_template", "--outfile", "template.json", "--indent", "4").assert_ok()
    assert saved.stdout.strip() == "Saved template to template.json"
    text = (tmp_path / "template.json").read_text()
    assert text.startswith('{\n    "start"')
    assert DataProductQuery.from_json(text).data_product_types == ("keogram",)


def test_describe_prints_the_aurorax_description(cli: CliRunner, tmp_path: Path):
    """describe QUERY.json prints AuroraX's describe sentence for the documentation's example query."""
    write_json(tmp_path / "q.json", DOCS_QUERY)
    run = cli("data_products", "describe", "q.json").assert_ok()
    assert run.stdout.strip() == (
        "Find data_products for ((program in (trex) AND platform in (fort smith) AND instrument_type in (RGB ASI) "
        "filtered by metadata ()) AND  data_product_metadata_filters []) AND data_product start >= "
        "2020-01-01T00:00 UTC AND data_product end <= 2020-01-01T23:59:59 UTC AND"
    )
    # describe needs no catalog: none was built in the isolated home.
    assert not list((tmp_path / "home").rglob("*.sqlite"))


def test_shipped_example_queries_are_valid(cli: CliRunner):
    """examples/queries/*.json (the README's examples) are valid queries that describe() accepts."""
    files = sorted(EXAMPLES.glob("*.json"))
    assert {f.name for f in files} >= {"docs_example.json", "example1.json", "example2.json"}
    for path in files:
        DataProductQuery.from_file(path)
    run = cli("data_products", "describe", str(EXAMPLES / "example2.json")).assert_ok()
    assert "keogram_type in (daily)" in run.stdout
    assert run.stdout.strip().endswith("data_product_type in (keogram)")


def _query(**changes):
    query = json.loads(json.dumps(DOCS_QUERY))
    query.update(changes)
    return query


def _expression(**changes):
    expression = {"key": "keogram_type", "operator": "=", "values": ["daily"]}
    expression.update(changes)
    query = _query()
    query["data_sources"]["data_product_metadata_filters"] = {"expressions": [expression]}
    return query


BAD_QUERY_FILES = [
    pytest.param(_query(end="2019-12-31T00:00:00"), "is before start", id="end-before-start"),
    pytest.param(_query(start="first of january"), "cannot parse 'first of january'", id="unparseable-date"),
    pytest.param(_query(data_product_type_filters=["photo"]), "unknown data product type 'photo'", id="type"),
    pytest.param(_expression(operator="like"), "unknown operator 'like'", id="operator"),
    pytest.param(_expression(operator="between", values=[75]), "'between' needs exactly two values", id="between"),
    pytest.param(_query(data_product_type_filters="keogram"), "must be a list", id="non-list"),
    pytest.param(_expression(values="daily"), "'values' must be a list", id="values-non-list"),
    pytest.param("", "the query is empty", id="empty-file"),
    pytest.param('{"start": "2020-01-01T00:00:00",', "not valid JSON", id="invalid-json"),
    pytest.param("[1, 2]", "a query must be a JSON object", id="json-array"),
]


@pytest.mark.parametrize(("content", "fragment"), BAD_QUERY_FILES)
def test_bad_query_files_are_one_line_errors_and_write_nothing(cli: CliRunner, tmp_path: Path, content, fragment):
    """Each bad query file gives exit 1, one 'Error: ...' line naming the problem, and no output file."""
    path = tmp_path / "q.json"
    if isinstance(content, str):
        path.write_text(content)
    else:
        write_json(path, content)
    cli("data_products", "search", "q.json").assert_user_error(fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "q.json"]


def test_describe_reports_bad_query_files_the_same_way(cli: CliRunner, tmp_path: Path):
    """describe reads query files with the same validation as search."""
    write_json(tmp_path / "q.json", _expression(operator="between", values=[75]))
    cli("data_products", "describe", "q.json").assert_user_error("'between' needs exactly two values")


def test_missing_query_file_uses_aurorax_cli_wording(cli: CliRunner, tmp_path: Path):
    """A query file that does not exist: "Error: infile doesn't exist (<f>)", exit 1, as aurorax-cli says it."""
    for command in ("search", "describe"):
        run = cli("data_products", command, "nope.json").assert_user_error("infile doesn't exist (nope.json)")
        assert run.stderr.strip() == "Error: infile doesn't exist (nope.json)"
    cli("data_products", "search", str(tmp_path)).assert_user_error("is a directory")


def test_bad_availability_dates(cli: CliRunner):
    """Availability dates must be YYYY/MM/DD, YYYY-MM-DD or YYYYMMDD, and END not before START."""
    cli("availability", "data_products", "2020/13/01", "2020-01-02").assert_user_error("cannot parse start date")
    cli("availability", "data_products", "20200101", "tomorrow").assert_user_error("cannot parse end date 'tomorrow'")
    cli("availability", "data_products", "2020-01-05", "20200101").assert_user_error(
        "end date 2020-01-01 is before start date 2020-01-05"
    )


def test_unreachable_api_url_is_a_clear_error(cli: CliRunner, tmp_path: Path):
    """--api-url pointing at a closed 127.0.0.1 port: exit 1 with one line naming the URL, no data file."""
    write_json(tmp_path / "q.json", DOCS_QUERY)
    url = f"http://127.0.0.1:{closed_port()}"
    run = cli("--api-url", url, "data_products", "search", "q.json").assert_user_error(url)
    assert "Reading in query file" in run.stdout
    assert not list(tmp_path.glob("*_data.json"))
    cli("--api-url", url, "sources", "list").assert_user_error(url)
    # AURORAX_API_URL is the default backend, and an explicit --catalog wins over it.
    cli("sources", "list", env={"AURORAX_API_URL": url}).assert_user_error(url)
    cli("--catalog", "none.sqlite", "sources", "list", env={"AURORAX_API_URL": url}).assert_user_error(
        "catalog 'none.sqlite' does not exist"
    )
    cli("--api-url", url, "data_products", "get_status", "63e09ea3-2465-4ea8-affe-bb17170f815d").assert_user_error(url)


def test_usage_errors_exit_2_and_no_command_prints_help(cli: CliRunner):
    """argparse usage errors keep the conventional exit 2 (as click's do in aurorax-cli); no command prints help."""
    run = cli("data_products", "search")
    assert run.returncode == 2 and "usage:" in run.stderr and "Traceback" not in run.output
    run = cli("sources", "list", "--source-type", "space")
    assert run.returncode == 2 and "invalid choice" in run.stderr
    run = cli()
    assert run.returncode == 1 and "usage:" in run.stdout
    help_ = cli("data_products", "search", "--help").assert_ok()
    assert "--poll-interval" in help_.stdout and "ignored" in help_.stdout
