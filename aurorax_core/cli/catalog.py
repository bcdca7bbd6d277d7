"""``aurorax-core [--catalog PATH] catalog ...``: fill and inspect the embedded catalog.

* ``ingest FILE...``: AuroraX records (the ``<request_id>_data.json`` files that ``data_products
  search`` / aurorax-cli write, the data endpoint's ``{"result": [...]}``, or JSON lines), or
  data-source records. Every file is opened and classified first (a missing or unreadable file
  stops the command before anything is written); the data products of all files are then streamed
  into the catalog in ONE transaction (a bad record anywhere: nothing is written). Data-source
  files are applied just before, in their own transaction.
* ``stats``: records, sources, per-type counts, time span, file size, bytes per record.
* ``demo``: build the synthetic demo archive.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .. import config
from ..backends.base import CatalogStats
from ..errors import AuroraXCoreError, CatalogError, RecordValidationError
from ._format import (
    EXIT_CODES,
    catalog_errors,
    catalog_url,
    check_catalog_location,
    command,
    intcomma,
    natural_size,
    open_backend_for,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``catalog`` command group."""
    group = subparsers.add_parser(
        "catalog",
        help="fill and inspect the embedded catalog (ingest, stats, demo)",
        description="Fill and inspect the embedded catalog. Choose the file with the global --catalog "
        "option, given before the command: aurorax-core --catalog my.sqlite catalog ingest data.json",
        epilog=EXIT_CODES,
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND")
    group.set_defaults(handler=lambda args: (group.print_help(), 0)[1])

    ingest = commands.add_parser(
        "ingest",
        help="add or update data products (or data sources) from JSON files",
        description="Add or update records from AuroraX JSON files: a list of data-product records (what "
        '`data_products search` writes), {"result": [...]}, JSON lines, or a list of data-source records. '
        "The data products of all the files are written in one transaction: one bad record and nothing is "
        "written. A record whose URL is already in the catalog is updated.",
    )
    ingest.add_argument("files", nargs="+", metavar="FILE", help="JSON (or JSON-lines) files")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    ingest.set_defaults(handler=command(cmd_ingest))

    stats = commands.add_parser("stats", help="records, sources, per-type counts, time span and size")
    stats.set_defaults(handler=command(cmd_stats))

    demo = commands.add_parser(
        "demo",
        help="build the synthetic demo archive (realistic AuroraX-like records with generated previews)",
    )
    demo.add_argument("--start", metavar="DATE", help="first day (YYYY-MM-DD)")
    demo.add_argument("--end", metavar="DATE", help="last day (YYYY-MM-DD)")
    demo.add_argument("--full", action="store_true", help="the full archive (all sources, every day): large and slow")
    demo.add_argument(
        "--replace", action="store_true", help="overwrite the catalog file if it exists (its records are lost)"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=command(cmd_demo))

    sync = commands.add_parser(
        "sync",
        help="pull the records of an AuroraX API into the catalog (incremental, resumable)",
        description="Copy the data products of an AuroraX(-compatible) API between START and END into the "
        "catalog, one transaction per data source and month, remembering what was synced: a second run "
        "asks only for what changed (one availability request) and writes nothing when nothing did; "
        "--full re-checks every chunk. Interrupted runs continue where they stopped. Records deleted "
        "upstream are deleted locally.",
        epilog=EXIT_CODES,
    )
    sync.add_argument("start", metavar="START", help="first day or time (YYYY-MM-DD[THH:MM:SS], UTC)")
    sync.add_argument("end", metavar="END", help="last day (inclusive) or time")
    sync.add_argument("--api-url", dest="sync_api_url", metavar="URL", help="the API to copy from")
    sync.add_argument("--program", action="append", default=[], metavar="NAME", help="only this program (repeatable)")
    sync.add_argument("--platform", action="append", default=[], metavar="NAME", help="only this platform")
    sync.add_argument("--instrument-type", action="append", default=[], metavar="NAME", help="only this type")
    sync.add_argument("--full", action="store_true", help="fetch every chunk and compare, not only changed ones")
    sync.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    sync.set_defaults(handler=command(cmd_sync))


# --- reading record files ------------------------------------------------------------------------


def _load_file(path: Path) -> list[Any]:
    """The records of one file (see :func:`aurorax_core.ingest.iter_records` for the accepted forms).

    Raises:
        RecordValidationError: missing, unreadable, empty, not JSON, or not a list of records.
    """
    from ..ingest import iter_records

    return list(iter_records(path))


def _is_source_record(record: Any) -> bool:
    from ..ingest import detect_kind

    return detect_kind(record) == "sources"


def _check_product(path: Path, index: int, record: Any, seen: dict[str, tuple[Path, int]]) -> None:
    """The checks whose messages should name the file: shape, url, data_source, duplicate URLs.

    Raises:
        RecordValidationError: the record has one of these problems.
    """
    where = f"{path}: record {index}"
    if not isinstance(record, dict):
        raise RecordValidationError(f"{where} is not a JSON object: {_short(record)}")
    url = record.get("url")
    if not url or not isinstance(url, str):
        raise RecordValidationError(f"{where} has no 'url' (every data product needs its URL): {_short(record)}")
    if not record.get("data_source"):
        raise RecordValidationError(
            f"{where} ({url}) has no 'data_source'; each record needs "
            '"data_source": {"program": ..., "platform": ..., "instrument_type": ...}'
        )
    if url in seen:
        other_path, other_index = seen[url]
        other = "" if other_path == path else f" of {other_path}"
        raise RecordValidationError(
            f"{where}: duplicate URL {url} (also record {other_index}{other}); a URL identifies one record, "
            "remove one of them"
        )
    seen[url] = (path, index)


def _short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- commands ------------------------------------------------------------------------------------


def _reject_api_url(args: argparse.Namespace) -> None:
    if getattr(args, "api_url", None):
        raise AuroraXCoreError(
            "catalog commands work on the embedded catalog, not on an API; drop --api-url (use --catalog PATH)"
        )


def _catalog_backend(args: argparse.Namespace) -> Any:
    """The CatalogBackend at --catalog / AURORAX_CATALOG / the default path, created if missing
    (or the catalog database at a postgresql:// URL, its schema created if missing)."""
    from ..backends.catalog import CatalogBackend

    url = catalog_url(args)
    if url:
        from ..backends.registry import open_spec

        return open_spec(url)
    path = config.catalog_path(args.catalog)
    check_catalog_location(path, explicit=bool(args.catalog))
    with catalog_errors(path):
        return CatalogBackend(path)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ..ingest import iter_records

    _reject_api_url(args)
    started = time.perf_counter()
    paths = [Path(name) for name in args.files]
    sources: list[Any] = []
    product_files: list[Path] = []
    for path in paths:
        # Classify every file (and fail on a missing or unreadable one) before writing anything;
        # the first record decides, as in aurorax_core.ingest.
        first = next(iter(iter_records(path)), None)
        if first is not None and _is_source_record(first):
            sources.extend(_load_file(path))
        elif first is not None:
            product_files.append(path)
    offsets: list[tuple[int, Path]] = []  # (index of the file's first record in the stream, file)
    url = catalog_url(args)
    catalog_path = config.catalog_path(args.catalog)
    existed = bool(url) or catalog_path.exists()  # a database is never removed here
    backend = _catalog_backend(args)
    where = getattr(backend, "path", None) or backend.name
    try:
        if getattr(backend, "readonly", False):
            raise CatalogError(f"catalog {where} is read-only; cannot ingest into it")
        with catalog_errors(where):
            source_summary = backend.ingest_sources(sources) if sources else None
            summary = None
            if product_files:
                # Streamed: a file of millions of records is never held in memory at once.
                stream = _checked_stream(product_files, offsets)
                with _progress_bar(None, "ingest", quiet=args.quiet) as update:
                    try:
                        summary = backend.ingest_products(stream, progress=update)
                    except RecordValidationError as exc:
                        raise RecordValidationError(_name_the_file(str(exc), offsets)) from None
        stats = backend.stats()
    except BaseException:
        backend.close()
        if not existed:
            # Nothing was ingested: do not leave an empty catalog behind either.
            for leftover in (catalog_path, *(Path(f"{catalog_path}{s}") for s in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)
        raise
    backend.close()
    if args.quiet:
        return 0
    seconds = time.perf_counter() - started
    inserted = summary.inserted if summary else 0
    updated = summary.updated if summary else 0
    sources_added = (summary.sources_added if summary else 0) + (source_summary.sources_added if source_summary else 0)
    sources_updated = source_summary.sources_updated if source_summary else 0
    rate = (inserted + updated) / seconds if seconds > 0 else 0.0
    files = len(args.files)
    print(f"Ingested {files} file{'s' if files != 1 else ''} into {stats['path']}:")
    print(f"  inserted:        {intcomma(inserted)} records")
    print(f"  updated:         {intcomma(updated)} records")
    print(
        f"  sources added:   {intcomma(sources_added)}" + (f" ({sources_updated} updated)" if sources_updated else "")
    )
    print(f"  time:            {seconds:.2f} s ({rate:,.0f} records/s)")
    print(f"  catalog now:     {intcomma(stats['records'])} records from {intcomma(stats['sources'])} sources")
    return 0


def _checked_stream(paths: list[Path], offsets: list[tuple[int, Path]]) -> Iterator[Any]:
    """The records of all files, one after the other, each checked by :func:`_check_product`.

    ``offsets`` is filled as files start, so that an error the catalog reports by overall index
    can be traced back to a file.
    """
    from ..ingest import iter_records

    seen: dict[str, tuple[Path, int]] = {}
    done = 0
    for path in paths:
        offsets.append((done, path))
        for index, record in enumerate(iter_records(path)):
            _check_product(path, index, record, seen)
            yield record
            done += 1


def _name_the_file(message: str, offsets: list[tuple[int, Path]]) -> str:
    """Rewrite the catalog's "record N ..." (an index over all files) as "<file>: record n ..."."""
    match = re.match(r"record (\d+)\b", message)
    if match is None or not offsets:
        return message
    index = int(match.group(1))
    start, path = max((o for o in offsets if o[0] <= index), key=lambda o: o[0], default=offsets[0])
    return f"{path}: record {index - start}{message[match.end() :]}"


class _progress_bar:  # noqa: N801  (used as a context manager, like open())
    """A tqdm bar on stderr that appears only for runs longer than a second."""

    def __init__(self, total: int | None, what: str, *, quiet: bool) -> None:
        self.total = total
        self.what = what
        self.quiet = quiet
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="rec", desc=self.what, delay=1.0, file=sys.stderr, leave=False)

        def update(done: int) -> None:
            if self.bar is not None:
                self.bar.update(max(done - self.bar.n, 0))

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_stats(args: argparse.Namespace) -> int:
    _reject_api_url(args)
    backend = open_backend_for(args)
    try:
        if not isinstance(backend, CatalogStats):
            raise AuroraXCoreError(f"{backend.name} has no catalog statistics")
        stats = backend.stats()
    finally:
        backend.close()
    print(format_stats(stats))
    ledger = _ledger_text(args)
    if ledger:
        print(ledger)
    return 0


def _ledger_text(args: argparse.Namespace) -> str:
    """What ``catalog sync`` copied into this catalog, per origin (empty when never synced)."""
    from ..sync import SyncError, ledger_for

    backend = _catalog_backend(args)
    try:
        entries = ledger_for(backend).ledger_entries()
    except SyncError:  # an engine that keeps no sync ledger has nothing synced to show
        return ""
    finally:
        backend.close()
    if not entries:
        return ""
    lines = ["Synced from:"]
    origins: dict[str, list[Any]] = {}
    for entry in entries:
        origins.setdefault(entry.origin, []).append(entry)
    for origin, items in origins.items():
        months = sorted({e.month for e in items})
        last = max(e.synced_at for e in items)
        lines.append(
            f"  {origin}: {intcomma(sum(e.records for e in items))} records, "
            f"{len({(e.program, e.platform, e.instrument_type) for e in items})} data sources, "
            f"months {months[0]} .. {months[-1]} ({len(items)} chunks), last synced {last:%Y-%m-%d %H:%M:%S} UTC"
        )
    return "\n".join(lines)


def _sync_time(value: str, which: str, *, end: bool) -> datetime:
    from datetime import timedelta

    from ..models import parse_time

    try:
        parsed = parse_time(value, field_name=which)
    except RecordValidationError as exc:
        raise AuroraXCoreError(f"{which}: {exc}") from None
    if end and len(value.strip()) == 10:
        parsed += timedelta(days=1) - timedelta(seconds=1)  # a day given as END includes that whole day
    return parsed


def cmd_sync(args: argparse.Namespace) -> int:
    from ..backends.remote import RemoteBackend
    from ..sync import SyncProgress, sync_catalog

    api_url = args.sync_api_url or args.api_url or config.api_url_from_env()
    if not api_url:
        raise AuroraXCoreError("catalog sync needs --api-url URL (the AuroraX API to copy from)")
    start = _sync_time(args.start, "START", end=False)
    end = _sync_time(args.end, "END", end=True)
    if end < start:
        raise AuroraXCoreError(f"END {args.end} is before START {args.start}; swap them")
    remote = RemoteBackend(api_url, api_key=args.api_key)
    catalog = _catalog_backend(args)
    bar: Any = None

    def progress(event: SyncProgress) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=event.chunks_total, unit="chunk", desc="sync", file=sys.stderr, leave=False)
        bar.update(event.chunks_done - bar.n)
        bar.set_postfix(records=event.records, refresh=False)

    try:
        report = sync_catalog(
            catalog,
            remote,
            start,
            end,
            programs=args.program,
            platforms=args.platform,
            instrument_types=args.instrument_type,
            full=args.full,
            progress=progress,
        )
    except KeyboardInterrupt:
        print(
            "Error: interrupted; every chunk finished before stays in the catalog, run the same command again "
            "to continue",
            file=sys.stderr,
        )
        return 130
    finally:
        if bar is not None:
            bar.close()
        catalog.close()
        remote.close()
    if not args.quiet:
        print(report.summary())
    return 0


