"""``aurorax-core availability data_products ... --expected --format table|csv|json --by``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aurorax_core.cli import main

from .conftest import GILLAM_FULL_NIGHT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_without_expected_the_output_is_aurorax_clis_table(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020-01-04",
        "2020-01-06",
        "--program",
        "trex",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "Identifier",
        "↓",
        "Display",
        "Name",
        "Program",
        "Platform",
        "Instrument",
        "Type",
        "Source",
        "Type",
        "Date",
        "Available",
        "Records",
    ]
    # only the days with products, no status
    assert [line.split()[-2:] for line in lines[2:]] == [["2020-01-04", "14"], ["2020-01-06", "14"]]


def test_expected_table_has_every_day_and_a_status(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020/01/04",
        "20200107",
        "--program",
        "trex",
        "--expected",
    )
    assert code == 0
    lines = out.splitlines()
    # the catalog counts per product type too: a column per type between the total and the hours
    assert lines[0].rstrip().endswith("Available Records   Keograms   Expected Hours   Status")
    rows = [line.split() for line in lines[2:]]
    assert [(r[-5], r[-4], r[-1]) for r in rows] == [
        ("2020-01-04", "14", "present"),
        ("2020-01-05", "0", "missing"),
        ("2020-01-06", "14", "present"),
        ("2020-01-07", "3", "partial"),
    ]
    assert all(13.0 < float(r[-2]) < 14.5 for r in rows)


def test_csv_format(capsys: pytest.CaptureFixture[str], availability_catalog_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020-06-20",
        "2020-06-21",
        "--platform",
        "fort smith",
        "--expected",
        "--format",
        "csv",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "identifier",
        "display_name",
        "program",
        "platform",
        "instrument_type",
        "source_type",
        "date",
        "count",
        "expected_hours",
        "status",
    ]
    assert [(r["identifier"], r["date"], r["count"], r["expected_hours"], r["status"]) for r in rows] == [
        ("55", "2020-06-20", "0", "0.0", "not_expected"),
        ("55", "2020-06-21", "0", "0.0", "not_expected"),
    ]


def test_json_format_is_one_object_per_source_and_day(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020-01-01",
        "2020-01-03",
        "--expected",
        "--format",
        "json",
    )
    assert code == 0
    objects = json.loads(out)
    assert len(objects) == 6 * 3  # every source on every day
    assert set(objects[0]) == {
        "identifier",
        "display_name",
        "program",
        "platform",
        "instrument_type",
        "source_type",
        "date",
        "count",
        "counts_by_type",
        "expected_hours",
        "status",
    }
    gillam = [o for o in objects if o["identifier"] == 103]
    assert [(o["date"], o["count"], o["status"]) for o in gillam] == [
        ("2020-01-01", GILLAM_FULL_NIGHT, "present"),
        ("2020-01-02", GILLAM_FULL_NIGHT, "present"),
        ("2020-01-03", GILLAM_FULL_NIGHT, "present"),
    ]
    swarm = [o for o in objects if o["identifier"] == 3]
    assert [(o["count"], o["status"], o["expected_hours"]) for o in swarm] == [
        (0, "absent", None),
        (1, "present", None),
        (0, "absent", None),
    ]
    assert "without site coordinates" in err  # said, on stderr, so the JSON stays clean
    # without --expected: the same objects, no status
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020-01-01",
        "2020-01-01",
        "--program",
        "trex",
        "--format",
        "json",
    )
    assert json.loads(out) == [
        {
            "identifier": 103,
            "display_name": "TREx RGB GILL",
            "program": "trex",
            "platform": "gillam",
            "instrument_type": "RGB ASI",
            "source_type": "ground",
            "date": "2020-01-01",
            "count": GILLAM_FULL_NIGHT,
            "counts_by_type": {"keogram": GILLAM_FULL_NIGHT},
            "expected_hours": None,
            "status": None,
        }
    ]


def test_fifty_years_are_aggregated_by_month(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "1990-01-01",
        "2039-12-31",
        "--platform",
        "gillam",
        "--expected",
    )
    assert code == 0
    lines = out.splitlines()
    assert "Month" in lines[0].split()
    assert len(lines) == 2 + 600
    january = next(line for line in lines if " 2020-01 " in line)
    assert "partial (8 present, 1 partial, 22 missing)" in january


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["2020-01-05", "2020-01-01", "--expected"], "Error: end date 2020-01-01 is before start date 2020-01-05"),
        (
            ["2020-01-01", "2020-01-02", "--expected", "--program", "nope"],
            "Error: no data source matches program='nope'",
        ),
        (["1990-01-01", "2039-12-31", "--expected", "--by", "day"], "aggregate by month"),
        (["2020-01-01", "2020-01-02", "--expected", "--sun-elevation", "-100"], "sun-elevation threshold"),
    ],
)
def test_bad_input_exits_1_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path, argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "--catalog", str(availability_catalog_path), "availability", "data_products", *argv)
    assert code == 1
    assert out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_unknown_format_is_a_usage_error(availability_catalog_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aurorax_core",
            "--catalog",
            str(availability_catalog_path),
            "availability",
            "data_products",
            "2020-01-01",
            "2020-01-02",
            "--format",
            "xml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid choice: 'xml'" in done.stderr


def test_over_the_api_the_same_json_as_the_catalog(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path, availability_server: str
) -> None:
    common = ["availability", "data_products", "2020-01-01", "2020-01-10", "--expected", "--format", "json"]
    _, local, _ = run(capsys, "--catalog", str(availability_catalog_path), *common)
    code, remote, _ = run(capsys, "--api-url", availability_server, *common)
    assert code == 0
    # AuroraX's availability endpoint answers totals only: the catalog adds the per-type counts
    local_objects, remote_objects = json.loads(local), json.loads(remote)
    assert any(o["counts_by_type"] for o in local_objects)
    assert all(o["counts_by_type"] == {} for o in remote_objects)
    for o in local_objects:
        assert sum(o["counts_by_type"].values()) == o["count"]
        o["counts_by_type"] = {}
    assert remote_objects == local_objects


def test_order_and_reversed_keep_each_sources_days_in_date_order(
    capsys: pytest.CaptureFixture[str], availability_catalog_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020-01-01",
        "2020-01-02",
        "--source-type",
        "ground",
        "--order",
        "display_name",
        "--reversed",
        "--format",
        "csv",
    )
    assert code == 0
    rows = [(r["display_name"], r["date"]) for r in csv.DictReader(io.StringIO(out))]
    names = ["TREx RGB GILL", "THEMIS-ASI FSMI", "REGO LYRN", "PyAuroraX testing", "PFISR"]
    assert rows == [(name, day) for name in names for day in ("2020-01-01", "2020-01-02")]


def test_months_without_expected_in_csv(capsys: pytest.CaptureFixture[str], availability_catalog_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "--catalog",
        str(availability_catalog_path),
        "availability",
        "data_products",
        "2020-01-01",
        "2020-03-31",
        "--program",
        "trex",
        "--by",
        "month",
        "--format",
        "csv",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["month"], r["count"]) for r in rows] == [
        ("2020-01", str(8 * GILLAM_FULL_NIGHT + 3)),
        ("2020-02", "0"),
        ("2020-03", "0"),
    ]
    assert "status" not in rows[0]
