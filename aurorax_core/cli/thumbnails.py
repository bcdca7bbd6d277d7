"""``aurorax-core thumbnails ...``: warm, inspect and clear the thumbnail/preview cache.

* ``thumbnails prefetch QUERY.json [--kind thumbnail|preview|both] [--workers N] [--cache-dir DIR]``
  runs the query (on ``--catalog`` or ``--api-url``) and fetches/renders a thumbnail and/or
  preview for every result into the cache, with a progress bar, then prints a summary: how many
  are ready and, grouped by reason, why the others have none. Failed previews are not an error
  (the exit code is 0); bad input (a missing or invalid query file, a bad option) is: one line on
  stderr and exit code 1.
* ``thumbnails info [--cache-dir DIR]``: where the cache is, its size and bound, the allowed hosts.
* ``thumbnails clear [--cache-dir DIR]``: delete every cached entry.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from .. import config
from .._fetch import FetchConfigError, parse_host_rule
from ..client import run_query
from ..errors import AuroraXCoreError, QueryValidationError
from ..progress import natural_size
from ..query import DataProductQuery
from ..thumbnails import DEFAULT_ALLOWED_HOSTS, ENV_ALLOWED_HOSTS, ENV_LOCAL_ROOTS, Preview, ThumbnailService
from ._format import open_backend_for

_KINDS = {"thumbnail": ("thumbnail",), "preview": ("preview",), "both": ("thumbnail", "preview")}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``thumbnails`` command group."""
    group = subparsers.add_parser(
        "thumbnails",
        help="warm, inspect or clear the thumbnail/preview cache",
        description="Thumbnails and previews of data products, kept in a size-bounded disk cache.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND")
    group.set_defaults(handler=lambda args: _print_help(group))

    prefetch = commands.add_parser(
        "prefetch",
        help="fetch/render the previews of every result of a query into the cache",
        description="Run QUERY.json (a query in the form printed by `data_products search_template`) and "
        "warm the cache with a thumbnail and/or preview for every result. Remote previews are fetched "
        f"only from allowed hosts ({', '.join(DEFAULT_ALLOWED_HOSTS)}, plus ${ENV_ALLOWED_HOSTS} and "
        "--allow-host); demo records are rendered locally.",
    )
    prefetch.add_argument("infile", metavar="QUERY.json", help="the query file (JSON)")
    prefetch.add_argument(
        "--kind",
        default="thumbnail",
        metavar="KIND",
        help="what to prefetch: thumbnail (default), preview (full size), or both",
    )
    prefetch.add_argument(
        "--workers", default="6", metavar="N", help="parallel fetches/renders (default 6, at most 32)"
    )
    _cache_dir_option(prefetch)
    prefetch.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="also fetch from HOST (host, host:port or host:*); repeatable",
    )
    prefetch.add_argument(
        "--local-root",
        action="append",
        default=[],
        metavar="DIR",
        help=f"read file: URLs and paths below DIR (also ${ENV_LOCAL_ROOTS}); repeatable",
    )
    prefetch.add_argument("--limit", default=None, metavar="N", help="only the first N results")
    prefetch.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    prefetch.set_defaults(handler=_prefetch)

    info = commands.add_parser("info", help="show where the cache is and how full it is")
    _cache_dir_option(info)
    info.set_defaults(handler=_info)

    clear = commands.add_parser("clear", help="delete every cached thumbnail, preview and movie")
    _cache_dir_option(clear)
    clear.set_defaults(handler=_clear)


