"""``aurorax-core data_products ...``: aurorax-cli's data-product commands, on the catalog or an AuroraX API.

Commands and output follow ``aurorax-cli search data_products`` (PROTOCOL §9):
``search``, ``search_template``, ``describe``, ``get_status``, ``get_logs``, ``get_query``,
``get_data`` and ``search_resubmit``.
"""

from __future__ import annotations

import argparse
import json
import os
import pprint
import sys
import textwrap
from typing import Any

from .. import config
from ..backends.base import Backend, RequestTracking
from ..errors import AuroraXCoreError, NotFound, QueryValidationError, SearchFailed
from ..events import STAGE_REQUEST_ID, STAGE_RETRIEVED, STAGE_RETRIEVING, STAGE_WAITING, SearchEvent
from ..query import SEARCH_TEMPLATE, DataProductQuery
from . import _common
from ._format import (
    EXIT_CODES,
    bounded_int,
    command,
    data_url,
    format_table,
    intcomma,
    natural_size,
    open_backend_for,
    precise_duration,
    timestamp_text,
    write_json_atomic,
    write_text_atomic,
)

LOG_LEVELS = ("debug", "info", "warn", "error")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``data_products`` command group."""
    group = subparsers.add_parser(
        "data_products",
        help="search data products and inspect search requests (aurorax-cli compatible)",
        description="Interact with data product searches.",
        epilog=EXIT_CODES,
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND")
    group.set_defaults(handler=lambda args: _print_group_help(group))

    search = commands.add_parser(
        "search",
        help="perform a data product search from a query file",
        description="Perform a data product search. INFILE is a JSON query in the form printed by "
        "`search_template`. The data are written to <request_id>_data.json unless --outfile or "
        "--output-to-terminal is given.",
    )
    search.add_argument("infile", metavar="INFILE", help="input file with the query (JSON)")
    search.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="accepted for aurorax-cli compatibility and ignored: the search waits for its data with its own "
        "adaptive polling (AuroraX API) or none at all (catalog)",
    )
    _add_output_options(search)
    search.add_argument("--quiet", action="store_true", help="print nothing but errors")
    search.set_defaults(handler=command(cmd_search))

    template = commands.add_parser("search_template", help="print a template for a data product search query")
    template.add_argument("--outfile", metavar="FILE", help="save the template to a file")
    template.add_argument("--indent", type=bounded_int(0, 32), default=2, metavar="N", help="indentation (default: 2)")
    template.set_defaults(handler=command(cmd_search_template))

    describe = commands.add_parser("describe", help='describe a query file in AuroraX\'s "SQL-like" syntax')
    describe.add_argument("infile", metavar="INFILE", help="input file with the query (JSON)")
    describe.set_defaults(handler=command(cmd_describe))

    status = commands.add_parser("get_status", help="get status information for a search request")
    status.add_argument("request_id", metavar="REQUEST_ID", help="the request id")
    status.add_argument("--show-logs", action="store_true", help="show the request's logs")
    status.add_argument("--show-query", action="store_true", help="show the request's query")
    status.add_argument("--filter-logs", choices=LOG_LEVELS, help="only show logs of this level (with --show-logs)")
    status.add_argument(
        "--table-max-width",
        "--max-width",
        type=bounded_int(1, 100_000),
        metavar="N",
        help="wrap log summaries to fit this table width",
    )
    status.set_defaults(handler=command(cmd_get_status))

    logs = commands.add_parser("get_logs", help="get the logs of a search request")
    logs.add_argument("request_id", metavar="REQUEST_ID", help="the request id")
    logs.add_argument("--filter", "--filter-logs", dest="filter_logs", choices=LOG_LEVELS, help="only this level")
    logs.add_argument(
        "--table-max-width",
        "--max-width",
        type=bounded_int(1, 100_000),
        metavar="N",
        help="wrap log summaries to fit this table width",
    )
    logs.set_defaults(handler=command(cmd_get_logs))

    query = commands.add_parser("get_query", help="get the query of a search request")
    query.add_argument("request_id", metavar="REQUEST_ID", help="the request id")
    query.set_defaults(handler=command(cmd_get_query))

    data = commands.add_parser("get_data", help="get the data of a completed search request")
    data.add_argument("request_id", metavar="REQUEST_ID", help="the request id")
    _add_output_options(data)
    data.set_defaults(handler=command(cmd_get_data))

    resubmit = commands.add_parser("search_resubmit", help="run the query of an earlier search request again")
    resubmit.add_argument("request_id", metavar="REQUEST_ID", help="the request id")
    resubmit.set_defaults(handler=command(cmd_search_resubmit))

    from ._takeaway import register_takeaway  # bundle / download live there (one reason to change)

    register_takeaway(commands)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outfile", metavar="FILE", help="file to save the data to (default: <request_id>_data.json)")
    parser.add_argument(
        "--output-to-terminal",
        choices=("dict", "objects"),
        help="print the data to the terminal in this form instead of saving a file",
    )
    parser.add_argument(
        "--indent", type=bounded_int(0, 32), default=2, metavar="N", help="JSON indentation (default: 2)"
    )
    parser.add_argument("--minify", action="store_true", help="write the JSON without indentation")


def _print_group_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


# --- query files ---------------------------------------------------------------------------------


def read_query_file(infile: str) -> DataProductQuery:
    """Read a query file, with aurorax-cli's message for a missing file.

    Raises:
        QueryValidationError: the file is missing, empty, not JSON or not a valid query.
    """
    if not os.path.exists(infile):
        raise QueryValidationError(f"infile doesn't exist ({infile})")
    if os.path.isdir(infile):
        raise QueryValidationError(f"infile is a directory, not a query file ({infile})")
    return DataProductQuery.from_file(infile)


def cmd_search_template(args: argparse.Namespace) -> int:
    text = json.dumps(SEARCH_TEMPLATE, indent=args.indent)
    if args.outfile:
        write_text_atomic(args.outfile, text)
        print(f"Saved template to {args.outfile}")
    else:
        print(text)
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    query = read_query_file(args.infile)
    if not _api_url(args):
        # The catalog describes a query exactly as DataProductQuery.describe() does; no need to
        # open (or first build) a catalog for that.
        print(query.describe())
        return 0
    backend = open_backend_for(args)
    try:
        print(backend.describe(query))
    finally:
        backend.close()
    return 0


def _api_url(args: argparse.Namespace) -> str | None:
    if getattr(args, "api_url", None):
        return str(args.api_url)
    return None if getattr(args, "catalog", None) else config.api_url_from_env()


# --- search --------------------------------------------------------------------------------------


def cmd_search(args: argparse.Namespace) -> int:
    quiet = bool(args.quiet)
    if not os.path.exists(args.infile):
        raise QueryValidationError(f"infile doesn't exist ({args.infile})")
    _common.info("Reading in query file ...", quiet=quiet)
    query = read_query_file(args.infile)
    _common.info("Preparing search ...", quiet=quiet)
    _check_output_target(args)
    backend = open_backend_for(args, quiet=quiet)
    try:
        if _records_requests_locally(backend):
            request_id, records, file_size = _tracked_search(backend, query, quiet=quiet)
        else:

            def progress(event: SearchEvent) -> None:
                # The lines aurorax-cli prints (checked against aurorax-cli 1.27 on `aurorax-core serve`):
                # no "Waiting for data ...", no "Retrieving"/"Retrieved" (its own "Downloading ..."
                # follows), and the request URL after the id.
                if event.stage in (STAGE_WAITING, STAGE_RETRIEVING, STAGE_RETRIEVED):
                    return
                _common.info(event.message, quiet=quiet)
                if event.stage == STAGE_REQUEST_ID and event.detail.get("request_url"):
                    _common.info(f"Request details available at: {event.detail['request_url']}", quiet=quiet)

            result = backend.search(query, progress=progress)
            request_id, records, file_size = result.request_id, result.to_api_records(), result.file_size
            if getattr(backend, "readonly", False) and not quiet:
                print(
                    f"Note: {backend.name} is read-only, so this request is not recorded "
                    "(get_status/get_data cannot look it up later)",
                    file=sys.stderr,
                )
    finally:
        backend.close()
    records = sorted(records, key=lambda record: record["start"])
    _common.info(f"Downloading {intcomma(len(records))} results and {natural_size(file_size)} of data ...", quiet=quiet)
    _output_records(args, records, request_id, quiet=quiet, show_times=True)
    return 0


def _records_requests_locally(backend: Backend) -> bool:
    """True for a writable local catalog (SQLite or PostgreSQL): its searches must be submitted to be
    trackable.

    (A remote search is tracked by the server anyway; a read-only catalog cannot record one.)
    """
    from ..backends.remote import RemoteBackend

    if isinstance(backend, RemoteBackend) or not isinstance(backend, RequestTracking):
        return False
    return not bool(getattr(backend, "readonly", False))


def _tracked_search(backend: Any, query: DataProductQuery, *, quiet: bool) -> tuple[str, list[dict[str, Any]], int]:
    """Search through the request lifecycle so that get_status/get_data/search_resubmit know the id."""
    _common.info("Search object created", quiet=quiet)
    request_id = backend.submit(query)
    _common.info("Request submitted", quiet=quiet)
    _common.info(f"Request ID: {request_id}", quiet=quiet)
    status = backend.request_status(request_id)
    result = status.get("search_result") or {}
    if result.get("error_condition"):
        logs = status.get("logs") or []
        reason = logs[-1].get("summary") if logs else "no reason given"
        raise SearchFailed(f"the search {request_id} failed: {reason}")
    _common.info("Data is now available", quiet=quiet)
    return request_id, backend.request_data(request_id), int(result.get("file_size") or 0)


def _check_output_target(args: argparse.Namespace) -> None:
    # Fail before searching, not after: a typo in --outfile must not cost a long search.
    outfile = getattr(args, "outfile", None)
    if outfile and getattr(args, "output_to_terminal", None) is None:
        directory = os.path.dirname(os.path.abspath(outfile))
        if not os.path.isdir(directory):
            raise AuroraXCoreError(f"cannot write {outfile!r}: directory {directory!r} does not exist")
        if os.path.isdir(outfile):
            raise AuroraXCoreError(f"cannot write {outfile!r}: it is a directory; give a file name")


def _output_records(
    args: argparse.Namespace, records: list[dict[str, Any]], request_id: str, *, quiet: bool, show_times: bool
) -> None:
    def say(message: str) -> None:
        if show_times:
            _common.info(message, quiet=quiet)
        elif not quiet:
            print(message, flush=True)

    if args.output_to_terminal is not None:
        print()
        if args.output_to_terminal == "dict":
            pprint.pprint(records)
        else:
            for record in records:
                print(_object_line(record))
        return
    outfile = args.outfile or f"{request_id}_data.json"
    say("Writing data to file ...")
    write_json_atomic(outfile, records, indent=args.indent, minify=args.minify)
    say(f"Data has been saved to '{outfile}'")


def _object_line(record: dict[str, Any]) -> str:
    """One record the way aurorax-cli's ``--output-to-terminal objects`` shows it (pyaurorax's
    DataProductData repr: url and metadata cut after 20 characters, the data source elided)."""

    def cut(text: str, tail: str) -> str:
        return text if len(text) <= 20 else text[:20] + tail

    return (
        f"DataProductData(start={record.get('start')!r}, end={record.get('end')!r}, "
        f"data_product_type='{record.get('data_product_type')}', url='{cut(str(record.get('url')), '...')}', "
        f"metadata={cut(str(record.get('metadata')), '...}')}, data_source=DataSource(...))"
    )


# --- request tracking ----------------------------------------------------------------------------


def _tracking_backend(args: argparse.Namespace) -> Backend:
    backend = open_backend_for(args)
    if not isinstance(backend, RequestTracking):
        backend.close()
        raise AuroraXCoreError(f"{backend.name} does not keep search requests, so there is no request to look up")
    return backend


def _status(backend: Backend, request_id: str) -> dict[str, Any]:
    assert isinstance(backend, RequestTracking)
    try:
        status = backend.request_status(request_id)
    except NotFound:
        raise NotFound(
            f"request ID not found ({request_id}); it may be mistyped or have expired; run the search again"
        ) from None
    if not isinstance(status, dict) or not isinstance(status.get("search_request"), dict):
        raise AuroraXCoreError(f"the status of request {request_id} has no 'search_request'; cannot display it")
    if not isinstance(status.get("search_result"), dict):
        status["search_result"] = {}
    return status


def _logs_table(logs: list[dict[str, Any]], level: str | None, max_width: int | None) -> str:
    # aurorax-cli wraps summaries to the table width minus 43 (timestamp, level, padding), to the
    # terminal's width when none is given, and to 70 when neither is known (output to a file).
    if max_width is None:
        try:
            max_width = os.get_terminal_size().columns
        except OSError:
            max_width = None
    wrap = max_width - 43 if max_width is not None and max_width - 43 > 0 else 70
    rows = []
    for entry in logs:
        if not isinstance(entry, dict) or (level is not None and entry.get("level") != level):
            continue
        summary = str(entry.get("summary", ""))
        if len(summary) > 1000:
            summary = summary[:1000] + "..."
        rows.append(
            (timestamp_text(entry.get("timestamp")), entry.get("level", "-"), "\n".join(textwrap.wrap(summary, wrap)))
        )
    return format_table(("Timestamp", "Level", "Summary"), rows)


def _query_without_id(status: dict[str, Any]) -> str | None:
    query = status["search_request"].get("query")
    if not isinstance(query, dict):
        return None
    shown = dict(query)
    shown.pop("request_id", None)
    return pprint.pformat(shown)


def cmd_get_status(args: argparse.Namespace) -> int:
    backend = _tracking_backend(args)
    try:
        status = _status(backend, args.request_id)
        result = status["search_result"]
        completed = result.get("completed_timestamp") is not None
        lines = [
            ("Completed:\t\t", "True" if completed else "False"),
            ("Requested timestamp:\t", timestamp_text(status["search_request"].get("requested"))),
            ("Completed timestamp:\t", timestamp_text(result.get("completed_timestamp"))),
        ]
        if completed:
            duration = result.get("query_duration") or 0
            lines += [
                ("Query duration:\t\t", f"{precise_duration(duration)} ({duration:.0f}ms)"),
                ("Error condition:\t", "True" if result.get("error_condition") is True else "False"),
                ("Data URL:\t\t", data_url(backend, result.get("data_uri"))),
                ("File size:\t\t", natural_size(result.get("file_size") or 0)),
                ("Result count:\t\t", intcomma(result.get("result_count"))),
            ]
        else:
            lines += [
                ("Query duration:\t\t", "-"),
                ("Error condition:\t", "-"),
                ("Data URL:\t\t", "-"),
                ("File size:\t\t", "-"),
                ("Result count:\t\t", "-"),
            ]
        for label, value in lines:
            print(f"{label}{value}")
        if args.show_logs:
            print()
            print(_logs_table(status.get("logs") or [], args.filter_logs, args.table_max_width))
        if args.show_query:
            shown = _query_without_id(status)
            if shown is None:
                print("\nSearch query: missing, unable to display")
            else:
                print("\nSearch query:\n==================")
                print(shown)
    finally:
        backend.close()
    return 0


def cmd_get_logs(args: argparse.Namespace) -> int:
    backend = _tracking_backend(args)
    try:
        status = _status(backend, args.request_id)
    finally:
        backend.close()
    if "logs" not in status:
        print("Search logs: missing, unable to display")
        return 0
    print(_logs_table(status.get("logs") or [], args.filter_logs, args.table_max_width))
    return 0


def cmd_get_query(args: argparse.Namespace) -> int:
    backend = _tracking_backend(args)
    try:
        status = _status(backend, args.request_id)
    finally:
        backend.close()
    shown = _query_without_id(status)
    if shown is None:
        raise AuroraXCoreError(f"the status of request {args.request_id} has no query; unable to display it")
    print(shown)
    return 0


def cmd_get_data(args: argparse.Namespace) -> int:
    _check_output_target(args)
    backend = _tracking_backend(args)
    try:
        print("Checking request status ...", flush=True)
        status = _status(backend, args.request_id)
        result = status["search_result"]
        if result.get("completed_timestamp") is None:
            raise AuroraXCoreError(
                f"Search is not done yet, not retrieving data; check with "
                f"`aurorax-core data_products get_status {args.request_id}`"
            )
        if result.get("error_condition") is True:
            logs = status.get("logs") or []
            reason = logs[-1].get("summary") if logs and isinstance(logs[-1], dict) else "no reason given"
            raise AuroraXCoreError(f"search request {args.request_id} failed: {reason}")
        print(
            f"Downloading {intcomma(result.get('result_count'))} results and "
            f"{natural_size(result.get('file_size') or 0)} of data ...",
            flush=True,
        )
        assert isinstance(backend, RequestTracking)
        try:
            records = backend.request_data(args.request_id)
        except NotFound:
            raise NotFound(
                f"the data of request {args.request_id} are no longer available; run "
                f"`aurorax-core data_products search_resubmit {args.request_id}`"
            ) from None
    finally:
        backend.close()
    records = sorted(records, key=lambda record: str(record.get("start", "")))
    _output_records(args, records, args.request_id, quiet=False, show_times=False)
    return 0


def cmd_search_resubmit(args: argparse.Namespace) -> int:
    backend = _tracking_backend(args)
    try:
        print(f"Retrieving query for request '{args.request_id}' ...", flush=True)
        status = _status(backend, args.request_id)
        payload = status["search_request"].get("query")
        if not isinstance(payload, dict):
            raise AuroraXCoreError("Error resubmitting: missing query from original request ID")
        print("Preparing new search ...", flush=True)
        query = DataProductQuery.from_api_payload(payload)
        print("Submitting new search ...", flush=True)
        assert isinstance(backend, RequestTracking)
        new_id = backend.submit(query)
    finally:
        backend.close()
    print(f"Request has been resubmitted, new request ID is {new_id}")
    return 0
