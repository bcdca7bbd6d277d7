"""Where previews may be fetched from: the allowlist, private addresses, DNS rebinding.

Refusals must happen before any connection: the tests prove it with request counts on real
127.0.0.1 servers and with a resolver that records every lookup. No test connects to a private
range; only servers the tests start on 127.0.0.1 are ever contacted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from aurorax_core import DEFAULT_ALLOWED_HOSTS, ThumbnailService
from aurorax_core._fetch import FetchError, FetchPolicy, address_problem, fetch, parse_host_rules
from aurorax_core.thumbnails import ThumbnailConfigError

from .conftest import product
from .servers import OK_JPEG, ImageServer

DEFAULT_LIST = "data.phys.ucalgary.ca, data.swarm-aurora.com"


class RecordingResolver:
    """Answers every lookup with fixed addresses and remembers what was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.addresses


def test_the_default_allowlist_is_the_two_archive_hosts(tmp_path) -> None:
    service = ThumbnailService(tmp_path)
    assert DEFAULT_ALLOWED_HOSTS == ("data.phys.ucalgary.ca", "data.swarm-aurora.com")
    assert service.allowed_hosts == DEFAULT_ALLOWED_HOSTS


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "https://evil.example/keogram.jpg",
            f"host 'evil.example' is not in the allowed hosts ({DEFAULT_LIST}); add it with AURORAX_ALLOWED_HOSTS",
        ),
        (
            "http://localhost:{port}/ok.jpg",
            f"host 'localhost' is not in the allowed hosts ({DEFAULT_LIST}); add it with AURORAX_ALLOWED_HOSTS",
        ),
        (
            "http://127.0.0.1:{port}/ok.jpg",
            f"host '127.0.0.1' is not in the allowed hosts ({DEFAULT_LIST}); add it with AURORAX_ALLOWED_HOSTS",
        ),
        (
            "http://10.1.2.3/x.jpg",
            f"host '10.1.2.3' is not in the allowed hosts ({DEFAULT_LIST}); add it with AURORAX_ALLOWED_HOSTS",
        ),
        (
            "http://192.168.0.1/x.jpg",
            f"host '192.168.0.1' is not in the allowed hosts ({DEFAULT_LIST}); add it with AURORAX_ALLOWED_HOSTS",
        ),
        (
            "http://[::1]:{port}/x.jpg",
            f"host '::1' is not in the allowed hosts ({DEFAULT_LIST}); add it with AURORAX_ALLOWED_HOSTS",
        ),
        (
            "http://data.phys.ucalgary.ca.evil.example/x.jpg",
            "host 'data.phys.ucalgary.ca.evil.example' is not in the allowed hosts",
        ),
        (
            "http://data.phys.ucalgary.ca@127.0.0.1:{port}/ok.jpg",
            "URLs carrying a user name or password are not fetched",
        ),
        ("ftp://data.phys.ucalgary.ca/x.jpg", "only http and https URLs are fetched, this one has 'ftp:'"),
        ("gopher://127.0.0.1:{port}/", "only http and https URLs are fetched, this one has 'gopher:'"),
        (
            "https://data.phys.ucalgary.ca:8443/x.jpg",
            "port 8443 of host 'data.phys.ucalgary.ca' is not allowed",
        ),
        ("http://data.phys.ucalgary.ca:99999/x.jpg", "the URL is malformed"),
        ("http://data.phys.ucalgary.ca/a\r\nHost: evil/x.jpg", "the URL contains control characters"),
    ],
)
def test_urls_outside_the_allowlist_are_refused_before_any_connection(
    tmp_path, server: ImageServer, url: str, reason: str
) -> None:
    service = ThumbnailService(tmp_path)  # the defaults: nothing local is allowed
    result = service.thumbnail(product(url.format(port=server.port)))

    assert not result.ok
    assert result.reason is not None and result.reason.startswith(reason), result.reason
    assert server.hits() == 0


def test_policy_refusals_do_not_even_resolve_the_name() -> None:
    resolver = RecordingResolver("127.0.0.1")
    policy = FetchPolicy(resolver=resolver)
    for url in ("http://10.0.0.1/x.jpg", "http://192.168.1.1/x.jpg", "http://localhost/x.jpg", "http://evil.example/"):
        with pytest.raises(FetchError) as caught:
            fetch(url, policy, accept=("image/*",))
        assert caught.value.refused
    assert resolver.asked == []


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private-network address"),
        ("192.168.1.20", "a private-network address"),
        ("172.16.5.4", "a private-network address"),
        ("169.254.169.254", "a link-local address"),  # the cloud metadata service
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped IPv6
        ("fe80::1", "a link-local address"),
        ("fd00::1", "a private-network address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "a reserved address"),  # carrier-grade NAT
    ],
)
def test_a_public_name_resolving_to_a_private_address_is_refused(
    server: ImageServer, address: str, problem: str
) -> None:
    """DNS rebinding: the allowed name answers with an internal address; nothing is connected."""
    resolver = RecordingResolver(address)
    policy = FetchPolicy(allowed_hosts=parse_host_rules(["data.phys.ucalgary.ca:*"]), resolver=resolver)
    with pytest.raises(FetchError) as caught:
        fetch(f"http://data.phys.ucalgary.ca:{server.port}/ok.jpg", policy, accept=("image/*",))

    assert caught.value.refused
    assert caught.value.reason.startswith(f"host 'data.phys.ucalgary.ca' resolves to {address}, {problem};")
    assert "AURORAX_ALLOWED_HOSTS" in caught.value.reason
    assert resolver.asked == [("data.phys.ucalgary.ca", server.port)]
    assert server.hits() == 0


