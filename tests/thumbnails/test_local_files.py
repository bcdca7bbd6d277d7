"""file: URLs and plain paths: read only below the configured folders, never elsewhere."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from aurorax_core import ThumbnailService

from .conftest import product
from .servers import OK_JPEG, TRUNCATED_JPEG


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    (root / "2020").mkdir(parents=True)
    (root / "2020" / "keogram.jpg").write_bytes(OK_JPEG)
    (root / "2020" / "broken.jpg").write_bytes(TRUNCATED_JPEG)
    (tmp_path / "secret.jpg").write_bytes(OK_JPEG)
    return root


def test_files_below_a_local_root_are_read(make_service: Callable[..., ThumbnailService], archive: Path) -> None:
    service = make_service(local_roots=[archive])
    path = archive / "2020" / "keogram.jpg"

    for url in (path.as_uri(), str(path), f"file://localhost{path}"):
        result = service.preview(product(url))
        assert result.ok and result.source == "file" and result.data == OK_JPEG, url
    thumb = service.thumbnail(product(str(path)))
    assert thumb.ok and thumb.width == 240


def test_local_files_are_refused_when_no_folder_is_configured(
    make_service: Callable[..., ThumbnailService], archive: Path
) -> None:
    result = make_service().preview(product((archive / "2020" / "keogram.jpg").as_uri()))

    assert not result.ok
    assert result.reason == (
        "local files are not read unless their folder is allowed: pass local_roots=[...] or set AURORAX_LOCAL_ROOTS"
    )


@pytest.mark.parametrize(
    "make_url",
    [
        lambda root: str(root / ".." / "secret.jpg"),  # path traversal
        lambda root: (root.parent / "secret.jpg").as_uri(),
        lambda root: "file:///etc/passwd",
        lambda root: str(root) + "-sibling/x.jpg",  # a prefix of the root is not the root
    ],
)
def test_files_outside_the_roots_are_refused(
    make_service: Callable[..., ThumbnailService], archive: Path, make_url: Callable[[Path], str]
) -> None:
    result = make_service(local_roots=[archive]).preview(product(make_url(archive)))

    assert not result.ok
    assert result.reason is not None and "is outside the allowed folders" in result.reason


def test_a_symlink_out_of_the_root_is_refused(make_service: Callable[..., ThumbnailService], archive: Path) -> None:
    link = archive / "2020" / "link.jpg"
    os.symlink(archive.parent / "secret.jpg", link)

    result = make_service(local_roots=[archive]).preview(product(str(link)))
    assert "is outside the allowed folders" in (result.reason or "")


def test_local_faults_are_reasons(make_service: Callable[..., ThumbnailService], archive: Path) -> None:
    service = make_service(local_roots=[archive, "/dev"], max_download_bytes=10_000)

    assert service.preview(product(str(archive / "2020" / "broken.jpg"))).reason == "the file is larger than 10 kB"
    roomy = make_service(local_roots=[archive, "/dev"])
    assert roomy.preview(product(str(archive / "2020" / "broken.jpg"))).reason == "the image is truncated or corrupt"
    assert roomy.preview(product(str(archive / "2020" / "missing.jpg"))).reason.endswith("does not exist")
    assert roomy.preview(product("/dev/zero")).reason == "'/dev/zero' is not a regular file"
    assert roomy.preview(product(str(archive / "2020"))).reason is not None
    assert roomy.preview(product("file://otherhost/x.jpg")).reason == (
        "file URLs on another host ('otherhost') are not read"
    )


def test_local_roots_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_service: Callable[..., ThumbnailService], archive: Path
) -> None:
    monkeypatch.setenv("AURORAX_LOCAL_ROOTS", str(archive))
    assert make_service().preview(product(str(archive / "2020" / "keogram.jpg"))).ok
