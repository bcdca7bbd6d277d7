"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from ..backends.base import Backend


def error(message: str) -> None:
    """One line on stderr, no traceback."""
    print(f"Error: {message}", file=sys.stderr)


def info(message: str, *, quiet: bool = False) -> None:
    """A progress line in aurorax-cli's style: ``[timestamp] message``."""
    if not quiet:
        print(f"[{datetime.now()}] {message}", flush=True)


def backend_from_args(args: argparse.Namespace) -> Backend:
    """The backend chosen by the global options: --api-url, else --catalog, else the defaults."""
    from ..client import open_backend

    if getattr(args, "api_url", None):
        return open_backend(args.api_url, api_key=getattr(args, "api_key", None))
    return open_backend(getattr(args, "catalog", None), api_key=getattr(args, "api_key", None))
