"""Download the files of data products into a tidy tree, safely, resumably and in parallel.

``Downloader(dest).run(products)`` puts each product's file at ``dest/program/platform/YYYY-MM-DD/
<original name>`` (see :mod:`aurorax_core.bundle` for how names are made safe), and writes
``ACKNOWLEDGEMENTS.md``, ``manifest.csv`` and ``manifest.json`` beside the data (covering earlier
runs into the same folder too).

* Fetch safety is the thumbnails' (:mod:`aurorax_core._fetch`): http(s) only, the host allowlist
  (``AURORAX_ALLOWED_HOSTS``), every resolved address checked and pinned, redirects re-validated,
  connect/read timeouts and a content-type check (HTML served instead of a file is refused).
* A file is streamed to ``<name>.part`` and renamed when complete, so a file present under its
  own name is complete and is skipped next time; a ``.part`` is resumed with an HTTP Range
  request, with ``If-Range`` when the server gave an ETag/Last-Modified (kept with the announced
  size in ``<name>.part.json``), so a file that changed since is sent whole, never spliced; a size
  that differs from the one announced when the .part began also restarts the download (once).
* Transient failures (connection cut, timeout, 5xx, 408/429) are retried with a growing pause;
  refusals and other 4xx are not. A full disk stops the run (the partial file is kept for a
  later resume). Failures come back with their reason; nothing raises for one bad file.
* Demo records (``demo_synthetic``) have no real file: their rendered preview is written as
  ``<name>.SYNTHETIC-preview.<ext>``.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urljoin, urlsplit

from . import _fetch
from ._fetch import (
    DEFAULT_ALLOWED_HOSTS,
    ENV_ALLOW_PRIVATE,
    ENV_ALLOWED_HOSTS,
    FetchConfigError,
    FetchError,
    FetchPolicy,
    content_type_allowed,
    env_flag,
    parse_host_rules,
)
from .bundle import (
    BundleEntry,
    BundleError,
    load_manifest,
    manifest_csv,
    manifest_records,
    plan_entries,
    resolve_within,
)
from .citations import acknowledgements_markdown
from .errors import AuroraXCoreError
from .models import DataProduct

__all__ = ["DownloadError", "DownloadProgress", "DownloadReport", "Downloader", "FileOutcome"]

DEFAULT_PARALLEL: Final = 4
DEFAULT_RETRIES: Final = 3
# What a data file may be served as; text/html (an error or login page) is not among them.
DATA_ACCEPT: Final = (
    "image/*",
    "video/*",
    "application/octet-stream",
    "binary/octet-stream",
    "application/mp4",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "application/x-tar",
    "application/x-hdf5",
    "application/x-hdf",
    "application/pdf",
    "application/json",
    "text/csv",
    "text/plain",
)
_CHUNK: Final = 256 * 1024
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_TRANSIENT_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})


class DownloadError(AuroraXCoreError):
    """The download cannot start (destination not usable, bad settings, not a manifest ...)."""


class _Transient(Exception):
    """A failure worth another attempt (``written``: bytes this attempt still added to the .part)."""

    def __init__(self, reason: str, written: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.written = written


class _Fatal(Exception):
    """A failure another attempt will not fix."""

    def __init__(self, reason: str, *, disk_full: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.disk_full = disk_full


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one product: ``downloaded``, ``resumed``, ``skipped`` (already complete),
    ``synthetic`` (preview rendered), ``failed`` or ``not started`` (with ``reason``)."""

    url: str
    path: str
    status: str
    bytes: int = 0
    reason: str | None = None
    attempts: int = 0


