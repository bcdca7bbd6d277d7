"""https: certificates are verified against the host NAME even though the connection is pinned to
the checked address, and a redirect from https down to plain http is refused.

A throw-away certificate for ``archive.test`` and 127.0.0.1 is made with the openssl command.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurorax_core._fetch import FetchError, FetchPolicy, fetch, parse_host_rules

from .servers import OK_JPEG, ImageServer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=archive.test",
            "-addext", "subjectAltName=DNS:archive.test",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[ImageServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    srv = ImageServer(tls=context)
    try:
        yield srv
    finally:
        srv.close()


def _trusting(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    return context


def _to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_the_certificate_is_checked_against_the_name_while_connecting_to_the_pinned_address(
    https_server: ImageServer, certificate: tuple[Path, Path]
) -> None:
    policy = FetchPolicy(
        allowed_hosts=parse_host_rules([f"archive.test:{https_server.port}"]),
        allow_private_addresses=True,
        resolver=_to_loopback,
        ssl_context=_trusting(certificate[0]),
    )
    result = fetch(f"https://archive.test:{https_server.port}/ok.jpg", policy, accept=("image/*",))

    assert result.data == OK_JPEG


def test_an_untrusted_certificate_is_a_reason(https_server: ImageServer) -> None:
    policy = FetchPolicy(
        allowed_hosts=parse_host_rules([f"archive.test:{https_server.port}"]),
        allow_private_addresses=True,
        resolver=_to_loopback,
    )  # the system's trust store: the test certificate is self-signed
    with pytest.raises(FetchError) as caught:
        fetch(f"https://archive.test:{https_server.port}/ok.jpg", policy, accept=("image/*",))
    assert caught.value.reason.startswith("the TLS certificate of 'archive.test' is not valid (")
    assert https_server.hits() == 0


def test_a_certificate_for_another_name_is_refused(https_server: ImageServer, certificate: tuple[Path, Path]) -> None:
    policy = FetchPolicy(
        allowed_hosts=parse_host_rules([https_server.host]), ssl_context=_trusting(certificate[0])
    )  # the certificate names archive.test, not 127.0.0.1
    with pytest.raises(FetchError) as caught:
        fetch(https_server.url("/ok.jpg"), policy, accept=("image/*",))
    assert caught.value.reason.startswith("the TLS certificate of '127.0.0.1' is not valid (")
    assert "mismatch" in caught.value.reason


def test_a_redirect_from_https_to_http_is_refused(
    https_server: ImageServer, other_server: ImageServer, certificate: tuple[Path, Path]
) -> None:
    policy = FetchPolicy(
        allowed_hosts=parse_host_rules([f"archive.test:{https_server.port}", other_server.host]),
        allow_private_addresses=True,
        resolver=_to_loopback,
        ssl_context=_trusting(certificate[0]),
    )
    with pytest.raises(FetchError) as caught:
        fetch(
            f"https://archive.test:{https_server.port}/redirect-to?{other_server.url('/ok.jpg')}",
            policy,
            accept=("image/*",),
        )
    assert caught.value.reason == "the server redirected from https to plain http; refused"
    assert other_server.hits() == 0
