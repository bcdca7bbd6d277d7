"""A deliberately small, defensive HTTP(S) fetcher for preview images and movies.

Data-product URLs come from records, which come from servers and files we do not control, so a
fetch must not become a way to reach the machine's own network (SSRF) or to hang or exhaust the
process. This module enforces, for every request and every redirect hop:

* scheme http/https only, no credentials in the URL, and the host (and port) on an allowlist;
* DNS is resolved *here*, every resolved address is checked (loopback, private, link-local,
  multicast and reserved addresses are refused unless explicitly allowed), and the connection is
  made to that checked address (the Host header and TLS SNI/certificate check still use the
  name), so a name that re-resolves to an internal address between check and connect
  (DNS rebinding) cannot slip through;
* redirects are followed by hand (at most ``max_redirects`` hops), each target re-validated,
  loops and https->http downgrades refused;
* a connect timeout, a per-read timeout, and a total deadline for the whole exchange enforced by
  a watchdog that shuts the socket down (so a server that drips one byte at a time, even inside
  the headers, cannot keep the request alive);
* a maximum size, checked against Content-Length before reading and against the bytes received
  while streaming;
* the Content-Type must be one the caller accepts (e.g. ``image/*``).

It uses :mod:`http.client` directly because it lets us pin the connection to the checked address
without patching anything. Failures raise :class:`FetchError` carrying a human-readable reason.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final
from urllib.parse import quote, urljoin, urlsplit

DEFAULT_ALLOWED_HOSTS: Final[tuple[str, ...]] = ("data.phys.ucalgary.ca", "data.swarm-aurora.com")
ENV_ALLOWED_HOSTS: Final = "AURORAX_ALLOWED_HOSTS"
ENV_ALLOW_PRIVATE: Final = "AURORAX_ALLOW_PRIVATE_ADDRESSES"
USER_AGENT: Final = "aurorax-core-thumbnails/0.1"
_CHUNK: Final = 64 * 1024
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})

_HOST_NAME_RE: Final = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")

Resolver = Callable[[str, int], Sequence[str]]


class FetchError(Exception):
    """A fetch did not produce a usable body; ``reason`` says why, in words for a person."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # True when the request was refused by policy before any connection (not worth retrying).
        self.refused = refused


class FetchConfigError(ValueError):
    """An allowlist entry cannot be understood."""


@dataclass(frozen=True, slots=True)
class HostRule:
    """One allowlist entry: a host name or IP address, and the ports allowed on it.

    ``port`` None means the scheme's standard ports (80 for http, 443 for https); ``any_port``
    means every port (written ``host:*``).
    """

    host: str
    port: int | None = None
    any_port: bool = False

    @property
    def names_private_destination(self) -> bool:
        """True when the entry itself names a local/private destination (an IP literal or localhost).

        Listing such an entry is the explicit opt-in to connect to that non-public address.
        """
        if self.host == "localhost":
            return True
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def matches(self, host: str, port: int, scheme: str) -> bool:
        if host != self.host:
            return False
        if self.any_port:
            return True
        if self.port is None:
            return port == (443 if scheme == "https" else 80)
        return port == self.port

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.any_port:
            return f"{host}:*"
        return host if self.port is None else f"{host}:{self.port}"


def normalize_host(host: str) -> str:
    """Lower-case, strip a trailing dot, IDNA-encode, canonicalise IP literals.

    Raises:
        FetchConfigError: the name is empty or cannot be encoded.
    """
    text = host.strip().rstrip(".").lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        raise FetchConfigError("empty host name")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        name = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchConfigError(f"{host!r} is not a valid host name") from None
    if not _HOST_NAME_RE.match(name):
        raise FetchConfigError(f"{host!r} is not a valid host name")
    return name


