"""``aurorax-core availability data_products START END``: records per source and day (aurorax-cli's table)."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from ..errors import QueryValidationError
from ._format import EXIT_CODES, command, format_table, intcomma, open_backend_for

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
