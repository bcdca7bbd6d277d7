"""Bundles: their contents, and the generated scripts run for real against a file server."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aurorax_core._fetch import FetchPolicy, parse_host_rules
from aurorax_core.bundle import BundleError, bundle_files, load_manifest, write_bundle
from aurorax_core.models import DataSource
from aurorax_core.query import DataProductQuery

from .helpers import files_under, payload, product
from .servers import FileServer


def policy_for(server: FileServer) -> FetchPolicy:
    return FetchPolicy(allowed_hosts=parse_host_rules([server.host]))


def extract(files: dict[str, str], where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    return where


def test_bundle_zip_holds_manifests_scripts_queries_and_acknowledgements(tmp_path: Path) -> None:
    products = [
        product("https://data.phys.ucalgary.ca/a/20200101_06_gill_rgb-04_full-keogram.jpg"),
        product("https://data.phys.ucalgary.ca/b/movie.mp4", kind="movie", sub_type="real-time daily"),
        product("https://evil.example.org/c.jpg"),
    ]
    query = DataProductQuery(start="2020-01-01T00:00:00", end="2020-01-01T23:59:59", programs=["trex"])
    out = write_bundle(products, tmp_path / "bundle.zip", queries=[query])
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert {"manifest.csv", "manifest.json", "download.sh", "download.py", "ACKNOWLEDGEMENTS.md"} <= names
        assert DataProductQuery.from_json(archive.read("queries/query-01.json").decode()) == query
        records = json.loads(archive.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
        acks = archive.read("ACKNOWLEDGEMENTS.md").decode()
    assert sorted(r["url"] for r in records) == sorted(p.url for p in products)
    assert [r["status"] for r in rows][:2] == ["fetch", "fetch"]
    assert rows[2]["status"].startswith("skipped: host 'evil.example.org' is not in the allowed hosts")
    assert "TREX_RGB_HOURLY_KEOGRAM" in acks and "10.11575/4p8e-1k65" in acks
    assert "trex / RGB ASI / movie" in acks  # no dataset known: listed as unknown
    assert [p.url for p in load_manifest(out)] == [r["url"] for r in records]


def test_empty_bundle_and_a_folder_as_output_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no data products"):
        write_bundle([], tmp_path / "b.zip")
    with pytest.raises(BundleError, match="is a folder"):
        write_bundle([product("https://data.phys.ucalgary.ca/x.jpg")], tmp_path)


HOSTILE_NAMES = [
    "a$(touch PWNED1).jpg",
    "b`touch PWNED2`.jpg",
    "c;touch PWNED3;.jpg",
    "d'$(touch PWNED4)'.jpg",
    'e"$(touch PWNED5)".jpg',
    "f with spaces & pipes | touch PWNED6.jpg",
    "g$IFS$(id>PWNED7).jpg",
    "--output=PWNED8",
]


def test_shell_script_treats_hostile_urls_as_data(file_server: FileServer, tmp_path: Path) -> None:
    file_server.fallback = b"content"
    evil = DataSource(9, "$(touch PWNED9)", "../../x", "RGB ASI")
    products = [product(f"{file_server.base}/dir/{name}") for name in HOSTILE_NAMES]
    products.append(product(f"{file_server.base}/dir/ok.jpg", source=evil))
    files = bundle_files(products, policy=policy_for(file_server))
    work = extract(files, tmp_path / "bundle")
    done = subprocess.run(["sh", "download.sh", "out"], cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not [p for p in tmp_path.rglob("PWNED*")], "the script executed record text"
    fetched = files_under(work / "out")
    assert len(fetched) == len(products)
    assert all(not part.startswith(".") and part != ".." for rel in fetched for part in rel.split("/"))
    assert len(file_server.log) == len(products)
    python = subprocess.run(
        [sys.executable, "download.py", "pyout"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert python.returncode == 0, python.stderr
    assert files_under(work / "pyout") == fetched
    assert not [p for p in tmp_path.rglob("PWNED*")]


def test_shell_script_resumes_skips_and_reports_failures(file_server: FileServer, tmp_path: Path) -> None:
    big = payload(200_000)
    products = [
        product(file_server.add("/cut.jpg", big, cut_after=60_000)),
        product(file_server.add("/small.jpg", b"small")),
        product(file_server.base + "/missing.jpg"),
        product(file_server.add("/stale.jpg", b"new content")),
    ]
    work = extract(bundle_files(products, policy=policy_for(file_server)), tmp_path / "bundle")
    (work / "out/trex/gillam/2020-01-01").mkdir(parents=True)
    (work / "out/trex/gillam/2020-01-01/stale.jpg.part").write_bytes(b"an older, longer version")
    env = {"PATH": "/usr/bin:/bin", "PARALLEL": "2", "RETRIES": "2"}
    run = ["sh", "download.sh", "out"]
    first = subprocess.run(run, cwd=work, capture_output=True, text=True, timeout=120, env=env)
    assert first.returncode == 1
    assert "Failed downloads (1)" in first.stderr and "missing.jpg" in first.stderr
    day = work / "out/trex/gillam/2020-01-01"
    assert (day / "cut.jpg").read_bytes() == big  # the cut connection was resumed by curl -C -
    assert ("/cut.jpg", "bytes=60000-") in file_server.log
    assert (day / "small.jpg").read_bytes() == b"small"
    assert not (day / "missing.jpg").exists()
    assert (day / "stale.jpg").read_bytes() == b"new content"  # the server's 416 made it start again
    asked = len(file_server.log)
    second = subprocess.run(
        ["sh", "download.sh", "out"], cwd=work, capture_output=True, text=True, timeout=120, env=env
    )
    assert second.returncode == 1
    assert {path for path, _ in file_server.log[asked:]} == {"/missing.jpg"}  # complete files skipped


def test_python_script_resumes_a_partial_file_and_reports_failures(file_server: FileServer, tmp_path: Path) -> None:
    body = payload(80_000)
    products = [product(file_server.add("/p.jpg", body)), product(file_server.add("/e.jpg", b"x", status=403))]
    work = extract(bundle_files(products, policy=policy_for(file_server)), tmp_path / "bundle")
    day = work / "out/trex/gillam/2020-01-01"
    day.mkdir(parents=True)
    (day / "p.jpg.part").write_bytes(body[:30_000])
    done = subprocess.run(
        [sys.executable, "download.py", "out", "--retries", "1"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "e.jpg\tHTTP 403" in done.stderr
    assert (day / "p.jpg").read_bytes() == body
    assert ("/p.jpg", "bytes=30000-") in file_server.log
