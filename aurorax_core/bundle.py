"""Take-away bundles: a manifest, download scripts, query files and ACKNOWLEDGEMENTS.md in one zip.

Everything that comes from a record (URL, program, platform, file name) is untrusted. Local paths
are built from sanitised components only (``[A-Za-z0-9._-]``, no leading dot, bounded length) as
``program/platform/YYYY-MM-DD/file-name``, so no record can name ``..``, an absolute path or a
shell metacharacter. The generated shell script never lets the shell interpret record text: the
entries sit in a quoted here-document (no expansion) and are read with ``read -r`` into variables
that are always quoted; curl gets the URL through ``--url`` and may only speak http/https.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from ._fetch import FetchError, FetchPolicy, validate_url
from .citations import acknowledgements_markdown, dataset_for
from .errors import AuroraXCoreError
from .models import DataProduct, format_time
from .query import DataProductQuery

__all__ = [
    "BundleEntry",
    "BundleError",
    "plan_entries",
    "safe_component",
    "write_bundle",
]

_SAFE_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_COMPONENT: Final = 120
MANIFEST_CSV_COLUMNS: Final = (
    "path",
    "url",
    "program",
    "platform",
    "instrument_type",
    "data_product_type",
    "start",
    "end",
    "dataset",
    "synthetic",
    "size",
    "status",
)


class BundleError(AuroraXCoreError):
    """A bundle cannot be built or written (bad destination, nothing to put in it ...)."""


def safe_component(value: str, fallback: str = "_") -> str:
    """One path component made of ``[A-Za-z0-9._-]`` only, never ``.``/``..``/hidden, bounded length."""
    text = _SAFE_CHARS.sub("_", value.strip()).strip("_")
    text = text.lstrip(".")
    if len(text) > _MAX_COMPONENT:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        text = text[: _MAX_COMPONENT - 11] + "-" + digest
    return text or fallback


def original_name(url: str) -> str:
    """The file name the URL ends with (decoded, then made safe); ``product`` when there is none."""
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return safe_component(unquote(path.rsplit("/", 1)[-1]), "product")


def product_size(product: DataProduct) -> int | None:
    """The file size when a record says it (metadata ``file_size``/``size`` as an integer)."""
    for key in ("file_size", "size"):
        value = product.metadata.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One product of a bundle: where it goes (relative, safe), and whether it can be fetched."""

    product: DataProduct
    path: str  # POSIX relative path, components from safe_component only
    url: str  # the URL to fetch (percent-encoded where needed), "" when not fetchable
    status: str  # "fetch", "synthetic" (a rendered preview instead), or "skipped: <reason>"

    @property
    def fetchable(self) -> bool:
        return self.status == "fetch"


def relative_path(product: DataProduct) -> str:
    """``program/platform/YYYY-MM-DD/original-name`` from sanitised components."""
    source = product.data_source
    day = product.start.astimezone(UTC).strftime("%Y-%m-%d")
    return "/".join(
        (
            safe_component(source.program),
            safe_component(source.platform),
            day,
            original_name(product.url),
        )
    )


def _wire_url(url: str) -> str:
    """The URL with anything outside the URL character set percent-encoded (spaces, quotes ...)."""
    return quote(url.strip(), safe="/%:@!$&'()*+,;=-._~?#[]")


