"""``aurorax-core sources ...``: list, search and show data sources (aurorax-cli's ``search sources``)."""

from __future__ import annotations

import argparse
import pprint
import textwrap
from typing import Any

from ..backends.base import Backend
from ..errors import AuroraXCoreError, NotFound
from ..models import DATA_SOURCE_FORMATS, DataSource, parse_time
from ._format import EXIT_CODES, command, format_table, intcomma, open_backend_for

# aurorax-cli accepts these five (not "not_applicable", used for ad-hoc sources).
SOURCE_TYPE_CHOICES = ("event_list", "ground", "heo", "leo", "lunar")
ORDER_CHOICES = ("identifier", "program", "platform", "instrument_type", "display_name", "owner")
FORMAT_CHOICES = DATA_SOURCE_FORMATS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sources`` command group."""
    group = subparsers.add_parser(
        "sources", help="list and show data sources", description="Interact with data sources.", epilog=EXIT_CODES
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND")
    group.set_defaults(handler=lambda args: (group.print_help(), 0)[1])

    list_ = commands.add_parser("list", help="list data sources, filtered by exact values")
    list_.add_argument("--program", help="filter using program")
    list_.add_argument("--platform", help="filter using platform")
    list_.add_argument("--instrument-type", help="filter using instrument type")
    list_.add_argument("--source-type", choices=SOURCE_TYPE_CHOICES, help="filter using source type")
    list_.add_argument("--owner", help="filter using an owner")
    _add_order_options(list_)
    list_.set_defaults(handler=command(cmd_list))

    search = commands.add_parser(
        "search", help="search data sources; each option takes several values separated by commas"
    )
    search.add_argument("--programs", help="programs, comma separated (e.g. trex,themis-asi)")
    search.add_argument("--platforms", help="platforms, comma separated (e.g. 'gillam,rabbit lake')")
    search.add_argument("--instrument-types", help="instrument types, comma separated (e.g. 'RGB ASI,footprint')")
    _add_order_options(search)
    search.set_defaults(handler=command(cmd_search))

    get = commands.add_parser("get", help="show one data source by program, platform and instrument type")
    get.add_argument("program", metavar="PROGRAM")
    get.add_argument("platform", metavar="PLATFORM")
    get.add_argument("instrument_type", metavar="INSTRUMENT_TYPE")
    _add_format_options(get)
    get.set_defaults(handler=command(cmd_get))

    by_id = commands.add_parser("get_using_identifier", help="show one data source by identifier")
    by_id.add_argument("identifier", metavar="IDENTIFIER", type=_identifier)
    _add_format_options(by_id)
    by_id.set_defaults(handler=command(cmd_get_using_identifier))


def _identifier(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _add_order_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--order", choices=ORDER_CHOICES, default="identifier", help="order by this column")
    parser.add_argument("--include-stats", action="store_true", help="include record counts and time spans")
    parser.add_argument("--reversed", action="store_true", help="reverse the order")


def _add_format_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMAT_CHOICES, default="basic_info", help="how much to show")
    parser.add_argument("--include-stats", action="store_true", help="include record counts and time spans")


def _split(value: str | None) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _sort(sources: list[DataSource], order: str, reverse: bool) -> list[DataSource]:
    # pyaurorax sorts with None as "None" so that a missing owner never breaks the comparison.
    def key(source: DataSource) -> Any:
        value = getattr(source, order)
        return value if order == "identifier" and value is not None else str(value)

    if order == "identifier":
        ordered = sorted(sources, key=lambda s: (s.identifier is None, s.identifier or 0))
    else:
        ordered = sorted(sources, key=key)
    return list(reversed(ordered)) if reverse else ordered


def _stats_text(stats: dict[str, Any] | None, kind: str) -> str:
    if not stats:
        return "-"
    count = stats.get(f"{kind}_count") or 0
    earliest = stats.get(f"earliest_{kind}_loaded")
    latest = stats.get(f"latest_{kind}_loaded")
    if earliest and latest:
        return f"{intcomma(count)} records ({_minute(earliest)} to {_minute(latest)})"
    return f"{intcomma(count)} records"


def _single_stats_text(stats: dict[str, Any] | None, kind: str) -> str:
    # One source's stats line, as aurorax-cli words it: "0 records", or "N (from to)".
    if not stats:
        return "-"
    count = stats.get(f"{kind}_count") or 0
    earliest = stats.get(f"earliest_{kind}_loaded")
    latest = stats.get(f"latest_{kind}_loaded")
    if not count:
        return "0 records"
    if earliest and latest:
        return f"{intcomma(count)} ({_minute(earliest)} to {_minute(latest)})"
    return f"{intcomma(count)} records"


def _minute(value: Any) -> str:
    try:
        return parse_time(value).strftime("%Y-%m-%dT%H:%M")
    except AuroraXCoreError:
        return str(value)


def print_sources_table(sources: list[DataSource], *, order: str, show_owner: bool, include_stats: bool) -> None:
    """The aurorax-cli sources table (plus totals when stats are shown)."""
    headers = ["Identifier", "Display Name", "Program", "Platform", "Instrument Type", "Source Type"]
    if show_owner:
        headers.append("Owner")
    if include_stats:
        headers += ["Ephemeris stats", "Data Products stats"]
    headers = [h + " \u2193" if h.lower().replace(" ", "_") == order else h for h in headers]
    rows = []
    total_ephemeris = total_products = 0
    for source in sources:
        row: list[Any] = [
            source.identifier,
            source.display_name,
            source.program,
            source.platform,
            source.instrument_type,
            source.source_type,
        ]
        if show_owner:
            row.append(str(source.owner))  # texttable prints None as "None", as aurorax-cli shows it
        if include_stats:
            row += [_stats_text(source.stats, "ephemeris"), _stats_text(source.stats, "data_product")]
            stats = source.stats or {}
            total_ephemeris += int(stats.get("ephemeris_count") or 0)
            total_products += int(stats.get("data_product_count") or 0)
        rows.append(row)
    print(format_table(headers, rows))
    if include_stats:
        print(f"\nTotal Ephemeris records:\t{intcomma(total_ephemeris)}")
        print(f"Total Data Product records:\t{intcomma(total_products)}\n")


def _with_backend(args: argparse.Namespace) -> Backend:
    return open_backend_for(args)


def cmd_list(args: argparse.Namespace) -> int:
    backend = _with_backend(args)
    try:
        sources = backend.list_sources(
            programs=[args.program] if args.program else [],
            platforms=[args.platform] if args.platform else [],
            instrument_types=[args.instrument_type] if args.instrument_type else [],
            source_type=args.source_type,
            owner=args.owner,
            include_stats=args.include_stats,
        )
    finally:
        backend.close()
    # pyaurorax drops the "under-the-hood" ad-hoc sources (negative identifiers) from listings.
    sources = [s for s in sources if s.identifier is None or s.identifier >= 0]
    sources = _sort(sources, args.order, args.reversed)
    show_owner = args.owner is not None or args.order == "owner"
    print_sources_table(sources, order=args.order, show_owner=show_owner, include_stats=args.include_stats)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    backend = _with_backend(args)
    try:
        sources = backend.list_sources(
            programs=_split(args.programs),
            platforms=_split(args.platforms),
            instrument_types=_split(args.instrument_types),
            include_stats=args.include_stats,
        )
    finally:
        backend.close()
    sources = _sort(sources, args.order, args.reversed)
    print_sources_table(sources, order=args.order, show_owner=args.order == "owner", include_stats=args.include_stats)
    return 0


def print_source(source: DataSource, fmt: str, include_stats: bool) -> None:
    """Key/value lines as aurorax-cli prints one source (typo "Instument Type" included)."""
    record = source.to_api_dict(fmt, include_stats=include_stats)
    identifier = record.get("identifier")
    print(f"Identifier:\t\t{identifier if identifier is not None else '-'}")
    if fmt != "identifier_only":
        print(f"Program:\t\t{source.program}")
        print(f"Platform:\t\t{source.platform}")
        print(f"Instument Type:\t\t{source.instrument_type}")
        print(f"Source Type:\t\t{source.source_type}")
        print(f"Display Name:\t\t{source.display_name}")
    if fmt == "full_record":
        print(f"Owner:\t\t\t{source.owner}")
        print(f"Maintainers:\t\t{source.maintainers or []}")
    if fmt in ("with_metadata", "full_record"):
        metadata = source.metadata or {}
        print(f"Metadata:\t\t{metadata}" if not metadata else f"Metadata:\n{pprint.pformat(metadata)}")
    if include_stats:
        stats = source.stats or {}
        print(f"Ephemeris Stats:\t{_single_stats_text(stats, 'ephemeris')}")
        print(f"Data Product Stats:\t{_single_stats_text(stats, 'data_product')}")
    if fmt == "full_record":
        ephemeris = source.ephemeris_metadata_schema or []
        products = source.data_product_metadata_schema or []
        print(f"Ephemeris Schema:\t{'[]' if not ephemeris else 'see below table'}")
        print(f"Data Product Schema:\t{'[]' if not products else 'see below table'}\n")
        # aurorax-cli prints the table (header and rule) even when both schemas are empty.
        rows = [_schema_row("ephemeris", item) for item in ephemeris]
        rows += [_schema_row("data_product", item) for item in products]
        print(
            format_table(
                (
                    "Schema",
                    "Field Name",
                    "Data Type",
                    "Allowed Values",
                    "Searchable",
                    "Description",
                    "Additional Description",
                ),
                rows,
            )
        )


def _schema_row(schema: str, item: Any) -> list[Any]:
    # As aurorax-cli: allowed values and descriptions wrapped at 40 columns, "-" for a missing key.
    if not isinstance(item, dict):
        return [schema, str(item), "-", "-", "-", "-", "-"]

    def wrapped(value: Any) -> str:
        return "\n".join(textwrap.wrap(str(value), 40))

    additional = item.get("additional_description")
    return [
        schema,
        str(item.get("field_name", "-")),
        str(item.get("data_type", "-")),
        wrapped(item.get("allowed_values")),
        str(item["searchable"]) if "searchable" in item else "-",
        wrapped(item.get("description") or ""),
        wrapped(additional) if additional is not None else "-",
    ]


def cmd_get(args: argparse.Namespace) -> int:
    backend = _with_backend(args)
    try:
        sources = backend.list_sources(
            programs=[args.program],
            platforms=[args.platform],
            instrument_types=[args.instrument_type],
            include_stats=args.include_stats,
        )
    finally:
        backend.close()
    if not sources:
        raise NotFound(
            f"No matching data source found for program {args.program!r}, platform {args.platform!r}, "
            f"instrument type {args.instrument_type!r}; see `aurorax-core sources list`"
        )
    source = _sort(sources, "identifier", False)[0]
    print_source(source, args.format, args.include_stats)
    return 0


def cmd_get_using_identifier(args: argparse.Namespace) -> int:
    backend = _with_backend(args)
    try:
        source = _source_by_identifier(backend, args.identifier, include_stats=args.include_stats)
    finally:
        backend.close()
    print_source(source, args.format, args.include_stats)
    return 0


def _source_by_identifier(backend: Backend, identifier: int, *, include_stats: bool) -> DataSource:
    getter = getattr(backend, "get_source", None)
    source: DataSource | None = None
    if callable(getter):
        # Both backends have get_source(identifier, *, include_stats=...) (not part of the protocol).
        try:
            source = getter(identifier, include_stats=include_stats)
        except NotFound:
            source = None
    else:
        source = next(
            (s for s in backend.list_sources(include_stats=include_stats) if s.identifier == identifier), None
        )
    if source is None:
        raise NotFound(
            f"No Data Source record found in AuroraX for identifier {identifier}; see `aurorax-core sources list`"
        )
    return source
