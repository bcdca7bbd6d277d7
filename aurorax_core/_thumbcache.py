"""A size-bounded, self-checking disk cache for thumbnails, previews and movies, shared by processes.

Layout: ``<dir>/<key[:2]>/<key>.axc`` where ``key = sha256("<version>|<kind>|<origin>|<url>")``.
Each file is ``MAGIC`` + a 4-byte header length + a JSON header (content type, size, SHA-256 of
the payload, the URL it belongs to) + the payload. A read verifies the magic, the header, the
length and the checksum, so a truncated or corrupted entry (a crash mid-write on a filesystem
without atomic rename, a full disk, a stray edit) is detected and reported as a miss; the caller
rebuilds it.

Several processes on one host may use one folder at once (``panel serve --num-procs N``, several
``aurorax-core serve``, ``thumbnails prefetch``):

* Writes go to a temporary file in the entry's own folder and are published with
  :func:`os.replace`, which is atomic, so no reader ever opens half an entry; a reader that has an
  entry open keeps reading the bytes it opened while the entry is replaced or evicted (POSIX unlink
  semantics).
* Publishing, evicting and discarding happen under an advisory lock (:func:`fcntl.flock` on
  ``<dir>/.usage``), and that file holds the bytes all entries use. So the size bound holds across
  processes without a directory scan per write: a writer that would take the cache over its bound
  first evicts least-recently-used entries (one scan, down to ``_LOW_WATER`` of the bound, so the
  cost is shared by the next tenth of the bound's worth of writes), and every ``_RESCAN_EVERY``
  writes the ledger is reconciled with the disk (entries deleted by hand, a process killed between
  publishing and booking).
* Recency is the file modification time, which a hit refreshes (atime is unreliable: most systems
  mount with relatime/noatime).

Where ``fcntl`` is missing (Windows) the lock is per process only and the bound is kept by each
process from its own scans, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("aurorax_core.thumbnails")

MAGIC: Final = b"AXTHUMB1"
SUFFIX: Final = ".axc"
CACHE_VERSION: Final = "1"
# The ledger (and lock) file in the cache folder; not an entry, so scans never see it.
USAGE_FILE: Final = ".usage"
_USAGE_MAGIC: Final = "AXUSAGE1"
# Eviction removes entries until the cache is at most this share of its bound, so that a busy
# cache is not rescanned on every write.
_LOW_WATER: Final = 0.9
# Reconcile the shared ledger with the disk after this many writes (by all processes together).
_RESCAN_EVERY: Final = 1000
_STALE_TMP_S: Final = 3600.0


def cache_key(kind: str, origin: str, url: str) -> str:
    """The entry name for one (kind, origin, url): a SHA-256 hex digest."""
    return hashlib.sha256(f"{CACHE_VERSION}|{kind}|{origin}|{url}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CacheEntry:
    data: bytes
    content_type: str
    width: int | None
    height: int | None
    url: str
    origin: str  # "demo" | "file" | "http": where the bytes originally came from
    # (device, inode) of the file it was read from: a discard removes that file only, never a
    # good entry another process published since.
    stamp: tuple[int, int] | None = field(default=None, compare=False, repr=False)


class CorruptEntry(Exception):
    """The entry on disk does not pass verification."""


@dataclass(slots=True)
class _Usage:
    """The shared ledger: bytes used by entries, and writes since the last reconciliation."""

    total: int | None  # None: unknown (no ledger yet, or unreadable): scan
    writes: int = 0


class _Ledger:
    """The open, locked ``.usage`` file: read at entry, written back by :meth:`save`."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.usage = _Usage(None)
        if fd is None:
            return
        try:
            text = os.pread(fd, 256, 0).decode("ascii")
            magic, total, writes = text.split()
            if magic == _USAGE_MAGIC and int(total) >= 0:
                self.usage = _Usage(int(total), max(0, int(writes)))
        except (OSError, ValueError, UnicodeDecodeError):
            pass  # absent, torn or foreign: the caller rescans

    def save(self) -> None:
        if self.fd is None or self.usage.total is None:
            return
        record = f"{_USAGE_MAGIC} {self.usage.total} {self.usage.writes}\n".encode("ascii")
        with contextlib.suppress(OSError):
            os.pwrite(self.fd, record, 0)
            os.ftruncate(self.fd, len(record))


