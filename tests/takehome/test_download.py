"""The downloader against a real file server on 127.0.0.1: tidy tree, resume, skip, every fault."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aurorax_core.bundle import BundleError, load_manifest
from aurorax_core.download import Downloader, DownloadError
from aurorax_core.models import DataSource

from .helpers import files_under, payload, product
from .servers import FileServer


def downloader(server: FileServer, dest: Path, **options: object) -> Downloader:
    options.setdefault("backoff", 0.01)
    return Downloader(dest, allowed_hosts=[server.host], **options)  # type: ignore[arg-type]


def test_files_land_in_a_tidy_tree_with_citations_and_a_second_run_skips_them(
    file_server: FileServer, tmp_path: Path
) -> None:
    bodies = {f"/data/2020/01/01/f{i}.jpg": payload(5000 + i, i) for i in range(5)}
    products = [product(file_server.add(path, body)) for path, body in bodies.items()]
    products.append(
        product(
            file_server.add("/rego/x.png", b"png" * 10, content_type="image/png"),
            source=DataSource(84, "rego", "fort smith", "redline ASI"),
            start=datetime(2020, 2, 3, 4, tzinfo=UTC),
        )
    )
    dest = tmp_path / "dest"
    report = downloader(file_server, dest, parallel=3).run(products)
    assert report.ok, report.summary()
    assert report.count("downloaded") == 6
    got = files_under(dest)
    for path, body in bodies.items():
        name = path.rsplit("/", 1)[1]
        assert (dest / "trex/gillam/2020-01-01" / name).read_bytes() == body
    assert "rego/fort_smith/2020-02-03/x.png" in got
    assert {"ACKNOWLEDGEMENTS.md", "manifest.csv"} <= got
    assert "TREX_RGB_HOURLY_KEOGRAM" in (dest / "ACKNOWLEDGEMENTS.md").read_text()
    requests_before = len(file_server.log)
    again = downloader(file_server, dest).run(products)
    assert again.count("skipped") == 6 and again.ok
    assert len(file_server.log) == requests_before  # complete files are not asked for again


def test_host_outside_the_allowlist_is_refused_and_said_so(file_server: FileServer, tmp_path: Path) -> None:
    url = file_server.add("/a.jpg", b"abc")
    report = Downloader(tmp_path / "d").run([product(url)])  # default allowlist only
    assert not report.ok
    assert "not in the allowed hosts" in (report.failed[0].reason or "")
    assert file_server.log == []  # refused before any connection


def test_http_errors_slow_server_and_wrong_content_type_are_failures_with_reasons(
    file_server: FileServer, tmp_path: Path
) -> None:
    missing = product(file_server.base + "/missing.jpg")
    broken = product(file_server.add("/broken.jpg", b"x", status=500))
    slow = product(file_server.add("/slow.jpg", b"x" * 10, delay=1.5))
    html = product(file_server.add("/login.jpg", b"<html>log in</html>", content_type="text/html"))
    good = product(file_server.add("/good.jpg", b"fine"))
    report = downloader(file_server, tmp_path / "d", retries=2, read_timeout=0.5).run(
        [missing, broken, slow, html, good]
    )
    reasons = {o.url.rsplit("/", 1)[1]: o.reason or "" for o in report.failed}
    assert set(reasons) == {"missing.jpg", "broken.jpg", "slow.jpg", "login.jpg"}
    assert "404" in reasons["missing.jpg"]
    assert "500" in reasons["broken.jpg"] and "after 2 attempts" in reasons["broken.jpg"]
    assert "too slow" in reasons["slow.jpg"]
    assert "text/html" in reasons["login.jpg"]
    assert file_server.routes["/broken.jpg"].hits == 2  # 5xx retried
    assert sum(1 for path, _ in file_server.log if path == "/missing.jpg") == 1  # 404 not retried
    assert (tmp_path / "d/trex/gillam/2020-01-01/good.jpg").read_bytes() == b"fine"
    assert not list((tmp_path / "d").rglob("login.jpg*"))  # the HTML page was not kept as data


def test_a_cut_connection_is_resumed_with_a_range_request(file_server: FileServer, tmp_path: Path) -> None:
    body = payload(300_000)
    url = file_server.add("/big.jpg", body, cut_after=100_000)
    report = downloader(file_server, tmp_path / "d").run([product(url)])
    assert report.ok, report.summary()
    assert (tmp_path / "d/trex/gillam/2020-01-01/big.jpg").read_bytes() == body
    assert file_server.log[1] == ("/big.jpg", "bytes=100000-")


def test_a_partial_file_from_an_earlier_run_is_resumed(file_server: FileServer, tmp_path: Path) -> None:
    body = payload(50_000)
    url = file_server.add("/p.jpg", body)
    folder = tmp_path / "d/trex/gillam/2020-01-01"
    folder.mkdir(parents=True)
    (folder / "p.jpg.part").write_bytes(body[:20_000])
    report = downloader(file_server, tmp_path / "d").run([product(url)])
    assert report.outcomes[0].status == "resumed" and report.outcomes[0].bytes == 30_000
    assert (folder / "p.jpg").read_bytes() == body
    assert file_server.log == [("/p.jpg", "bytes=20000-")]


def test_a_file_that_changes_size_mid_download_is_restarted_not_spliced(
    file_server: FileServer, tmp_path: Path
) -> None:
    old, new = payload(40_000, 1), payload(60_000, 2)
    url = file_server.add("/changing.jpg", lambda hit: old if hit == 1 else new, cut_after=10_000)
    report = downloader(file_server, tmp_path / "d").run([product(url)])
    assert report.ok, report.summary()
    assert (tmp_path / "d/trex/gillam/2020-01-01/changing.jpg").read_bytes() == new


def test_a_server_that_ignores_ranges_makes_the_download_start_again(file_server: FileServer, tmp_path: Path) -> None:
    body = payload(30_000)
    url = file_server.add("/norange.jpg", body, ranges=False, cut_after=5_000)
    report = downloader(file_server, tmp_path / "d").run([product(url)])
    assert report.ok
    assert (tmp_path / "d/trex/gillam/2020-01-01/norange.jpg").read_bytes() == body


def test_no_record_can_write_outside_the_destination(file_server: FileServer, tmp_path: Path) -> None:
    file_server.fallback = b"data"
    evil_source = DataSource(9, "../../..", "/etc", "RGB ASI")
    products = [
        product(file_server.base + "/x/..%2F..%2F..%2Fescape1.jpg"),
        product(file_server.base + "/x/.hidden", source=evil_source),
        product(file_server.base + "/x/%2e%2e", source=evil_source),
        product(file_server.base + "/x/a%00b.jpg"),
        product(file_server.base + "/x/..\\..\\win.jpg"),
    ]
    dest = tmp_path / "inner" / "dest"
    report = downloader(file_server, dest).run(products)
    assert report.ok, report.summary()
    assert {p.name for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents} == set()
    for rel in files_under(dest):
        assert ".." not in rel.split("/") and not rel.startswith("/")
        assert all(not part.startswith(".") for part in rel.split("/"))


def test_synthetic_demo_records_get_their_rendered_preview_labelled(file_server: FileServer, tmp_path: Path) -> None:
    demo = product(
        "https://data.phys.ucalgary.ca/sort_by_project/TREx/RGB/stream2/2020/01/01/gill_rgb-04/ut06/"
        "20200101_06_gill_rgb-04_full-keogram.jpg",
        synthetic=True,
    )
    report = downloader(file_server, tmp_path / "d").run([demo])
    assert report.outcomes[0].status == "synthetic", report.summary()
    previews = list((tmp_path / "d").rglob("*SYNTHETIC-preview*"))
    assert len(previews) == 1 and previews[0].read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert "SYNTHETIC" in (tmp_path / "d/ACKNOWLEDGEMENTS.md").read_text()
    assert file_server.log == []


def test_a_destination_that_is_a_file_or_read_only_is_a_clear_error(
    file_server: FileServer, tmp_path: Path, tmpfs: TmpFs
) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DownloadError, match="is a file"):
        downloader(file_server, tmp_path / "afile").run([product(file_server.add("/a.jpg", b"a"))])
    readonly = tmpfs.mount(options="ro,size=64k")
    with pytest.raises(DownloadError, match="not writable"):
        downloader(file_server, readonly).run([product(file_server.base + "/a.jpg")])


def test_a_full_disk_stops_cleanly_keeps_the_partial_file_and_resumes_later(
    file_server: FileServer, tmpfs: TmpFs
) -> None:
    body = payload(400_000)
    dest = tmpfs.mount(options="size=256k")
    products = [product(file_server.add("/big.jpg", body)), product(file_server.add("/later.jpg", b"l" * 10))]
    report = downloader(file_server, dest, parallel=1).run(products)
    assert not report.ok
    assert "disk is full" in (report.failed[0].reason or "")
    part = dest / "trex/gillam/2020-01-01/big.jpg.part"
    kept = part.stat().st_size
    assert 0 < kept < len(body)
    assert report.outcomes[1].status == "not started"
    tmpfs.remount(dest, "size=2m")
    again = downloader(file_server, dest, parallel=1).run(products)
    assert again.ok, again.summary()
    assert (dest / "trex/gillam/2020-01-01/big.jpg").read_bytes() == body
    assert ("/big.jpg", f"bytes={kept}-") in file_server.log


def test_a_manifest_that_is_not_one_is_refused(tmp_path: Path) -> None:
    cases = {
        "text.json": "hello there",
        "dict.json": json.dumps({"a": 1}),
        "bad.csv": "name,value\nx,1\n",
        "record.json": json.dumps([{"url": "https://x/y.jpg"}]),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(BundleError, match="not a manifest"):
            load_manifest(tmp_path / name)
    with pytest.raises(BundleError, match="does not exist"):
        load_manifest(tmp_path / "nope.json")


def test_cli_download_from_manifest_reports_failures_and_exits_non_zero(
    file_server: FileServer, tmp_path: Path
) -> None:
    good = product(file_server.add("/ok.jpg", b"ok"))
    gone = product(file_server.base + "/gone.jpg")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([good.to_api_dict(), gone.to_api_dict()]))
    cmd = [sys.executable, "-m", "aurorax_core", "data_products", "download", "--from-manifest", str(manifest)]
    cmd += ["--dest", str(tmp_path / "out"), "--allowed-host", file_server.host, "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "1 downloaded" in done.stdout and "FAILED trex/gillam/2020-01-01/gone.jpg" in done.stdout
    assert "404" in done.stdout and "Traceback" not in done.stderr
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes")
    cmd[cmd.index(str(manifest))] = str(bad)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "is not a manifest" in done.stderr and "Traceback" not in done.stderr


class TmpFs:
    """Tiny tmpfs mounts (the sandbox runs as root), unmounted at the end of the test."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[Path] = []

    def mount(self, *, options: str) -> Path:
        point = self.base / f"mnt{len(self.mounted)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True)
        self.mounted.append(point)
        return point

    def remount(self, point: Path, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)

    def close(self) -> None:
        for point in reversed(self.mounted):
            subprocess.run(["umount", str(point)], check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[TmpFs]:
    mounts = TmpFs(tmp_path)
    yield mounts
    mounts.close()


def test_redirects_are_followed_only_to_allowed_hosts(file_server: FileServer, tmp_path: Path) -> None:
    file_server.add("/real.jpg", b"real")
    moved = product(file_server.add("/moved.jpg", b"", redirect="/real.jpg"))
    away = product(file_server.add("/away.jpg", b"", redirect="http://169.254.169.254/latest/meta-data.jpg"))
    report = downloader(file_server, tmp_path / "d").run([moved, away])
    assert (tmp_path / "d/trex/gillam/2020-01-01/moved.jpg").read_bytes() == b"real"
    assert [o.url.rsplit("/", 1)[1] for o in report.failed] == ["away.jpg"]
    assert "redirected to a URL that is not allowed" in (report.failed[0].reason or "")


def test_cli_bundle_and_download_from_a_query_on_the_demo_catalog(tmp_path: Path) -> None:
    from datetime import date

    from aurorax_core.demo import build_demo_archive

    catalog = tmp_path / "demo.sqlite"
    build_demo_archive(catalog, date(2020, 1, 1), date(2020, 1, 1))
    query = tmp_path / "q.json"
    query.write_text(
        json.dumps(
            {
                "start": "2020-01-01T00:00:00",
                "end": "2020-01-01T23:59:59",
                "data_sources": {"programs": ["trex"], "platforms": ["gillam"], "instrument_types": ["RGB ASI"]},
                "data_product_type_filters": ["keogram"],
            }
        )
    )
    base = [sys.executable, "-m", "aurorax_core", "--catalog", str(catalog), "data_products"]
    bundle = subprocess.run(
        [*base, "bundle", str(query), "--out", str(tmp_path / "b.zip")], capture_output=True, text=True, timeout=120
    )
    assert bundle.returncode == 0, bundle.stderr
    products = load_manifest(tmp_path / "b.zip")
    assert products and all(p.is_synthetic and p.data_source.platform == "gillam" for p in products)
    dest = tmp_path / "out"
    done = subprocess.run(
        [*base, "download", str(query), "--dest", str(dest), "--quiet"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    previews = [p for p in files_under(dest) if "SYNTHETIC-preview" in p]
    assert len(previews) == len(products)
    assert all(p.startswith("trex/gillam/2020-01-01/") for p in previews)
    assert f"{len(products)} synthetic previews" in done.stdout


def test_a_file_changed_on_the_server_since_an_earlier_run_is_not_spliced(
    file_server: FileServer, tmp_path: Path
) -> None:
    old, new = payload(50_000, 1), payload(50_000, 2)  # same size, other content
    url = file_server.add("/v.jpg", old, etag='"v1"', cut_after=20_000)
    first = downloader(file_server, tmp_path / "d", retries=1).run([product(url)])
    assert not first.ok  # cut, retries exhausted: the .part stays for a later run
    assert (tmp_path / "d/trex/gillam/2020-01-01/v.jpg.part").stat().st_size == 20_000
    route = file_server.routes["/v.jpg"]
    route.body, route.etag, route.cut_after = new, '"v2"', None
    second = downloader(file_server, tmp_path / "d").run([product(url)])
    assert second.ok, second.summary()
    assert (tmp_path / "d/trex/gillam/2020-01-01/v.jpg").read_bytes() == new
    assert not list((tmp_path / "d").rglob("*.part*"))


def test_a_server_that_drips_too_slowly_is_cut_off_and_the_part_kept(file_server: FileServer, tmp_path: Path) -> None:
    body = payload(60_000)
    url = file_server.add("/drip.jpg", body, drip=0.02)  # about 50 kB/s
    slow = downloader(file_server, tmp_path / "d", retries=1, min_rate=500_000, stall_window=0.3)
    report = slow.run([product(url)])
    assert "too slow" in (report.failed[0].reason or "")
    part = tmp_path / "d/trex/gillam/2020-01-01/drip.jpg.part"
    assert 0 < part.stat().st_size < len(body)
    patient = downloader(file_server, tmp_path / "d")
    assert patient.run([product(url)]).outcomes[0].status == "resumed"
    assert (tmp_path / "d/trex/gillam/2020-01-01/drip.jpg").read_bytes() == body


def test_citations_cover_every_run_into_the_same_folder(file_server: FileServer, tmp_path: Path) -> None:
    rego = DataSource(84, "rego", "fort smith", "redline ASI")
    first = product(file_server.add("/t.jpg", b"t"), sub_type="daily")
    second = product(file_server.add("/r.jpg", b"r"), source=rego, sub_type="daily")
    downloader(file_server, tmp_path / "d").run([first])
    downloader(file_server, tmp_path / "d").run([second])
    acks = (tmp_path / "d/ACKNOWLEDGEMENTS.md").read_text()
    assert "TREX_RGB_DAILY_KEOGRAM" in acks and "REGO_DAILY_KEOGRAM_JPG" in acks
    assert {p.url for p in load_manifest(tmp_path / "d/manifest.json")} == {first.url, second.url}


def test_two_urls_with_the_same_local_name_in_two_runs_do_not_collide(file_server: FileServer, tmp_path: Path) -> None:
    one = product(file_server.add("/a/k.jpg", b"first"))
    two = product(file_server.add("/b/k.jpg", b"second"))
    downloader(file_server, tmp_path / "d").run([one])
    report = downloader(file_server, tmp_path / "d").run([two])
    assert report.outcomes[0].status == "downloaded"
    day = tmp_path / "d/trex/gillam/2020-01-01"
    assert (day / "k.jpg").read_bytes() == b"first"
    assert sorted(p.read_bytes() for p in day.glob("k*.jpg")) == [b"first", b"second"]
