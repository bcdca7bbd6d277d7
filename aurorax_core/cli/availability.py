"""``aurorax-core availability data_products START END``: records per source and day (aurorax-cli's table).

Without ``--expected``, ``--format`` or ``--by`` the output is aurorax-cli's, unchanged: a row per
source and day with products. With any of them, every source of the selection appears on every day
(or month) of the range, and ``--expected`` adds the dark hours and a status (present / partial /
missing / not_expected / unknown / absent; :mod:`aurorax_core.availability_status`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime
from typing import Any

from ..errors import QueryValidationError
from ._format import EXIT_CODES, command, format_table, intcomma, open_backend_for

FORMATS = ("table", "csv", "json")
ORDER_CHOICES = ("identifier", "program", "platform", "instrument_type", "source_type", "display_name")
DATE_FORMATS_HELP = "YYYY/MM/DD, YYYY-MM-DD or YYYYMMDD"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``availability`` command group."""
    group = subparsers.add_parser(
        "availability",
        help="how many data products exist per source and day",
        description="Retrieve data availability.",
        epilog=EXIT_CODES,
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND")
    group.set_defaults(handler=lambda args: (group.print_help(), 0)[1])

    products = commands.add_parser(
        "data_products",
        help="data product availability per source and day",
        description=f"Data product records per source and day. START_DATE and END_DATE are inclusive "
        f"({DATE_FORMATS_HELP}).",
    )
    products.add_argument("start_date", metavar="START_DATE", help=f"first day, inclusive ({DATE_FORMATS_HELP})")
    products.add_argument("end_date", metavar="END_DATE", help=f"last day, inclusive ({DATE_FORMATS_HELP})")
    products.add_argument("--program", help="the program to filter for")
    products.add_argument("--platform", help="the platform to filter for")
    products.add_argument("--instrument-type", help="the instrument type to filter for")
    products.add_argument("--source-type", help="the source type to filter for")
    products.add_argument("--order", choices=ORDER_CHOICES, default="identifier", help="order by this column")
    products.add_argument("--reversed", action="store_true", help="reverse the order")
    products.add_argument(
        "--expected",
        action="store_true",
        help="add the hours of dark sky at each site and a status: present, partial (under half the usual "
        "count for a day with as many dark hours), missing (dark sky, no products), not_expected (under "
        "an hour of dark sky), unknown (no site coordinates), absent (no products at a source that does "
        "not need a dark sky)",
    )
    products.add_argument(
        "--format",
        choices=FORMATS,
        help="table, csv or json (one object per source and day, days without products included); "
        "with any of --expected/--format/--by every source appears on every day",
    )
    products.add_argument(
        "--by",
        choices=("day", "month", "auto"),
        help="one row per source and day or month (auto, the default with --expected/--format: "
        "months for ranges over a year; days are allowed up to 20 years)",
    )
    products.add_argument(
        "--sun-elevation",
        type=float,
        default=-12.0,
        metavar="DEGREES",
        help="with --expected: imaging is expected while the sun is below this elevation (default -12)",
    )
    products.set_defaults(handler=command(cmd_data_products))


def parse_cli_date(text: str, which: str) -> date:
    """A date in one of aurorax-cli's three forms.

    Raises:
        QueryValidationError: the text is none of them (or not a real date).
    """
    value = text.strip()
    pattern = "%Y/%m/%d" if "/" in value else "%Y-%m-%d" if "-" in value else "%Y%m%d"
    try:
        return datetime.strptime(value, pattern).date()
    except ValueError:
        raise QueryValidationError(
            f"cannot parse {which} date {text!r}; use {DATE_FORMATS_HELP}, e.g. 2020-01-01"
        ) from None


def cmd_data_products(args: argparse.Namespace) -> int:
    start = parse_cli_date(args.start_date, "start")
    end = parse_cli_date(args.end_date, "end")
    if end < start:
        raise QueryValidationError(f"end date {end} is before start date {start}; swap them")
    if args.expected or args.format or args.by:
        return _records_output(args, start, end)
    backend = open_backend_for(args)
    try:
        availability = backend.availability(
            start,
            end,
            program=args.program,
            platform=args.platform,
            instrument_type=args.instrument_type,
            source_type=args.source_type,
        )
    finally:
        backend.close()
    if args.order == "identifier":
        availability = sorted(
            availability, key=lambda a: (a.data_source.identifier is None, a.data_source.identifier or 0)
        )
    else:
        availability = sorted(availability, key=lambda a: str(getattr(a.data_source, args.order)))
    if args.reversed:
        availability.reverse()
    rows = []
    for item in availability:
        source = item.data_source
        for day, count in sorted(item.available_data_products.items()):
            rows.append(
                [
                    source.identifier,
                    source.display_name,
                    source.program,
                    source.platform,
                    source.instrument_type,
                    source.source_type,
                    day,
                    intcomma(count),
                ]
            )
    if not rows:
        print("No data products availability information found!")
        return 0
    headers = [
        "Identifier",
        "Display Name",
        "Program",
        "Platform",
        "Instrument Type",
        "Source Type",
        "Date",
        "Available Records",
    ]
    headers = [h + " \u2193" if h.lower().replace(" ", "_") == args.order else h for h in headers]
    print(format_table(headers, rows))
    return 0


_STATUS_ORDER = ("present", "partial", "missing", "not_expected", "unknown", "absent")


def _records_output(args: argparse.Namespace, start: date, end: date) -> int:
    """Every source on every day (or month) of the range, optionally with expected hours and status."""
    from ..availability_status import availability

    backend = open_backend_for(args)
    try:
        report = availability(
            start,
            end,
            program=args.program,
            platform=args.platform,
            instrument_type=args.instrument_type,
            source_type=args.source_type,
            expected=args.expected,
            by=args.by or "auto",
            threshold=args.sun_elevation,
            backend=backend,
        )
    finally:
        backend.close()
    records = list(report)

    def source_order(r: Any) -> Any:
        if args.order == "identifier":
            return (r.identifier is None, r.identifier or 0)
        return str(getattr(r, args.order))

    # stable: each source's days stay in date order, also when the sources are reversed
    records.sort(key=source_order, reverse=args.reversed)
    for note in report.notes:
        print(f"Note: {note}", file=sys.stderr)
    fmt = args.format or "table"
    if fmt == "json":
        print("[" + ",\n".join(json.dumps(r.to_dict(), ensure_ascii=False) for r in records) + "]")
        return 0
    monthly = report.period == "month"
    types = sorted({kind for r in records for kind in r.counts_by_type})
    if fmt == "csv":
        _print_csv(records, types, expected=args.expected, monthly=monthly)
        return 0
    if not records:
        print("No data products availability information found!")
        return 0
    headers = ["Identifier", "Display Name", "Program", "Platform", "Instrument Type", "Source Type"]
    headers += ["Month" if monthly else "Date", "Available Records"]
    headers += [f"{kind.replace('_', ' ').title()}s" for kind in types]
    if args.expected:
        headers += ["Expected Hours", "Status"]
    rows = []
    for r in records:
        row: list[Any] = [r.identifier, r.display_name, r.program, r.platform, r.instrument_type, r.source_type]
        row += [_date_text(r), intcomma(r.count)]
        row += [intcomma(r.counts_by_type.get(kind, 0)) for kind in types]
        if args.expected:
            row += [_hours(r.expected_hours), _status_text(r.status, r.days_by_status, monthly)]
        rows.append(row)
    headers = [h + " \u2193" if h.lower().replace(" ", "_") == args.order else h for h in headers]
    print(format_table(headers, rows))
    return 0


def _date_text(record: Any) -> str:
    return record.date.strftime("%Y-%m") if record.period == "month" else record.date.isoformat()


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _status_text(status: str | None, days: Any, monthly: bool) -> str:
    if status is None:
        return "-"
    if not monthly:
        return status
    detail = ", ".join(f"{days[s]} {s}" for s in _STATUS_ORDER if days.get(s))
    return f"{status} ({detail})" if detail else status


def _print_csv(records: list[Any], types: list[str], *, expected: bool, monthly: bool) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["identifier", "display_name", "program", "platform", "instrument_type", "source_type"]
    header += ["month" if monthly else "date", "count"] + [f"count_{kind}" for kind in types]
    if expected:
        header += ["expected_hours", "status"]
        if monthly:
            header += [f"days_{s}" for s in _STATUS_ORDER]
    writer.writerow(header)
    for r in records:
        row: list[Any] = [r.identifier, r.display_name, r.program, r.platform, r.instrument_type, r.source_type]
        row += [_date_text(r), r.count] + [r.counts_by_type.get(kind, 0) for kind in types]
        if expected:
            row += ["" if r.expected_hours is None else r.expected_hours, r.status]
            if monthly:
                row += [r.days_by_status.get(s, 0) for s in _STATUS_ORDER]
        writer.writerow(row)
    sys.stdout.write(buffer.getvalue())