def parse_host_rule(entry: str) -> HostRule:
    """Parse ``host``, ``host:port``, ``host:*``, ``[v6]:port`` or a URL such as ``https://host/``.

    Raises:
        FetchConfigError: the entry is empty or malformed.
    """
    text = entry.strip()
    if not text:
        raise FetchConfigError("empty allowed-host entry")
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    if "@" in text:
        raise FetchConfigError(f"allowed host {entry!r} must not contain a user name")
    port_text: str | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise FetchConfigError(f"allowed host {entry!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise FetchConfigError(f"allowed host {entry!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text  # a bare name, IPv4, or an unbracketed IPv6 address (no port possible)
    host = normalize_host(host)
    if port_text is None or port_text == "":
        return HostRule(host)
    if port_text == "*":
        return HostRule(host, any_port=True)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise FetchConfigError(f"allowed host {entry!r}: port {port_text!r} is not a number between 1 and 65535")
    return HostRule(host, int(port_text))


def parse_host_rules(entries: Iterable[str]) -> tuple[HostRule, ...]:
    """Parse several entries (also accepting one comma-separated string).

    Raises:
        FetchConfigError: an entry is malformed.
    """
    if isinstance(entries, str):
        entries = entries.split(",")
    rules: list[HostRule] = []
    for entry in entries:
        if entry.strip():
            rule = parse_host_rule(entry)
            if rule not in rules:
                rules.append(rule)
    return tuple(rules)


def env_flag(name: str) -> bool:
    """True when the environment variable is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def default_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a public unicast address (None if it is)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private-network address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class FetchPolicy:
    """Where a fetch may go and how long/large it may be."""

    allowed_hosts: tuple[HostRule, ...] = field(default_factory=lambda: parse_host_rules(DEFAULT_ALLOWED_HOSTS))
    allow_private_addresses: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    max_bytes: int = 25_000_000
    max_redirects: int = 5
    resolver: Resolver = default_resolver
    ssl_context: ssl.SSLContext | None = None

    def hosts_text(self) -> str:
        return ", ".join(str(r) for r in self.allowed_hosts) or "none"


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str  # the final URL, after redirects
    data: bytes
    content_type: str  # the media type the server declared, lower-case, without parameters
    redirects: int = 0
    partial: bool = False  # only the first ``prefix`` bytes were asked for and kept


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    scheme: str
    host: str  # normalised
    port: int
    request_path: str
    addresses: tuple[str, ...]


def format_bytes(num: int) -> str:
    """'25 MB', '512 kB', '900 bytes' (decimal units, as the limits are usually written)."""
    if num >= 1_000_000:
        return f"{num / 1_000_000:g} MB"
    if num >= 1_000:
        return f"{num / 1_000:g} kB"
    return f"{num} bytes"


TOO_LARGE: Final = "the file is larger than"


def too_large_reason(max_bytes: int) -> str:
    """'the file is larger than 25 MB'."""
    return f"{TOO_LARGE} {format_bytes(max_bytes)}"


def format_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


def _printable(text: str, limit: int = 80) -> str:
    """Server-provided text made safe to put in a message: printable ASCII, bounded length."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _host_display(host: str) -> str:
    return _printable(host, 100)


def validate_url(url: str, policy: FetchPolicy) -> tuple[str, str, int, str]:
    """Check scheme, credentials and allowlist without any network access.

    Returns ``(scheme, host, port, request_path)``.

    Raises:
        FetchError: (refused) the URL may not be fetched; the reason says why and how to allow it.
    """
    if not isinstance(url, str) or not url.strip():
        raise FetchError("the record has no URL", refused=True)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise FetchError("the URL contains control characters", refused=True)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"the URL is malformed ({_printable(str(exc))})", refused=True) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{_printable(scheme)}:'" if scheme else "no scheme"
        raise FetchError(f"only http and https URLs are fetched, this one has {shown}", refused=True)
    if parts.username is not None or parts.password is not None:
        raise FetchError("URLs carrying a user name or password are not fetched", refused=True)
    if not parts.hostname:
        raise FetchError("the URL has no host", refused=True)
    try:
        host = normalize_host(parts.hostname)
    except FetchConfigError:
        raise FetchError(
            f"the URL's host {_host_display(parts.hostname)!r} is not a valid name", refused=True
        ) from None
    effective_port = port if port is not None else (443 if scheme == "https" else 80)
    if not any(rule.matches(host, effective_port, scheme) for rule in policy.allowed_hosts):
        if any(rule.host == host for rule in policy.allowed_hosts):
            raise FetchError(
                f"port {effective_port} of host '{_host_display(host)}' is not allowed "
                f"(allowed hosts: {policy.hosts_text()}); add '{_host_display(host)}:{effective_port}' "
                f"with AURORAX_ALLOWED_HOSTS",
                refused=True,
            )
        raise FetchError(
            f"host '{_host_display(host)}' is not in the allowed hosts ({policy.hosts_text()}); "
            f"add it with AURORAX_ALLOWED_HOSTS",
            refused=True,
        )
    path = parts.path or "/"
    # Re-quote defensively: http.client rejects spaces/control characters, and a path must not be
    # able to smuggle anything into the request line.
    path = quote(path, safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return scheme, host, effective_port, path


def resolve_target(url: str, policy: FetchPolicy) -> _Target:
    """Validate ``url`` and resolve its host to addresses that may be connected to.

    Raises:
        FetchError: refused by policy, or the host cannot be resolved.
    """
    scheme, host, port, path = validate_url(url, policy)
    rule = next(r for r in policy.allowed_hosts if r.matches(host, port, scheme))
    private_ok = policy.allow_private_addresses or rule.names_private_destination
    addresses = _resolve(policy, host, port, timeout=min(policy.connect_timeout, policy.total_timeout))
    if not addresses:
        raise FetchError(f"cannot resolve host '{_host_display(host)}' (no addresses)")
    if not private_ok:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                raise FetchError(
                    f"host '{_host_display(host)}' resolves to {address}, {problem}; connections to "
                    f"loopback, private and link-local addresses are refused (list the IP address itself in "
                    f"AURORAX_ALLOWED_HOSTS, or set {ENV_ALLOW_PRIVATE}=1, to allow it)",
                    refused=True,
                )
    return _Target(url, scheme, host, port, path, addresses)


def _resolve(policy: FetchPolicy, host: str, port: int, *, timeout: float) -> tuple[str, ...]:
    """Run the resolver with a timeout: getaddrinfo itself has none and can block for a long time.

    The lookup runs in a daemon thread; if it is too slow we stop waiting (the thread finishes on
    its own and cannot delay interpreter exit).
    """
    outcome: list[Sequence[str] | BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(policy.resolver(host, port))
        except BaseException as exc:  # handed to the waiting thread below
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="aurorax-dns", daemon=True).start()
    if not done.wait(timeout):
        raise FetchError(f"cannot resolve host '{_host_display(host)}' within {format_seconds(timeout)}")
    result = outcome[0]
    if isinstance(result, (OSError, UnicodeError)):
        raise FetchError(f"cannot resolve host '{_host_display(host)}' ({_printable(str(result))})")
    if isinstance(result, BaseException):
        raise result
    return tuple(result)


class _Watchdog:
    """Shuts a socket down when the total deadline passes, waking any blocked read."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired and sock is not None:
                _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                _shutdown(self._sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _kind_word(accept: Sequence[str]) -> str:
    # The first accepted type is the one the caller wants; the others are tolerated fallbacks.
    primary = accept[0] if accept else ""
    if primary.startswith("video/"):
        return "a movie"
    if primary.startswith("image/"):
        return "an image"
    return "an accepted type (" + ", ".join(accept) + ")"


def content_type_allowed(content_type: str, accept: Sequence[str]) -> bool:
    """``accept`` holds media types or ``type/*`` patterns; an empty header never matches."""
    if not content_type:
        return False
    for pattern in accept:
        if pattern.endswith("/*"):
            if content_type.startswith(pattern[:-1]):
                return True
        elif content_type == pattern:
            return True
    return False


def fetch(url: str, policy: FetchPolicy, *, accept: Sequence[str], prefix: int | None = None) -> FetchResult:
    """GET ``url`` under ``policy``; return the body if it is an accepted type and not too large.

    ``prefix``: want only the first ``prefix`` bytes (e.g. the head of a movie too large to
    download, for its first frame): a Range request is sent, and a server that ignores it is
    simply cut off after ``prefix`` bytes; the size limit then does not apply.

    ``accept`` lists media types or patterns (``image/*``); ``application/octet-stream`` must be
    listed explicitly to be accepted (callers then check the bytes themselves).

    Raises:
        FetchError: refused, failed, too slow, too large, or not an accepted type; ``reason`` says
        which in plain words.
    """
    deadline = time.monotonic() + policy.total_timeout
    seen = [url]
    current = url
    for hop in range(policy.max_redirects + 1):
        target = resolve_target(current, policy)
        if time.monotonic() >= deadline:
            raise FetchError(f"the download did not finish within {format_seconds(policy.total_timeout)}")
        outcome = _exchange(target, policy, accept, deadline, prefix)
        if isinstance(outcome, FetchResult):
            return FetchResult(outcome.url, outcome.data, outcome.content_type, hop, outcome.partial)
        status, location = outcome
        next_url = urljoin(current, location)
        if urlsplit(current).scheme.lower() == "https" and urlsplit(next_url).scheme.lower() == "http":
            raise FetchError("the server redirected from https to plain http; refused", refused=True)
        if next_url in seen:
            raise FetchError(
                f"redirect loop: the server answered {status} back to a URL already visited "
                f"after {hop + 1} redirect{'s' if hop else ''}"
            )
        seen.append(next_url)
        try:
            validate_url(next_url, policy)
        except FetchError as exc:
            raise FetchError(
                f"the server redirected to a URL that is not allowed: {exc.reason}", refused=True
            ) from None
        current = next_url
    raise FetchError(f"too many redirects (more than {policy.max_redirects})")


_tls_lock = threading.Lock()
_tls_context: ssl.SSLContext | None = None


def _default_tls_context() -> ssl.SSLContext:
    """One verifying context for the process: loading the system's CA store costs milliseconds."""
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            _tls_context = ssl.create_default_context()
        return _tls_context


def _connect(target: _Target, policy: FetchPolicy, watchdog: _Watchdog) -> http.client.HTTPConnection:
    """Open a connection to one of the *checked* addresses; Host header and TLS use the name."""
    last_error: OSError | None = None
    for address in target.addresses:
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            context = policy.ssl_context or _default_tls_context()
            conn = http.client.HTTPSConnection(
                target.host, target.port, timeout=policy.connect_timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=policy.connect_timeout)

        def pinned(_address: tuple[str, int], timeout: float, source: object = None, *, ip: str = address):
            # http.client asks to connect to (host, port); connect to the checked address instead.
            return socket.create_connection((ip, target.port), timeout)

        conn._create_connection = pinned  # type: ignore[attr-defined]  # documented hook in http.client
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise FetchError(
                f"the TLS certificate of '{_host_display(target.host)}' is not valid "
                f"({_printable(exc.verify_message or str(exc))})"
            ) from None
        except ssl.SSLError as exc:
            conn.close()
            raise FetchError(
                f"TLS handshake with '{_host_display(target.host)}' failed ({_printable(str(exc))})"
            ) from None
        except TimeoutError:
            conn.close()
            if watchdog.fired:
                raise FetchError(f"the download did not finish within {format_seconds(policy.total_timeout)}") from None
            last_error = TimeoutError(f"no answer within {format_seconds(policy.connect_timeout)}")
            continue
        except OSError as exc:
            conn.close()
            last_error = exc
            continue
        assert conn.sock is not None
        conn.sock.settimeout(policy.read_timeout)
        watchdog.watch(conn.sock)
        return conn
    where = f"{_host_display(target.host)}:{target.port}"
    if isinstance(last_error, TimeoutError):
        raise FetchError(f"could not connect to {where} within {format_seconds(policy.connect_timeout)}")
    if isinstance(last_error, ConnectionRefusedError):
        raise FetchError(f"could not connect to {where}: connection refused")
    detail = _printable(last_error.strerror or str(last_error)) if last_error else "no address"
    raise FetchError(f"could not connect to {where}: {detail}")


def _exchange(
    target: _Target, policy: FetchPolicy, accept: Sequence[str], deadline: float, prefix: int | None = None
) -> FetchResult | tuple[int, str]:
    """One request/response. Returns the result, or ``(status, location)`` for a redirect."""
    watchdog = _Watchdog(deadline)
    conn: http.client.HTTPConnection | None = None
    response: http.client.HTTPResponse | None = None
    total_reason = f"the download did not finish within {format_seconds(policy.total_timeout)}"
    read_reason = f"timed out after {format_seconds(policy.read_timeout)} waiting for the server"
    try:
        conn = _connect(target, policy, watchdog)
        sock = conn.sock
        conn.putrequest("GET", target.request_path, skip_accept_encoding=True)
        conn.putheader("User-Agent", USER_AGENT)
        conn.putheader("Accept", ", ".join(accept))
        # No compression: the size limit then applies to what we decode, and nothing needs inflating.
        conn.putheader("Accept-Encoding", "identity")
        conn.putheader("Connection", "close")
        if prefix is not None:
            conn.putheader("Range", f"bytes=0-{prefix - 1}")
        conn.endheaders()
        response = conn.getresponse()
        status = response.status
        if status in _REDIRECT_STATUSES:
            location = response.getheader("Location")
            if not location:
                raise FetchError(f"the server answered {status} {_phrase(status)} without a Location")
            return status, location.strip()
        if status != 200 and not (prefix is not None and status == 206):
            raise FetchError(f"the server answered {status} {_phrase(status)}")
        content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        if not content_type_allowed(content_type, accept):
            shown = _printable(content_type, 60) if content_type else "of no declared type"
            raise FetchError(f"the response is {shown}, not {_kind_word(accept)}")
        declared = response.getheader("Content-Length")
        if prefix is not None:
            return _read_prefix(response, sock, target, policy, deadline, content_type, prefix)
        if declared is not None and declared.strip().isdigit() and int(declared) > policy.max_bytes:
            raise FetchError(too_large_reason(policy.max_bytes))
        body = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(total_reason)
            if sock is not None:
                sock.settimeout(min(policy.read_timeout, remaining))
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > policy.max_bytes:
                raise FetchError(too_large_reason(policy.max_bytes))
        if watchdog.fired:
            raise FetchError(total_reason)
        if response.length:  # Content-Length promised more than arrived
            raise FetchError(
                f"the server closed the connection early ({len(body)} of {len(body) + response.length} bytes)"
            )
        return FetchResult(target.url, bytes(body), content_type)
    except FetchError:
        raise
    except TimeoutError:
        # A read whose timeout was capped to the remaining time ends exactly at the deadline,
        # possibly a moment before the watchdog fires: that is the total limit too.
        past_deadline = watchdog.fired or time.monotonic() >= deadline
        raise FetchError(total_reason if past_deadline else read_reason) from None
    except (http.client.HTTPException, OSError) as exc:
        if watchdog.fired or time.monotonic() >= deadline:
            raise FetchError(total_reason) from None
        if isinstance(exc, http.client.IncompleteRead):
            raise FetchError("the server closed the connection before sending the whole file") from None
        if isinstance(exc, http.client.RemoteDisconnected):
            raise FetchError("the server closed the connection without answering") from None
        if isinstance(exc, http.client.HTTPException):
            raise FetchError(f"the server sent an invalid HTTP response ({type(exc).__name__})") from None
        raise FetchError(f"network error talking to '{_host_display(target.host)}': {_printable(str(exc))}") from None
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        if conn is not None:
            conn.close()


def _read_prefix(
    response: http.client.HTTPResponse,
    sock: socket.socket | None,
    target: _Target,
    policy: FetchPolicy,
    deadline: float,
    content_type: str,
    prefix: int,
) -> FetchResult:
    """Read at most ``prefix`` bytes of the body (the deadline still applies), then hang up."""
    body = bytearray()
    while len(body) < prefix:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"the download did not finish within {format_seconds(policy.total_timeout)}")
        if sock is not None:
            sock.settimeout(min(policy.read_timeout, remaining))
        chunk = response.read1(min(_CHUNK, prefix - len(body)))
        if not chunk:
            break
        body += chunk
    return FetchResult(target.url, bytes(body[:prefix]), content_type, partial=True)


def _phrase(status: int) -> str:
    # The server's own reason text is not shown: it is untrusted and may be anything.
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