def format_stats(stats: dict[str, Any]) -> str:
    """The ``catalog stats`` text."""
    records = int(stats.get("records") or 0)
    lines = [
        f"Catalog:            {stats.get('path', '-')}",
        f"Records:            {intcomma(records)}",
        f"Data sources:       {intcomma(stats.get('sources'))}"
        + (
            f" ({intcomma(stats['sources_with_products'])} with data products)"
            if stats.get("sources_with_products") is not None
            else ""
        ),
    ]
    per_type = stats.get("per_type") or {}
    if per_type:
        lines.append("Records per type:")
        width = max(len(name) for name in per_type)
        for name, count in per_type.items():
            lines.append(f"  {name.ljust(width)}  {intcomma(count)}")
    earliest, latest = stats.get("earliest"), stats.get("latest")
    lines.append(f"Time span:          {earliest} .. {latest}" if earliest and latest else "Time span:          -")
    size = stats.get("file_size_bytes")
    lines.append(f"File size:          {natural_size(size) if size is not None else '-'}")
    per_record = stats.get("bytes_per_record")
    lines.append(f"Bytes per record:   {per_record:,.0f}" if per_record else "Bytes per record:   -")
    return "\n".join(lines)


def _day(value: str | None, which: str) -> date | None:
    if value is None:
        return None
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    raise AuroraXCoreError(f"cannot parse --{which} {value!r}; use YYYY-MM-DD, e.g. 2020-01-01")


