"""A size-bounded, self-checking disk cache for thumbnails, previews and movies.

Layout: ``<dir>/<key[:2]>/<key>.axc`` where ``key = sha256("<version>|<kind>|<origin>|<url>")``.
Each file is ``MAGIC`` + a 4-byte header length + a JSON header (content type, size, SHA-256 of
the payload, the URL it belongs to) + the payload. A read verifies the magic, the header, the
length and the checksum, so a truncated or corrupted entry (a crash mid-write on a filesystem
without atomic rename, a full disk, a stray edit) is detected and reported as a miss; the caller
rebuilds it.

Writes go to a temporary file in the same folder and are published with :func:`os.replace`,
which is atomic, so concurrent threads and processes never see half an entry. The size bound is
kept with least-recently-used eviction on the file modification time, which a hit refreshes (atime
is unreliable: most systems mount with relatime/noatime).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger("aurorax_core.thumbnails")

MAGIC: Final = b"AXTHUMB1"
SUFFIX: Final = ".axc"
CACHE_VERSION: Final = "1"
# Eviction removes entries until the cache is at most this share of its bound, so that a busy
# cache is not rescanned on every write.
_LOW_WATER: Final = 0.9
# Rescan now and then even below the bound: other processes write to the same folder.
_RESCAN_EVERY: Final = 200
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


class CorruptEntry(Exception):
    """The entry on disk does not pass verification."""


class DiskCache:
    """Thread- and process-safe content cache bounded to ``max_bytes`` (LRU by mtime)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._approx_total: int | None = None  # bytes on disk as this process last knew them
        self._writes = 0
        self.writable = True

    def path_for(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{SUFFIX}"

    # -- reading -----------------------------------------------------------------------------

    def read(self, key: str, url: str) -> CacheEntry | None:
        """The verified entry, or None when absent. A corrupt entry is deleted and None returned."""
        path = self.path_for(key)
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                # nothing this large was ever written by us: do not read it into memory
                raw = b"" if size > self.max_bytes + 65536 else fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read thumbnail cache entry %s: %s", path, exc)
            return None
        try:
            entry = self._decode(raw, url)
        except CorruptEntry as exc:
            logger.warning("thumbnail cache entry %s is corrupt (%s); rebuilding it", path, exc)
            self.discard(key)
            return None
        # LRU: a hit makes the entry the most recently used.
        with contextlib.suppress(OSError):
            os.utime(path)
        return entry

    @staticmethod
    def _decode(raw: bytes, url: str) -> CacheEntry:
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
        )

    # -- writing -----------------------------------------------------------------------------

    def write(self, key: str, entry: CacheEntry) -> bool:
        """Store an entry atomically; return False (and log) if it could not be stored."""
        size = len(entry.data)
        if size > self.max_bytes:
            return False
        header = json.dumps(
            {
                "ct": entry.content_type,
                "w": entry.width,
                "h": entry.height,
                "n": size,
                "sha256": hashlib.sha256(entry.data).hexdigest(),
                "url": entry.url,
                "origin": entry.origin,
                "t": time.time(),
            },
            separators=(",", ":"),
        ).encode()
        path = self.path_for(key)
        tmp_name: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC)
                fh.write(len(header).to_bytes(4, "big"))
                fh.write(header)
                fh.write(entry.data)
            try:
                previous = path.stat().st_size
            except OSError:
                previous = 0
            os.replace(tmp_name, path)
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
        self._account(len(MAGIC) + 4 + len(header) + size - previous)
        return True

    def discard(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self.path_for(key).unlink()

    # -- size bound --------------------------------------------------------------------------

    def _account(self, delta: int) -> None:
        with self._lock:
            self._writes += 1
            if self._approx_total is None or self._writes % _RESCAN_EVERY == 0:
                self._approx_total = self._scan_total()
            else:
                self._approx_total += delta
            if self._approx_total > self.max_bytes:
                self._approx_total = self._evict()

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

    def _evict(self) -> int:
        """Delete least-recently-used entries until the cache is under the low-water mark."""
        entries = self._entries()
        total = sum(size for _m, size, _p in entries)
        if total <= self.max_bytes:
            return total
        target = int(self.max_bytes * _LOW_WATER)
        entries.sort(key=lambda e: e[0])
        removed = 0
        for _mtime, size, path in entries:
            if total <= target:
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass  # another process evicted it first
            except OSError:
                continue
            total -= size
            removed += 1
        logger.info("thumbnail cache: evicted %d entries, %d bytes remain", removed, total)
        return total

    def total_bytes(self) -> int:
        """Bytes currently used by entries (a directory scan)."""
        total = self._scan_total()
        with self._lock:
            self._approx_total = total
        return total

    def entry_count(self) -> int:
        return len(self._entries())

    def clear(self) -> int:
        """Delete every entry; return how many were deleted."""
        count = 0
        for _m, _s, path in self._entries():
            with contextlib.suppress(OSError):
                path.unlink()
                count += 1
        with self._lock:
            self._approx_total = 0
        return count