def plan_entries(products: Iterable[DataProduct], policy: FetchPolicy | None = None) -> list[BundleEntry]:
    """A safe, unique relative path for each product (first URL wins; duplicates dropped) and
    whether its URL may be fetched under ``policy`` (scheme, host allowlist)."""
    policy = policy or FetchPolicy()
    entries: list[BundleEntry] = []
    seen_urls: set[str] = set()
    used: set[str] = set()
    for product in products:
        if product.url in seen_urls:
            continue
        seen_urls.add(product.url)
        path = relative_path(product)
        if path in used:
            # Two URLs ending in the same name on the same night: keep both, apart.
            digest = hashlib.sha256(product.url.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            stem, dot, ext = path.rpartition(".")
            path = f"{stem}-{digest}.{ext}" if dot and "/" not in ext else f"{path}-{digest}"
        used.add(path)
        _check_relative(path)
        if product.is_synthetic:
            entries.append(BundleEntry(product, path, "", "synthetic"))
            continue
        try:
            url = _wire_url(product.url)
            validate_url(url, policy)
        except FetchError as exc:
            entries.append(BundleEntry(product, path, "", f"skipped: {exc.reason}"))
            continue
        entries.append(BundleEntry(product, path, url, "fetch"))
    return entries


def _check_relative(path: str) -> None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("", ".", "..") for part in pure.parts) or "\\" in path:
        raise BundleError(f"internal error: unsafe path {path!r}")  # safe_component makes this unreachable


def resolve_within(dest: Path, relative: str) -> Path:
    """``dest/relative``, refusing anything that would land outside ``dest`` (symlinks included)."""
    _check_relative(relative)
    root = dest.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise BundleError(f"{relative!r} would be written outside {dest}; refused")
    return target


# -- manifests -----------------------------------------------------------------------------------


def manifest_records(entries: Sequence[BundleEntry]) -> list[dict[str, Any]]:
    """The aurorax-cli data-file form (a JSON list of AuroraX records, sorted by start)."""
    records = [entry.product.to_api_dict() for entry in entries]
    records.sort(key=lambda r: r["start"])
    return records


