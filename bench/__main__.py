"""Run every benchmark: ``python -m bench [--quick] [NAME ...]`` (names: catalog, demo, render, ...)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from ._harness import print_table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer repeats (a smoke run)")
    parser.add_argument("names", nargs="*", help="bench modules to run (default: all), e.g. catalog render")
    args = parser.parse_args()
    available = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    names = args.names or available
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown bench {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 1
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print_table(module.run(quick=args.quick), title=f"{name}: {module.__doc__.strip().splitlines()[0]}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
