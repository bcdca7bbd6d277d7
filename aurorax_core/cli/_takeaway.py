"""``aurorax-core data_products bundle|download``: take products away (a bundle zip, or the files).

Products come from query files (searched on the backend the global options choose: the catalog
or ``--api-url``) and/or from a manifest (``--from-manifest``: a bundle's manifest.json or
manifest.csv, an aurorax-cli data file, or a bundle zip).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..bundle import load_manifest, write_bundle
from ..download import DEFAULT_PARALLEL, DEFAULT_RETRIES, Downloader, DownloadProgress
from ..errors import AuroraXCoreError
from ..models import DataProduct
from ..query import DataProductQuery
from . import _common
from ._format import bounded_int, command, open_backend_for


def register_takeaway(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bundle`` and ``download`` to the data_products command group."""
    bundle = commands.add_parser(
        "bundle",
        help="write a take-away bundle (manifest, download scripts, queries, ACKNOWLEDGEMENTS.md) as a zip",
        description="Search each query file (and/or read --from-manifest) and write a zip with manifest.csv, "
        "manifest.json (an aurorax-cli data file), download.sh (POSIX sh + curl), download.py (Python standard "
        "library), the query files and ACKNOWLEDGEMENTS.md (dataset, DOI, acknowledgement, date range).",
    )
    _sources(bundle)
    bundle.add_argument("--out", required=True, metavar="FILE", help="the zip to write, e.g. bundle.zip")
    bundle.set_defaults(handler=command(cmd_bundle))

    download = commands.add_parser(
        "download",
        help="download the files of the products a query (or manifest) names, with citations",
        description="Download each product's file into DEST/program/platform/YYYY-MM-DD/<file name>, resuming "
        "partial files and skipping complete ones; ACKNOWLEDGEMENTS.md and manifest.csv are written beside. "
        "Exit 1 when any file failed (the reasons are listed).",
    )
    _sources(download)
    download.add_argument("--dest", required=True, metavar="DIR", help="destination folder")
    download.add_argument(
        "--parallel",
        type=bounded_int(1, 64),
        default=DEFAULT_PARALLEL,
        metavar="N",
        help="downloads at a time (default 4)",
    )
    download.add_argument(
        "--retries",
        type=bounded_int(1, 20),
        default=DEFAULT_RETRIES,
        metavar="N",
        help="attempts per file for transient failures (default 3)",
    )
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    download.set_defaults(handler=command(cmd_download))


def _sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("infiles", nargs="*", metavar="QUERY.json", help="query files (the search_template form)")
    parser.add_argument("--from-manifest", metavar="FILE", help="manifest.json / manifest.csv / bundle zip")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also allow this host (besides data.phys.ucalgary.ca, data.swarm-aurora.com and AURORAX_ALLOWED_HOSTS)",
    )


def _collect(args: argparse.Namespace) -> tuple[list[DataProduct], list[DataProductQuery]]:
    from .data_products import read_query_file

    if not args.infiles and not args.from_manifest:
        raise AuroraXCoreError("give at least one query file, or --from-manifest FILE")
    queries = [read_query_file(path) for path in args.infiles]
    products: list[DataProduct] = []
    if args.from_manifest:
        products.extend(load_manifest(args.from_manifest))
    if queries:
        backend = open_backend_for(args, quiet=True)
        try:
            for query in queries:
                products.extend(backend.search(query).data)
        finally:
            backend.close()
    return products, queries


def _hosts(args: argparse.Namespace) -> list[str]:
    from .._fetch import DEFAULT_ALLOWED_HOSTS

    return [*DEFAULT_ALLOWED_HOSTS, *args.allowed_host]


def cmd_bundle(args: argparse.Namespace) -> int:
    products, queries = _collect(args)
    downloader = Downloader(".", allowed_hosts=_hosts(args))
    path = write_bundle(products, args.out, queries=queries, policy=downloader.policy)
    print(f"Wrote {path} ({len(products)} data products, {len(queries)} queries)")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    products, _queries = _collect(args)
    downloader = Downloader(args.dest, allowed_hosts=_hosts(args), parallel=args.parallel, retries=args.retries)
    bars: list[Any] = []
    if not args.quiet:
        from tqdm import tqdm

        bars = [
            tqdm(total=len(products), unit="file", desc="files", file=sys.stderr, leave=False, position=0),
            tqdm(unit="B", unit_scale=True, desc="bytes", file=sys.stderr, leave=False, position=1),
        ]

    def progress(event: DownloadProgress) -> None:
        if bars:
            bars[0].update(event.files_done - bars[0].n)
            bars[1].update(event.bytes_done - bars[1].n)

    try:
        report = downloader.run(products, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    _common.info(report.summary())
    return 0 if report.ok else 1