def manifest_csv(entries: Sequence[BundleEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_CSV_COLUMNS)
    for entry in entries:
        product, source = entry.product, entry.product.data_source
        dataset = dataset_for(product)
        size = product_size(product)
        writer.writerow(
            [
                entry.path,
                product.url,
                source.program,
                source.platform,
                source.instrument_type,
                product.data_product_type,
                format_time(product.start),
                format_time(product.end),
                dataset.name if dataset else "unknown",
                "yes" if product.is_synthetic else "no",
                "" if size is None else size,
                entry.status,
            ]
        )
    return buffer.getvalue()


# -- scripts -------------------------------------------------------------------------------------

_SH_TEMPLATE: Final = r"""#!/bin/sh
# Download script generated by aurorax-core on @WHEN@ (@COUNT@ files).
# Usage: sh download.sh [DEST]        (default DEST: the current folder)
# Environment: PARALLEL (default 4) downloads at a time, RETRIES (default 3) attempts per file.
# Resumes partial files (*.part), skips files already complete, reports failures at the end and
# exits 1 when any failed. Needs curl.
set -u
DEST=${1:-.}
PARALLEL=${PARALLEL:-4}
RETRIES=${RETRIES:-3}
case $PARALLEL in ''|*[!0-9]*|0) echo "PARALLEL must be a positive number" >&2; exit 2;; esac
case $RETRIES in ''|*[!0-9]*|0) echo "RETRIES must be a positive number" >&2; exit 2;; esac
command -v curl >/dev/null 2>&1 || { echo "curl is needed (install it, or use download.py)" >&2; exit 2; }
mkdir -p -- "$DEST" || { echo "cannot create $DEST" >&2; exit 1; }
FAILED="$DEST/.aurorax-failed.$$"
: > "$FAILED" || { echo "cannot write in $DEST" >&2; exit 1; }

fetch_one() {
  url=$1; rel=$2; size=$3
  target="$DEST/$rel"
  if [ -f "$target" ]; then
    if [ -z "$size" ] || [ "$(wc -c < "$target" | tr -d ' ')" = "$size" ]; then
      return 0
    fi
    mv -f -- "$target" "$target.part"
  fi
  if ! mkdir -p -- "$(dirname -- "$target")"; then
    printf '%s\t%s\n' "$rel" "cannot create its folder" >> "$FAILED"
    return 0
  fi
  attempt=1
  while :; do
    curl --fail --silent --show-error --location --max-redirs 5 --proto '=http,https' --proto-redir '=http,https' \
      --connect-timeout 20 --speed-limit 1 --speed-time 60 -C - -o "$target.part" --url "$url" 2> "$target.err"
    code=$?
    if [ "$code" -eq 0 ]; then
      rm -f -- "$target.err"
      if [ -n "$size" ] && [ "$(wc -c < "$target.part" | tr -d ' ')" != "$size" ]; then
        rm -f -- "$target.part"
        printf '%s\t%s\n' "$rel" "size differs from the manifest" >> "$FAILED"
        return 0
      fi
      mv -f -- "$target.part" "$target"
      return 0
    fi
    # 33: the server cannot resume (no byte ranges): start the file again.
    [ "$code" -eq 33 ] && rm -f -- "$target.part"
    if [ "$attempt" -ge "$RETRIES" ]; then
      reason=$(tr '\t\n' '  ' < "$target.err")
      rm -f -- "$target.err"
      printf '%s\t%s\n' "$rel" "curl exit $code: $reason" >> "$FAILED"
      return 0
    fi
    attempt=$((attempt + 1))
    sleep "$attempt"
  done
}

lane() {
  n=0
  while IFS='	' read -r url rel size; do
    [ -n "$url" ] || continue
    if [ $((n % PARALLEL)) -eq "$1" ]; then
      fetch_one "$url" "$rel" "$size"
    fi
    n=$((n + 1))
  done <<'AURORAX_MANIFEST_END'
@ENTRIES@
AURORAX_MANIFEST_END
}

i=0
while [ "$i" -lt "$PARALLEL" ]; do
  lane "$i" &
  i=$((i + 1))
done
wait
if [ -s "$FAILED" ]; then
  echo "Failed downloads ($(wc -l < "$FAILED" | tr -d ' ')):" >&2
  cat -- "$FAILED" >&2
  rm -f -- "$FAILED"
  exit 1
fi
rm -f -- "$FAILED"
echo "All @COUNT@ files are in $DEST"
"""


def shell_script(entries: Sequence[BundleEntry], *, when: datetime | None = None) -> str:
    """A POSIX sh + curl download script for the fetchable entries."""
    rows = []
    for entry in entries:
        if not entry.fetchable:
            continue
        # Defence in depth: a tab, newline or NUL would break the line format; validate_url
        # refused control characters and _wire_url encoded spaces, so these never occur.
        if any(ch in entry.url for ch in "\t\n\r\0") or any(ch in entry.path for ch in "\t\n\r\0"):
            raise BundleError(f"unsafe characters in {entry.url!r}")
        size = product_size(entry.product)
        rows.append(f"{entry.url}\t{entry.path}\t{'' if size is None else size}")
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return (
        _SH_TEMPLATE.replace("@WHEN@", stamp).replace("@COUNT@", str(len(rows))).replace("@ENTRIES@", "\n".join(rows))
    )


_PY_TEMPLATE: Final = r'''#!/usr/bin/env python3
"""Download script generated by aurorax-core on @WHEN@ (@COUNT@ files); standard library only.

Usage: python3 download.py [DEST] [--parallel N] [--retries N]
Resumes partial files (*.part, HTTP Range), skips complete files, reports failures at the end and
exits 1 when any failed.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import sys
import time
import urllib.error
import urllib.request

ENTRIES = json.loads(@ENTRIES@)


def _safe_target(dest, rel):
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
        raise ValueError("unsafe path %r" % rel)
    target = (dest / rel).resolve()
    if dest.resolve() not in target.parents:
        raise ValueError("%r leaves the destination" % rel)
    return target


def fetch_one(dest, entry, retries):
    url, rel, size = entry["url"], entry["path"], entry.get("size")
    if not url.lower().startswith(("http://", "https://")):
        return rel, "not an http(s) URL"
    try:
        target = _safe_target(dest, rel)
    except ValueError as exc:
        return rel, str(exc)
    if target.exists() and (size is None or target.stat().st_size == size):
        return rel, None
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    reason = "not tried"
    for attempt in range(1, retries + 1):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "aurorax-core-bundle"})
        if have:
            request.add_header("Range", "bytes=%d-" % have)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                mode = "ab" if have and response.status == 206 else "wb"
                expected = response.headers.get("Content-Length")
                got = 0
                with open(part, mode) as handle:
                    while True:
                        chunk = response.read(65536)
                        if not chunk:
                            break
                        handle.write(chunk)
                        got += len(chunk)
                if expected is not None and expected.isdigit() and got < int(expected):
                    raise OSError("connection closed early (%d of %s bytes)" % (got, expected))
            if size is not None and part.stat().st_size != size:
                part.unlink()
                return rel, "size differs from the manifest"
            os.replace(part, target)
            return rel, None
        except urllib.error.HTTPError as exc:
            reason = "HTTP %d" % exc.code
            if exc.code == 416:
                part.unlink(missing_ok=True)
            elif exc.code < 500 and exc.code not in (408, 429):
                return rel, reason
        except (OSError, urllib.error.URLError) as exc:
            reason = str(exc)
            if isinstance(exc, OSError) and exc.errno == 28:
                return rel, "disk full: " + reason
        time.sleep(min(2 ** attempt, 10))
    return rel, reason


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", default=".")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args()
    if args.parallel < 1 or args.retries < 1:
        parser.error("--parallel and --retries must be at least 1")
    dest = pathlib.Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for rel, reason in pool.map(lambda e: fetch_one(dest, e, args.retries), ENTRIES):
            if reason:
                failures.append((rel, reason))
    if failures:
        print("Failed downloads (%d):" % len(failures), file=sys.stderr)
        for rel, reason in failures:
            print("%s\t%s" % (rel, reason), file=sys.stderr)
        return 1
    print("All %d files are in %s" % (len(ENTRIES), dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def python_script(entries: Sequence[BundleEntry], *, when: datetime | None = None) -> str:
    """A standard-library-only Python download script for the fetchable entries."""
    items = [{"url": e.url, "path": e.path, "size": product_size(e.product)} for e in entries if e.fetchable]
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    # repr() of a str is a Python string literal: record text stays data.
    literal = repr(json.dumps(items, ensure_ascii=True))
    return _PY_TEMPLATE.replace("@WHEN@", stamp).replace("@COUNT@", str(len(items))).replace("@ENTRIES@", literal)


# -- the zip -------------------------------------------------------------------------------------


def bundle_files(
    products: Sequence[DataProduct],
    *,
    queries: Sequence[DataProductQuery] = (),
    policy: FetchPolicy | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """File name -> text of every file of a bundle."""
    entries = plan_entries(products, policy)
    when = when or datetime.now(UTC)
    files = {
        "manifest.csv": manifest_csv(entries),
        "manifest.json": json.dumps(manifest_records(entries), indent=2),
        "download.sh": shell_script(entries, when=when),
        "download.py": python_script(entries, when=when),
        "ACKNOWLEDGEMENTS.md": acknowledgements_markdown([e.product for e in entries], generated=when),
    }
    for index, query in enumerate(queries, 1):
        files[f"queries/query-{index:02d}.json"] = query.to_json()
    files["README.txt"] = _readme(entries, len(queries), when)
    return files


def _readme(entries: Sequence[BundleEntry], n_queries: int, when: datetime) -> str:
    fetch = sum(e.fetchable for e in entries)
    synthetic = sum(e.status == "synthetic" for e in entries)
    skipped = len(entries) - fetch - synthetic
    lines = [
        f"aurorax-core take-away bundle, {when.strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"{len(entries)} data products: {fetch} to download, {synthetic} synthetic demo records "
        f"(no real file; `aurorax-core data_products download --from-manifest manifest.json` renders "
        f"their previews), {skipped} skipped (see the status column of manifest.csv).",
        "",
        "  sh download.sh DEST          POSIX sh + curl (PARALLEL=8 sh download.sh DEST for more at once)",
        "  python3 download.py DEST     the same with Python's standard library only",
        "  aurorax-core data_products download --from-manifest manifest.json --dest DEST",
        "",
        "manifest.json is an aurorax-cli data file (a list of AuroraX records); manifest.csv lists the",
        f"local path of each. queries/ holds the {n_queries} search(es) that fed the bundle.",
        "Cite the datasets as ACKNOWLEDGEMENTS.md says.",
    ]
    return "\n".join(lines) + "\n"


def write_bundle(
    products: Sequence[DataProduct],
    out: str | os.PathLike[str],
    *,
    queries: Sequence[DataProductQuery] = (),
    policy: FetchPolicy | None = None,
) -> Path:
    """Write the bundle zip atomically (a temporary file renamed into place); returns its path.

    Raises:
        BundleError: no products, or the zip cannot be written there (the message says why).
    """
    if not products:
        raise BundleError("there are no data products to bundle (the search found nothing?)")
    target = Path(out).expanduser()
    if target.is_dir():
        raise BundleError(f"{target} is a folder; give a file name such as {target / 'bundle.zip'}")
    files = bundle_files(products, queries=queries, policy=policy)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o755 if name.endswith((".sh", ".py")) else 0o644) << 16
                archive.writestr(info, text)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"cannot write the bundle {target} ({exc.strerror or exc})") from None
    return target


# -- reading a manifest back -----------------------------------------------------------------------

_CSV_REQUIRED: Final = ("url", "program", "platform", "instrument_type", "data_product_type", "start", "end")


def load_manifest(path: str | os.PathLike[str]) -> list[DataProduct]:
    """Products from a manifest: ``manifest.json`` (an aurorax-cli data file, or ``{"result": [...]}``),
    ``manifest.csv``, or a whole bundle zip.

    Raises:
        BundleError: the file is missing, unreadable, or not a manifest (the message says why).
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise BundleError(f"manifest {source} does not exist (or is not a file)")
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read manifest {source} ({exc.strerror or exc})") from None
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(source) as archive:
                raw = archive.read("manifest.json")
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"{source} is a zip but not an aurorax-core bundle ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BundleError(f"{source} is not a manifest (not UTF-8 text)") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return _products_from_json(text, source)
    return _products_from_csv(text, source)


def _products_from_json(text: str, source: Path) -> list[DataProduct]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{source} is not a manifest: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(payload, dict) and isinstance(payload.get("result"), list):
        payload = payload["result"]
    if not isinstance(payload, list):
        raise BundleError(f"{source} is not a manifest: expected a list of AuroraX data-product records")
    products = []
    for index, record in enumerate(payload):
        try:
            products.append(DataProduct.from_api_dict(record))
        except AuroraXCoreError as exc:
            raise BundleError(f"{source} is not a manifest: record {index}: {exc}") from None
    return products


def _products_from_csv(text: str, source: Path) -> list[DataProduct]:
    from .models import DataSource

    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _CSV_REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise BundleError(
            f"{source} is not a manifest: a manifest.csv needs the columns {', '.join(_CSV_REQUIRED)} "
            f"(missing {', '.join(missing)}); or give manifest.json"
        )
    products = []
    for line, row in enumerate(reader, 2):
        try:
            ds = DataSource(None, row["program"], row["platform"], row["instrument_type"])
            products.append(
                DataProduct.from_api_dict(
                    {
                        "data_product_type": row["data_product_type"],
                        "start": row["start"],
                        "end": row["end"],
                        "url": row["url"],
                        "metadata": {"demo_synthetic": True} if row.get("synthetic") == "yes" else {},
                    },
                    data_source=ds,
                )
            )
        except AuroraXCoreError as exc:
            raise BundleError(f"{source} is not a manifest: line {line}: {exc}") from None
    return products