def test_one_private_address_among_public_ones_is_enough_to_refuse(server: ImageServer) -> None:
    policy = FetchPolicy(
        allowed_hosts=parse_host_rules(["data.phys.ucalgary.ca:*"]),
        resolver=RecordingResolver("8.8.8.8", "127.0.0.1"),
    )
    with pytest.raises(FetchError, match=r"resolves to 127\.0\.0\.1"):
        fetch(f"http://data.phys.ucalgary.ca:{server.port}/ok.jpg", policy, accept=("image/*",))


def test_public_addresses_pass_the_address_check() -> None:
    for address in ("8.8.8.8", "136.159.0.1", "2001:4860:4860::8888"):
        assert address_problem(address) is None


def test_the_connection_goes_to_the_checked_address_with_the_name_in_the_host_header(
    server: ImageServer,
) -> None:
    """The name is resolved once, checked, and that very address is connected to (no second lookup)."""
    resolver = RecordingResolver("127.0.0.1")
    policy = FetchPolicy(
        allowed_hosts=parse_host_rules([f"archive.test:{server.port}"]),
        allow_private_addresses=True,  # this test's 'archive' lives on 127.0.0.1
        resolver=resolver,
    )
    result = fetch(f"http://archive.test:{server.port}/ok.jpg", policy, accept=("image/*",))

    assert result.data == OK_JPEG and result.content_type == "image/jpeg"
    assert resolver.asked == [("archive.test", server.port)]
    assert server.hits("/ok.jpg") == 1


def test_listing_localhost_or_the_loopback_address_allows_it_explicitly(
    make_service: Callable[..., ThumbnailService], server: ImageServer
) -> None:
    by_name = make_service(f"localhost:{server.port}")
    by_address = make_service(f"127.0.0.1:{server.port}")

    assert by_name.preview(product(f"http://localhost:{server.port}/ok.jpg")).ok
    assert by_address.preview(product(server.url("/ok.jpg"))).ok
    # listing a port allows that port only
    assert by_address.preview(product(f"http://127.0.0.1:{server.port + 1}/ok.jpg")).reason.startswith(
        f"port {server.port + 1} of host '127.0.0.1' is not allowed"
    )


def test_hosts_from_the_environment_are_added(monkeypatch: pytest.MonkeyPatch, tmp_path, server: ImageServer) -> None:
    monkeypatch.setenv("AURORAX_ALLOWED_HOSTS", f" example.org , {server.host},https://Data.Example.NET/path")
    service = ThumbnailService(tmp_path, read_timeout=1, total_timeout=2)

    assert service.allowed_hosts == (*DEFAULT_ALLOWED_HOSTS, "example.org", server.host, "data.example.net")
    assert service.preview(product(server.url("/ok.jpg"))).ok


@pytest.mark.parametrize("entry", ["host:notaport", "host:0", "[::1", "user@host", "exa mple.org:80:90"])
def test_a_malformed_allowlist_entry_is_a_clear_configuration_error(tmp_path, entry: str) -> None:
    with pytest.raises(ThumbnailConfigError, match="allowed"):
        ThumbnailService(tmp_path, allowed_hosts=[entry])


def test_a_bad_environment_entry_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AURORAX_ALLOWED_HOSTS", "ok.example,bad:port")
    with pytest.raises(ThumbnailConfigError, match="AURORAX_ALLOWED_HOSTS"):
        ThumbnailService(tmp_path)


@pytest.mark.parametrize("option", ["connect_timeout", "read_timeout", "total_timeout", "max_download_bytes"])
def test_non_positive_limits_are_refused(tmp_path, option: str) -> None:
    with pytest.raises(ThumbnailConfigError, match=option):
        ThumbnailService(tmp_path, **{option: 0})


def test_spaces_in_a_path_are_quoted_not_sent_raw() -> None:
    from aurorax_core._fetch import validate_url

    policy = FetchPolicy(allowed_hosts=parse_host_rules(["data.phys.ucalgary.ca"]))
    assert validate_url("https://data.phys.ucalgary.ca/a b.jpg?x=1 2", policy)[3] == "/a%20b.jpg?x=1%202"


def test_a_name_that_does_not_resolve_is_a_reason(server: ImageServer) -> None:
    def failing(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    policy = FetchPolicy(allowed_hosts=parse_host_rules(["archive.invalid"]), resolver=failing)
    with pytest.raises(FetchError) as caught:
        fetch("https://archive.invalid/x.jpg", policy, accept=("image/*",))
    assert caught.value.reason == "cannot resolve host 'archive.invalid' ([Errno -2] Name or service not known)"


def test_a_hanging_name_lookup_is_bounded_by_the_connect_timeout() -> None:
    release = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(10)
        return ["8.8.8.8"]

    policy = FetchPolicy(allowed_hosts=parse_host_rules(["archive.test"]), resolver=hanging, connect_timeout=0.3)
    try:
        with pytest.raises(FetchError) as caught:
            fetch("https://archive.test/x.jpg", policy, accept=("image/*",))
        assert caught.value.reason == "cannot resolve host 'archive.test' within 0.3 s"
    finally:
        release.set()
