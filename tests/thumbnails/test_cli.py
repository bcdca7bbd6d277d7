"""``aurorax-core thumbnails prefetch|info|clear`` end to end, in a subprocess, on a real catalog."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aurorax_core.backends.catalog import CatalogBackend
from aurorax_core.cli import main

from .servers import ImageServer

DEMO_QUERY = {
    "start": "2020-01-01T01:00:00",
    "end": "2020-01-01T02:59:59",
    "data_sources": {"programs": ["trex"]},
    "data_product_type_filters": ["keogram"],
}
HTTP_QUERY = {
    "start": "2021-06-01T00:00:00",
    "end": "2021-06-01T23:59:59",
    "data_sources": {"programs": ["local-test"]},
}


def _run(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AURORAX_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "aurorax_core", *args], capture_output=True, text=True, timeout=120, env=env
    )


def _write_query(tmp_path: Path, query: dict) -> Path:
    path = tmp_path / "query.json"
    path.write_text(json.dumps(query))
    return path


def test_prefetch_warms_the_cache_for_a_demo_query(demo_catalog_path: Path, tmp_path: Path) -> None:
    query = _write_query(tmp_path, DEMO_QUERY)
    cache = tmp_path / "cache"

    first = _run("--catalog", str(demo_catalog_path), "thumbnails", "prefetch", str(query), "--cache-dir", str(cache))

    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Prefetched thumbnails for ") and f"into {cache} in " in lines[0]
    count = int(lines[0].split(" for ")[1].split()[0])
    assert count > 0
    assert lines[1] == f"  {count} ok ({count} synthetic (demo))"
    assert "100%" in first.stderr and f"{count}/{count}" in first.stderr  # the progress bar ran to the end
    assert len(list(cache.rglob("*.axc"))) == count

    second = _run(
        "--catalog", str(demo_catalog_path), "thumbnails", "prefetch", str(query), "--cache-dir", str(cache),
        "--kind", "both", "--workers", "2", "--no-progress",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[1] == f"  {2 * count} ok ({count} already cached, {2 * count} synthetic (demo))"
    assert second.stderr == ""

    info = _run("thumbnails", "info", "--cache-dir", str(cache))
    assert info.returncode == 0 and f"Entries:       {2 * count}" in info.stdout
    cleared = _run("thumbnails", "clear", "--cache-dir", str(cache))
    assert cleared.returncode == 0 and cleared.stdout == f"Removed {2 * count} cached entries from {cache}.\n"
    assert not list(cache.rglob("*.axc"))


def test_prefetch_reports_failures_grouped_by_reason(
    demo_catalog_path: Path, tmp_path: Path, server: ImageServer
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    shutil.copy(demo_catalog_path, catalog)
    source = {"program": "local-test", "platform": "loopback", "instrument_type": "camera"}
    urls = [
        server.url("/ok.jpg"),
        server.url("/img/3.jpg"),
        server.url("/missing.jpg"),
        server.url("/missing.jpg?again"),
        "https://evil.example/keogram.jpg",
    ]
    records = [
        {
            "data_source": source,
            "data_product_type": "keogram",
            "start": f"2021-06-01T0{i}:00:00",
            "end": f"2021-06-01T0{i}:59:00",
            "url": url,
            "metadata": {"keogram_type": "hourly"},
        }
        for i, url in enumerate(urls)
    ]
    with CatalogBackend(catalog) as backend:
        backend.ingest_products(records)
    query = _write_query(tmp_path, HTTP_QUERY)

    done = _run(
        "--catalog", str(catalog), "thumbnails", "prefetch", str(query),
        "--cache-dir", str(tmp_path / "cache"), "--allow-host", server.host, "--no-progress",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "  2 ok",
        "  3 failed:",
        f"    2 × the server answered 404 Not Found (e.g. {urls[2]})",
        "    1 × host 'evil.example' is not in the allowed hosts (data.phys.ucalgary.ca, data.swarm-aurora.com, "
        f"{server.host}); add it with AURORAX_ALLOWED_HOSTS (e.g. {urls[4]})",
    ]
    assert server.hits("/ok.jpg") == 1 and server.hits("/missing.jpg") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["thumbnails", "prefetch", "{tmp}/nope.json"], "Error: query file '{tmp}/nope.json' does not exist"),
        (["thumbnails", "prefetch", "{query}", "--workers", "0"], "Error: --workers must be between 1 and 32, got 0"),
        (["thumbnails", "prefetch", "{query}", "--workers", "many"], "Error: --workers must be a whole number"),
        (["thumbnails", "prefetch", "{query}", "--kind", "poster"], "Error: --kind must be thumbnail, preview or both"),
        (
            ["thumbnails", "prefetch", "{query}", "--allow-host", "bad:host"],
            "Error: --allow-host: allowed host 'bad:host': port 'host' is not a number",
        ),
        (["thumbnails", "prefetch", "{query}", "--cache-dir", "{tmp}/file"], "Error: cannot use '{tmp}/file/cache'"),
        (["--catalog", "{tmp}/missing.sqlite", "thumbnails", "prefetch", "{query}"], "Error: catalog '{tmp}/missing"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str, demo_catalog_path: Path
) -> None:
    query = _write_query(tmp_path, DEMO_QUERY)
    (tmp_path / "file").write_text("not a folder")
    filled = [a.format(tmp=tmp_path, query=query) for a in args]
    if "--catalog" not in filled:
        filled = ["--catalog", str(demo_catalog_path), *filled]
    if "--cache-dir" not in filled:
        filled += ["--cache-dir", str(tmp_path / "cache")]
    else:
        filled[filled.index("--cache-dir") + 1] += "/cache"

    code = main(filled)

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(message.format(tmp=tmp_path)), err
    assert err.count("\n") == 1 and "Traceback" not in err