def _cache_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help=f"cache folder (default: {config.user_cache_dir() / 'thumbnails'}; $AURORAX_CACHE_DIR moves it)",
    )


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _int_option(name: str, text: str | None, low: int, high: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise QueryValidationError(f"{name} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise QueryValidationError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _cache_dir(args: argparse.Namespace) -> Path:
    return Path(args.cache_dir).expanduser() if args.cache_dir else config.user_cache_dir() / "thumbnails"


def _ensure_cache_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise QueryValidationError(
            f"cannot use {str(path)!r} as the cache folder ({exc.strerror or exc}); choose another with --cache-dir"
        ) from None


def _prefetch(args: argparse.Namespace) -> int:
    kinds = _KINDS.get(args.kind)
    if kinds is None:
        raise QueryValidationError(f"--kind must be thumbnail, preview or both, got {args.kind!r}")
    workers = _int_option("--workers", args.workers, 1, 32) or 6
    limit = _int_option("--limit", args.limit, 1, 10_000_000)
    for entry in args.allow_host:
        try:
            parse_host_rule(entry)
        except FetchConfigError as exc:
            raise QueryValidationError(f"--allow-host: {exc}") from None
    query = DataProductQuery.from_file(args.infile)
    cache_dir = _cache_dir(args)
    service = ThumbnailService(
        cache_dir,
        allowed_hosts=(*DEFAULT_ALLOWED_HOSTS, *args.allow_host),
        local_roots=args.local_root,
    )
    _ensure_cache_dir(cache_dir)

    backend = open_backend_for(args)
    try:
        result = run_query(query, backend=backend)
    finally:
        backend.close()
    products = list(result.data)[:limit] if limit else list(result.data)
    what = " and ".join(f"{k}s" for k in kinds)
    if not products:
        print(f"No data products match the query; no {what} to prefetch.")
        return 0

    from tqdm import tqdm

    started = time.perf_counter()
    lock = threading.Lock()
    with tqdm(
        total=len(products) * len(kinds),
        desc=f"Prefetching {what}",
        unit="file",
        file=sys.stderr,
        disable=args.no_progress,
        dynamic_ncols=True,
    ) as bar:

        def advance(_preview: Preview) -> None:
            with lock:
                bar.update(1)

        previews = service.prefetch(products, kinds=kinds, max_workers=workers, on_done=advance)
    elapsed = time.perf_counter() - started
    _print_summary(previews, len(products), what, service, elapsed)
    return 0


def _print_summary(
    previews: list[Preview], product_count: int, what: str, service: ThumbnailService, elapsed: float
) -> None:
    ok = [p for p in previews if p.ok]
    failed = [p for p in previews if not p.ok]
    cached = sum(1 for p in ok if p.source == "cache")
    synthetic = sum(1 for p in ok if p.synthetic)
    print(
        f"Prefetched {what} for {product_count} data product{'s' if product_count != 1 else ''} "
        f"into {service.cache_dir} in {elapsed:.1f} s"
    )
    details = []
    if cached:
        details.append(f"{cached} already cached")
    if synthetic:
        details.append(f"{synthetic} synthetic (demo)")
    print(f"  {len(ok)} ok" + (f" ({', '.join(details)})" if details else ""))
    if failed:
        print(f"  {len(failed)} failed:")
        reasons = Counter(p.reason or "unknown" for p in failed)
        example = {}
        for preview in failed:
            example.setdefault(preview.reason or "unknown", preview.url)
        for reason, count in reasons.most_common():
            print(f"    {count} × {reason} (e.g. {example[reason]})")


def _info(args: argparse.Namespace) -> int:
    service = ThumbnailService(_cache_dir(args))
    info = service.cache_info()
    print(f"Cache folder:  {info['cache_dir']}")
    print(f"Entries:       {info['entries']}")
    print(f"Size:          {natural_size(info['bytes'])} of {natural_size(info['max_bytes'])}")
    print(f"Allowed hosts: {', '.join(service.allowed_hosts) or 'none'}")
    print(f"Local folders: {', '.join(service.local_roots) or 'none'}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    path = _cache_dir(args)
    if not path.is_dir():
        print(f"No cache at {path}; nothing to clear.")
        return 0
    try:
        removed = ThumbnailService(path).clear_cache()
    except OSError as exc:  # clear_cache skips files it cannot remove; this is the folder itself
        raise AuroraXCoreError(f"cannot clear {path}: {exc}") from None
    print(f"Removed {removed} cached entr{'y' if removed == 1 else 'ies'} from {path}.")
    return 0