class DiskCache:
    """Thread- and process-safe content cache bounded to ``max_bytes`` (LRU by mtime)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        # Without fcntl: bytes on disk as this process last knew them.
        self._local = _Usage(None)
        self.writable = True

    def path_for(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{SUFFIX}"

    # -- the shared lock ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[_Ledger]:
        """Hold the folder's lock (threads of this process and other processes) and its ledger.

        The lock file is opened afresh each time: a descriptor inherited across ``fork`` shares
        its lock with the parent, so a kept descriptor would not exclude a forked worker.
        """
        with self._lock:
            if fcntl is None:
                ledger = _Ledger(None)
                ledger.usage = self._local
                yield ledger
                return
            fd = os.open(self.directory / USAGE_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                ledger = _Ledger(fd)
                yield ledger
                ledger.save()
            finally:
                os.close(fd)  # releases the lock

    # -- reading -----------------------------------------------------------------------------

    def read(self, key: str, url: str) -> CacheEntry | None:
        """The verified entry, or None when absent. A corrupt entry is deleted and None returned."""
        path = self.path_for(key)
        try:
            with open(path, "rb") as fh:
                info = os.fstat(fh.fileno())
                # nothing this large was ever written by us: do not read it into memory
                raw = b"" if info.st_size > self.max_bytes + 65536 else fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read thumbnail cache entry %s: %s", path, exc)
            return None
        stamp = (info.st_dev, info.st_ino)
        try:
            entry = self._decode(raw, url, stamp)
        except CorruptEntry as exc:
            logger.warning("thumbnail cache entry %s is corrupt (%s); rebuilding it", path, exc)
            self.discard(key, stamp)
            return None
        # LRU: a hit makes the entry the most recently used.
        with contextlib.suppress(OSError):
            os.utime(path)
        return entry

    @staticmethod
    def _decode(raw: bytes, url: str, stamp: tuple[int, int] | None = None) -> CacheEntry:
        if len(raw) < len(MAGIC) + 4 or not raw.startswith(MAGIC):
            raise CorruptEntry("bad magic")
        header_len = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
        start = len(MAGIC) + 4
        if header_len <= 0 or start + header_len > len(raw):
            raise CorruptEntry("bad header length")
        try:
            header = json.loads(raw[start : start + header_len])
        except (ValueError, UnicodeDecodeError):
            raise CorruptEntry("unreadable header") from None
        if not isinstance(header, dict):
            raise CorruptEntry("unreadable header")
        payload = raw[start + header_len :]
        if header.get("n") != len(payload):
            raise CorruptEntry(f"payload is {len(payload)} bytes, header says {header.get('n')}")
        if header.get("sha256") != hashlib.sha256(payload).hexdigest():
            raise CorruptEntry("checksum mismatch")
        if header.get("url") != url:
            raise CorruptEntry("entry belongs to another URL")
        content_type = header.get("ct")
        if not isinstance(content_type, str) or not content_type:
            raise CorruptEntry("no content type")
        return CacheEntry(
            data=payload,
            content_type=content_type,
            width=header.get("w"),
            height=header.get("h"),
            url=url,
            origin=str(header.get("origin") or ""),
            stamp=stamp,
        )

    # -- writing -----------------------------------------------------------------------------

    def write(self, key: str, entry: CacheEntry) -> bool:
        """Store an entry atomically; return False (and log) if it could not be stored."""
        header = json.dumps(
            {
                "ct": entry.content_type,
                "w": entry.width,
                "h": entry.height,
                "n": len(entry.data),
                "sha256": hashlib.sha256(entry.data).hexdigest(),
                "url": entry.url,
                "origin": entry.origin,
                "t": time.time(),
            },
            separators=(",", ":"),
        ).encode()
        size = len(MAGIC) + 4 + len(header) + len(entry.data)
        if size > self.max_bytes:
            return False
        path = self.path_for(key)
        tmp_name: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The bytes are written outside the lock (other writers are not held up by them);
            # only publishing and booking are serialised.
            fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC)
                fh.write(len(header).to_bytes(4, "big"))
                fh.write(header)
                fh.write(entry.data)
            os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; entries are not secrets
            with self._locked() as ledger:
                self._publish(ledger.usage, tmp_name, path, size)
            tmp_name = None
        except OSError as exc:
            if self.writable:
                logger.warning("cannot write the thumbnail cache in %s (%s); previews are not cached", path.parent, exc)
            self.writable = False
            return False
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
        self.writable = True
        return True

    def _publish(self, usage: _Usage, tmp_name: str, path: Path, size: int) -> None:
        """Make room if needed, then rename the temporary file into place (lock held)."""
        usage.writes += 1
        if usage.total is None or usage.writes >= _RESCAN_EVERY:
            usage.total = self._scan_total()
            usage.writes = 0
        try:
            previous = path.stat().st_size
        except OSError:
            previous = 0
        # Evict before publishing, so that the entries on disk never exceed the bound.
        if usage.total - previous + size > self.max_bytes:
            usage.total = self._evict(keep=path, incoming=size - previous)
            usage.writes = 0
            try:
                previous = path.stat().st_size
            except OSError:
                previous = 0
        os.replace(tmp_name, path)
        usage.total = max(0, usage.total - previous + size)

    def discard(self, key: str, stamp: tuple[int, int] | None = None) -> None:
        """Delete an entry; with ``stamp``, only if it is still the file that was read."""
        path = self.path_for(key)
        with contextlib.suppress(OSError), self._locked() as ledger:
            info = path.stat()
            if stamp is not None and (info.st_dev, info.st_ino) != stamp:
                return  # replaced by a good entry since it was read
            path.unlink()
            if ledger.usage.total is not None:
                ledger.usage.total = max(0, ledger.usage.total - info.st_size)

    # -- size bound --------------------------------------------------------------------------

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every entry; stale temporary files are removed on the way."""
        found: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            shards = list(os.scandir(self.directory))
        except OSError:
            return found
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                files = list(os.scandir(shard.path))
            except OSError:
                continue
            for item in files:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if item.name.endswith(SUFFIX):
                    found.append((st.st_mtime, st.st_size, Path(item.path)))
                elif item.name.endswith(".tmp") and now - st.st_mtime > _STALE_TMP_S:
                    # left behind by a process killed mid-write
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
        return found

    def _scan_total(self) -> int:
        return sum(size for _m, size, _p in self._entries())

    def _evict(self, keep: Path, incoming: int) -> int:
        """Delete least-recently-used entries (not ``keep``) until ``incoming`` more bytes fit
        under the low-water mark; return the bytes the remaining entries use (lock held)."""
        entries = self._entries()
        total = sum(size for _m, size, _p in entries)
        target = int(self.max_bytes * _LOW_WATER) - incoming
        entries.sort(key=lambda e: e[0])
        removed = 0
        for _mtime, size, path in entries:
            if total <= target:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass  # deleted by hand meanwhile
            except OSError:
                continue
            total -= size
            removed += 1
        logger.info("thumbnail cache: evicted %d entries, %d bytes remain", removed, total)
        return total

    def total_bytes(self) -> int:
        """Bytes currently used by entries (a directory scan, which also corrects the ledger)."""
        try:
            with self._locked() as ledger:
                ledger.usage.total = self._scan_total()
                ledger.usage.writes = 0
                return ledger.usage.total
        except OSError:  # a folder that is missing or read-only: count without booking
            return self._scan_total()

    def entry_count(self) -> int:
        return len(self._entries())

    def clear(self) -> int:
        """Delete every entry; return how many were deleted."""
        try:
            with self._locked() as ledger:
                count = self._delete_all()
                ledger.usage.total = self._scan_total()  # what could not be deleted
                ledger.usage.writes = 0
                return count
        except OSError:
            return self._delete_all()

    def _delete_all(self) -> int:
        count = 0
        for _m, _s, path in self._entries():
            with contextlib.suppress(OSError):
                path.unlink()
                count += 1
        return count
