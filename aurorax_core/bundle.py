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

from ._download_scripts import python_script, shell_script
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