def cmd_demo(args: argparse.Namespace) -> int:
    _reject_api_url(args)
    start = _day(args.start, "start")
    end = _day(args.end, "end")
    if start and end and end < start:
        raise AuroraXCoreError(f"--end {end} is before --start {start}; swap them")
    try:
        from ..demo import build_demo_archive
    except ImportError:
        raise AuroraXCoreError("the demo archive builder is not available in this installation") from None
    url = catalog_url(args)
    if url:
        return _demo_into_database(args, url, start, end)
    path = config.catalog_path(args.catalog)
    if path.exists() and not args.replace:
        # build_demo_archive replaces the whole file: never destroy a user's catalog silently.
        raise CatalogError(
            f"catalog {str(path)!r} already exists and the demo archive would replace it entirely; "
            "pass --replace to overwrite it, or choose another file with --catalog"
        )
    check_catalog_location(path, explicit=bool(args.catalog))
    started = time.perf_counter()
    bar: Any = None

    def progress(event: Any) -> None:
        # event: aurorax_core.demo.DemoBuildProgress (done/total count days, records so far)
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=event.total, unit="day", desc="demo", delay=1.0, file=sys.stderr, leave=False)
        bar.set_postfix_str(f"{event.records:,} records", refresh=False)
        bar.update(max(int(event.done) - bar.n, 0))

    try:
        with catalog_errors(path):
            result = build_demo_archive(path, start, end, full=args.full, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        print(format_demo_summary(result or {}, path, time.perf_counter() - started))
    return 0


def _demo_into_database(args: argparse.Namespace, url: str, start: date | None, end: date | None) -> int:
    """``catalog demo`` into a catalog database: the same records, ingested in one transaction."""
    from ..backends.postgres.demo import build_demo_into
    from ..backends.registry import open_spec

    backend: Any = open_spec(url)
    bar: Any = None

    def progress(event: Any) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=event.total, unit="day", desc="demo", delay=1.0, file=sys.stderr, leave=False)
        bar.set_postfix_str(f"{event.records:,} records", refresh=False)
        bar.update(max(int(event.done) - bar.n, 0))

    started = time.perf_counter()
    try:
        result = build_demo_into(backend, start, end, full=args.full, replace=args.replace, progress=progress)
    finally:
        if bar is not None:
            bar.close()
        backend.close()
    if not args.quiet:
        print(format_demo_summary(result, Path(result["path"]), time.perf_counter() - started))
    return 0


def format_demo_summary(result: dict[str, Any], path: Path, seconds: float) -> str:
    """What ``catalog demo`` built (the summary dict of build_demo_archive)."""
    lines = [
        f"Demo archive built at {result.get('path', path)} (synthetic data: every record is marked demo_synthetic)",
        f"  range:     {result.get('start', '-')} .. {result.get('end', '-')} ({intcomma(result.get('days'))} days)",
        f"  records:   {intcomma(result.get('records'))} from {intcomma(result.get('sites'))} sites "
        f"({intcomma(result.get('sources'))} data sources)",
    ]
    size = result.get("bytes")
    rate = result.get("records_per_second")
    lines.append(f"  size:      {natural_size(size) if isinstance(size, (int, float)) else '-'}")
    lines.append(
        f"  time:      {float(result.get('seconds') or seconds):.1f} s"
        + (f" (ingest {rate:,.0f} records/s)" if isinstance(rate, (int, float)) else "")
    )
    return "\n".join(lines)