@dataclass(slots=True)
class DownloadReport:
    dest: Path
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "not started")]

    @property
    def ok(self) -> bool:
        return not self.failed

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def bytes(self) -> int:
        return sum(o.bytes for o in self.outcomes)

    def summary(self) -> str:
        parts = [
            f"{self.count('downloaded')} downloaded",
            f"{self.count('resumed')} resumed",
            f"{self.count('skipped')} already complete",
        ]
        if self.count("synthetic"):
            parts.append(f"{self.count('synthetic')} synthetic previews")
        parts.append(f"{len(self.failed)} failed")
        lines = [f"{', '.join(parts)} ({self.bytes:,} bytes in {self.seconds:.1f} s) in {self.dest}"]
        for outcome in self.failed:
            lines.append(f"  FAILED {outcome.path}: {outcome.reason}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int | None  # None while not every size is known


ProgressFn = Callable[[DownloadProgress], None]


def _env_hosts() -> list[str]:
    return [h.strip() for h in os.environ.get(ENV_ALLOWED_HOSTS, "").split(",") if h.strip()]


class Downloader:
    """Fetch product files under ``dest``.

    Args:
        dest: the destination folder (created when missing; must be writable).
        allowed_hosts: hosts files may come from (plus ``AURORAX_ALLOWED_HOSTS``), as for thumbnails.
        parallel: downloads at a time (1-64).
        retries: attempts per file for transient failures (1-20).
        connect_timeout, read_timeout: seconds; a server silent for ``read_timeout`` is cut off.
        max_bytes: larger files are refused.
        backoff: first pause between attempts (doubles each time).
        min_rate, stall_window: a server sending fewer than ``min_rate`` bytes/s over
            ``stall_window`` seconds is cut off (and retried), however regularly it drips.
        allow_private_addresses: as for thumbnails (also ``AURORAX_ALLOW_PRIVATE_ADDRESSES=1``).

    Raises:
        DownloadError: a setting is out of range or a host entry is malformed.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        allowed_hosts: Iterable[str] | str = DEFAULT_ALLOWED_HOSTS,
        parallel: int = DEFAULT_PARALLEL,
        retries: int = DEFAULT_RETRIES,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_bytes: int = 20_000_000_000,
        backoff: float = 0.5,
        allow_private_addresses: bool = False,
        min_rate: int = 1000,
        stall_window: float = 60.0,
    ) -> None:
        if not isinstance(parallel, int) or not 1 <= parallel <= 64:
            raise DownloadError(f"parallel must be between 1 and 64, got {parallel!r}")
        if not isinstance(retries, int) or not 1 <= retries <= 20:
            raise DownloadError(f"retries must be between 1 and 20, got {retries!r}")
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if not value > 0:
                raise DownloadError(f"{name} must be a positive number of seconds, got {value!r}")
        entries = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts)
        try:
            rules = parse_host_rules([*entries, *_env_hosts()])
        except FetchConfigError as exc:
            raise DownloadError(f"{exc} (check the allowed hosts and {ENV_ALLOWED_HOSTS})") from None
        self.dest = Path(dest).expanduser()
        self.parallel = parallel
        self.retries = retries
        self.backoff = max(0.0, float(backoff))
        if not stall_window > 0 or min_rate < 0:
            raise DownloadError("stall_window must be positive and min_rate at least 0")
        self.min_rate = int(min_rate)
        self.stall_window = float(stall_window)
        # total_timeout bounds one HTTP exchange: generous, large files take time; stalls are
        # caught by read_timeout.
        self.policy = FetchPolicy(
            allowed_hosts=rules,
            allow_private_addresses=allow_private_addresses or env_flag(ENV_ALLOW_PRIVATE),
            connect_timeout=float(connect_timeout),
            read_timeout=float(read_timeout),
            total_timeout=24 * 3600.0,
            max_bytes=int(max_bytes),
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reason = ""

    # -- public ------------------------------------------------------------------------------

    def plan(self, products: Iterable[DataProduct]) -> list[BundleEntry]:
        return plan_entries(products, self.policy)

    def run(self, products: Iterable[DataProduct], *, progress: ProgressFn | None = None) -> DownloadReport:
        """Download every product; never raises for a single file (see the report).

        Raises:
            DownloadError: the destination cannot be created or written.
        """
        started = time.perf_counter()
        current = list(products)
        self._prepare_dest()
        # Earlier runs into this folder take part in naming, so two URLs that would share a local
        # path get distinct ones across runs too, and the citations cover the whole folder.
        wanted = {p.url for p in current}
        everything = self.plan([*(p for p in self._earlier_products() if p.url not in wanted), *current])
        entries = [e for e in everything if e.product.url in wanted]
        self._stop.clear()
        report = DownloadReport(self.dest)
        done = [0, 0]  # files, bytes
        total = len(entries)

        def tick(files: int, nbytes: int) -> None:
            with self._lock:
                done[0] += files
                done[1] += nbytes
                snapshot = DownloadProgress(done[0], total, done[1], None)
            if progress is not None:
                progress(snapshot)

        def work(entry: BundleEntry) -> FileOutcome:
            if self._stop.is_set():
                outcome = FileOutcome(entry.product.url, entry.path, "not started", reason=self._stop_reason)
            else:
                outcome = self._one(entry, lambda n: tick(0, n))
            tick(1, 0)
            return outcome

        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="aurorax-download") as pool:
            report.outcomes = list(pool.map(work, entries))
        self._write_sidecars(everything)
        report.seconds = time.perf_counter() - started
        return report

    # -- destination -------------------------------------------------------------------------

    def _prepare_dest(self) -> None:
        dest = self.dest
        if dest.exists() and not dest.is_dir():
            raise DownloadError(f"--dest {dest} is a file, not a folder; give a folder")
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DownloadError(f"cannot create the destination {dest} ({exc.strerror or exc})") from None
        probe = dest / f".aurorax-write-test.{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DownloadError(
                f"the destination {dest} is not writable ({exc.strerror or exc}); choose another --dest"
            ) from None

    def _earlier_products(self) -> list[DataProduct]:
        earlier = self.dest / "manifest.json"
        if not earlier.is_file():
            return []
        try:
            return load_manifest(earlier)
        except BundleError:
            return []  # not ours (or damaged): replaced by this run's

    def _write_sidecars(self, everything: Sequence[BundleEntry]) -> None:
        """manifest.json / manifest.csv / ACKNOWLEDGEMENTS.md for everything in ``dest``."""
        for name, text in (
            ("ACKNOWLEDGEMENTS.md", acknowledgements_markdown([e.product for e in everything])),
            ("manifest.csv", manifest_csv(everything)),
            ("manifest.json", json.dumps(manifest_records(everything), indent=1)),
        ):
            tmp = self.dest / f".{name}.tmp"
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, self.dest / name)
            except OSError:
                # A full disk must not turn the report of what was downloaded into a traceback;
                # the data files are already in place.
                tmp.unlink(missing_ok=True)

    # -- one file ----------------------------------------------------------------------------

    def _one(self, entry: BundleEntry, on_bytes: Callable[[int], None]) -> FileOutcome:
        url = entry.product.url
        if entry.status.startswith("skipped"):
            return FileOutcome(url, entry.path, "failed", reason=entry.status.removeprefix("skipped: "))
        try:
            target = resolve_within(self.dest, entry.path)
        except BundleError as exc:
            return FileOutcome(url, entry.path, "failed", reason=str(exc))
        if entry.status == "synthetic":
            return self._synthetic(entry, target)
        if target.is_file():
            return FileOutcome(url, entry.path, "skipped", attempts=0)
        part = target.with_name(target.name + ".part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return FileOutcome(url, entry.path, "failed", reason=f"cannot create its folder ({exc.strerror or exc})")
        resumed = part.exists() and part.stat().st_size > 0
        announced, validator = _read_part_info(part) if resumed else (None, None)
        restarted = False
        written = 0
        reason = "not tried"
        for attempt in range(1, self.retries + 1):
            try:
                got, _total = self._stream(entry.url, part, announced, validator, on_bytes)
                written += got
                os.replace(part, target)
                _part_info_path(part).unlink(missing_ok=True)
                return FileOutcome(url, entry.path, "resumed" if resumed else "downloaded", written, attempts=attempt)
            except _SizeChanged as exc:
                part.unlink(missing_ok=True)
                _part_info_path(part).unlink(missing_ok=True)
                if restarted:
                    return FileOutcome(url, entry.path, "failed", written, str(exc), attempt)
                restarted, announced, validator, resumed = True, None, None, False
                reason = str(exc)
                continue
            except _Transient as exc:
                written += exc.written
                reason = exc.reason
                if announced is None:
                    announced, validator = _read_part_info(part)
            except _Fatal as exc:
                if exc.disk_full:
                    self._stop_reason = "not started: the disk is full"
                    self._stop.set()
                return FileOutcome(url, entry.path, "failed", written, exc.reason, attempt)
            except FetchError as exc:
                if exc.refused:
                    return FileOutcome(url, entry.path, "failed", written, exc.reason, attempt)
                reason = exc.reason
            if attempt < self.retries:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
        return FileOutcome(
            url, entry.path, "failed", written, f"{reason} (after {self.retries} attempts)", self.retries
        )

    def _synthetic(self, entry: BundleEntry, target: Path) -> FileOutcome:
        url = entry.product.url
        try:
            from .demo import render

            image = render.render_preview(entry.product, size="full")
        except Exception as exc:  # a renderer defect costs this one preview, not the run
            return FileOutcome(url, entry.path, "failed", reason=f"the synthetic preview cannot be rendered ({exc})")
        ext = "png" if image.content_type == "image/png" else "jpg"
        stem = target.name.rsplit(".", 1)[0] if "." in target.name else target.name
        out = target.with_name(f"{stem}.SYNTHETIC-preview.{ext}")
        if out.is_file():
            return FileOutcome(url, entry.path, "skipped")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            tmp.write_bytes(image.data)
            os.replace(tmp, out)
        except OSError as exc:
            return FileOutcome(url, entry.path, "failed", reason=_os_reason(exc, out))
        return FileOutcome(url, entry.path, "synthetic", len(image.data))

    def _stream(
        self,
        url: str,
        part: Path,
        announced: int | None,
        validator: str | None,
        on_bytes: Callable[[int], None],
    ) -> tuple[int, int | None]:
        """One attempt: GET (with Range when ``part`` has bytes), append to ``part``.

        Returns (bytes written, total size). Raises _Transient, _Fatal, _SizeChanged, FetchError.
        """
        have = part.stat().st_size if part.exists() else 0
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            target = _fetch.resolve_target(current, self.policy)
            result = self._exchange(target, part, have, announced, validator, on_bytes)
            if isinstance(result, str):
                nxt = urljoin(current, result)
                if urlsplit(current).scheme == "https" and urlsplit(nxt).scheme != "https":
                    raise _Fatal("the server redirected from https to plain http; refused")
                try:
                    _fetch.validate_url(nxt, self.policy)
                except FetchError as exc:
                    raise _Fatal(f"the server redirected to a URL that is not allowed: {exc.reason}") from None
                current = nxt
                continue
            return result
        raise _Fatal(f"too many redirects (more than {self.policy.max_redirects})")

    def _exchange(
        self,
        target: _fetch._Target,
        part: Path,
        have: int,
        announced: int | None,
        validator: str | None,
        on_bytes: Callable[[int], None],
    ) -> tuple[int, int | None] | str:
        policy = self.policy
        watchdog = _fetch._Watchdog(time.monotonic() + policy.total_timeout)
        conn: http.client.HTTPConnection | None = None
        response: http.client.HTTPResponse | None = None
        written = 0
        try:
            conn = _fetch._connect(target, policy, watchdog)
            conn.putrequest("GET", target.request_path, skip_accept_encoding=True)
            conn.putheader("User-Agent", "aurorax-core-download/0.1")
            conn.putheader("Accept", ", ".join(DATA_ACCEPT))
            conn.putheader("Accept-Encoding", "identity")
            conn.putheader("Connection", "close")
            if have:
                conn.putheader("Range", f"bytes={have}-")
                if validator:
                    # The server sends the whole file instead when it changed since the .part began.
                    conn.putheader("If-Range", validator)
            conn.endheaders()
            response = conn.getresponse()
            status = response.status
            if status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise _Fatal(f"the server answered {status} without a Location")
                return location.strip()
            if status == 416 and have:
                total = _content_range_total(response.getheader("Content-Range"))
                if total == have:
                    return 0, total  # the partial file was in fact complete
                raise _SizeChanged(f"the file on the server changed (it is now {total} bytes); started again")
            if status in _TRANSIENT_STATUS:
                raise _Transient(f"the server answered {status} {_fetch._phrase(status)}")
            if status not in (200, 206):
                raise _Fatal(f"the server answered {status} {_fetch._phrase(status)}")
            content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
            if not content_type_allowed(content_type, DATA_ACCEPT):
                shown = _fetch._printable(content_type, 60) if content_type else "of no declared type"
                raise _Fatal(f"the response is {shown}, not a data file")
            length_text = response.getheader("Content-Length")
            length = int(length_text) if length_text and length_text.strip().isdigit() else None
            if status == 206:
                start, total = _content_range(response.getheader("Content-Range"))
                if start != have:
                    raise _Transient(f"the server resumed at byte {start}, not {have}")
                mode = "ab"
            else:
                total = length
                mode = "wb"
                have = 0
            if announced is not None and total is not None and total != announced:
                raise _SizeChanged(
                    f"the file changed size on the server during the download ({announced} -> {total} bytes)"
                )
            if total is not None and total > policy.max_bytes:
                raise _Fatal(_fetch.too_large_reason(policy.max_bytes))
            _write_part_info(
                part,
                target.url,
                total,
                response.getheader("ETag") or response.getheader("Last-Modified"),
            )
            sock = conn.sock
            try:
                handle = open(part, mode)  # noqa: SIM115  (closed below, errors need the path)
            except OSError as exc:
                raise _Fatal(_os_reason(exc, part), disk_full=exc.errno == errno.ENOSPC) from None
            window_start, window_bytes = time.monotonic(), 0
            with handle:
                while True:
                    if sock is not None:
                        sock.settimeout(policy.read_timeout)
                    chunk = response.read1(_CHUNK)
                    if not chunk:
                        break
                    try:
                        handle.write(chunk)
                    except OSError as exc:
                        raise _Fatal(
                            _os_reason(exc, part) + f"; {have + written:,} bytes kept in {part.name} for a resume",
                            disk_full=exc.errno == errno.ENOSPC,
                        ) from None
                    written += len(chunk)
                    on_bytes(len(chunk))
                    window_bytes += len(chunk)
                    elapsed = time.monotonic() - window_start
                    if elapsed >= self.stall_window:
                        if window_bytes < self.min_rate * elapsed:
                            raise _Transient(
                                f"the server is too slow ({window_bytes / elapsed:,.0f} bytes/s over {elapsed:.1f} s, "
                                f"less than {self.min_rate:,} bytes/s)",
                                written,
                            )
                        window_start, window_bytes = time.monotonic(), 0
                try:
                    handle.flush()
                except OSError as exc:
                    raise _Fatal(_os_reason(exc, part), disk_full=exc.errno == errno.ENOSPC) from None
            if response.length:
                raise _Transient(f"the connection was cut ({have + written:,} of {total or '?'} bytes)", written)
            if total is not None and have + written != total:
                raise _Transient(f"the connection was cut ({have + written:,} of {total:,} bytes)", written)
            return written, total
        except (_Fatal, _Transient, _SizeChanged, FetchError):
            raise
        except TimeoutError:
            raise _Transient(f"no data for {policy.read_timeout:g} s (the server is too slow)", written) from None
        except http.client.IncompleteRead:
            raise _Transient("the connection was cut before the whole file arrived", written) from None
        except (http.client.HTTPException, OSError) as exc:
            raise _Transient(f"network error: {_fetch._printable(str(exc)) or type(exc).__name__}", written) from None
        finally:
            watchdog.cancel()
            if response is not None:
                response.close()
            if conn is not None:
                conn.close()


class _SizeChanged(Exception):
    pass


def _os_reason(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk is full writing {path.name}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path.name} ({exc.strerror})"
    return f"cannot write {path.name} ({exc.strerror or exc})"


def _content_range(header: str | None) -> tuple[int, int | None]:
    """``bytes START-END/TOTAL`` -> (START, TOTAL or None)."""
    try:
        unit, spec = (header or "").split(" ", 1)
        span, total = spec.split("/", 1)
        start = int(span.split("-", 1)[0])
        if unit.strip().lower() != "bytes":
            raise ValueError
        return start, None if total.strip() == "*" else int(total)
    except ValueError:
        raise _Transient(f"the server sent an unusable Content-Range ({_fetch._printable(header or '')})") from None


def _content_range_total(header: str | None) -> int | None:
    try:
        return int((header or "").rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


def _part_info_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _read_part_info(part: Path) -> tuple[int | None, str | None]:
    """(total size, validator) the server announced when ``part`` began; (None, None) if unknown."""
    try:
        info = json.loads(_part_info_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if not isinstance(info, dict):
        return None, None
    total, validator = info.get("total"), info.get("validator")
    return (
        total if isinstance(total, int) and not isinstance(total, bool) else None,
        validator if isinstance(validator, str) and validator.isprintable() and len(validator) < 200 else None,
    )


def _write_part_info(part: Path, url: str, total: int | None, validator: str | None) -> None:
    """Remember beside the .part what the server announced, so a later run can tell if it changed."""
    try:
        _part_info_path(part).write_text(
            json.dumps({"url": url, "total": total, "validator": validator}), encoding="utf-8"
        )
    except OSError as exc:
        raise _Fatal(_os_reason(exc, part), disk_full=exc.errno == errno.ENOSPC) from None
