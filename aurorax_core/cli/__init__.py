"""``aurorax-core``: the aurorax-cli data-product commands plus catalog, thumbnail and server tools.

Each command group lives in its own module with a ``register(subparsers)`` function. Every
command returns an exit code; user errors (any AuroraXCoreError) print one line and exit 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import AuroraXCoreError
from . import _common

_GROUPS = ("data_products", "sources", "availability", "catalog", "thumbnails", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurorax-core",
        description="Search AuroraX data products with the embedded offline catalog or the AuroraX API.",
    )
    parser.add_argument(
        "--catalog",
        metavar="PATH",
        help="embedded catalog file (default: $AURORAX_CATALOG, else ~/.local/share/aurorax-core/catalog.sqlite)",
    )
    parser.add_argument(
        "--api-url",
        metavar="URL",
        help="search an AuroraX API instead of the catalog, e.g. https://api.aurorax.space ($AURORAX_API_URL)",
    )
    parser.add_argument("--api-key", metavar="KEY", help="AuroraX API key ($AURORAX_API_KEY)")
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    import importlib

    for group in _GROUPS:
        try:
            module = importlib.import_module(f"{__name__}.{group}")
        except ModuleNotFoundError as exc:
            # A command group whose module is not written yet simply does not appear.
            if exc.name != f"{__name__}.{group}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 1 if args.group is None else 0
    try:
        return int(handler(args) or 0)
    except AuroraXCoreError as exc:
        _common.error(str(exc))
        return 1
    except KeyboardInterrupt:
        _common.error("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
