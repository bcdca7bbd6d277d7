"""Tiny benchmark harness: repeat a callable, report medians, compare with the issue's targets.

Every bench module exposes ``run(quick: bool) -> list[Row]``; ``python -m bench`` runs them all
and prints one table.
"""

from __future__ import annotations

import gc
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Chromium for the browser benches: headless, and nothing that reaches the network on its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server the bench starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Row:
    """One measured figure. ``target`` is the issue's goal in the same unit (None: report only).

    ``higher_is_better`` flips the ratio for throughputs (records/s, searches/s).
    """

    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better than the target (>= 1 means the target is met)."""
        if self.target is None or self.value == 0:
            return None
        return self.value / self.target if self.higher_is_better else self.target / self.value


def measure(fn: Callable[[], Any], *, repeat: int = 20, warmup: int = 2) -> dict[str, float]:
    """Run ``fn`` ``warmup + repeat`` times; return median/p95/min in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    gc_was_enabled = gc.isenabled()
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
        if gc_was_enabled:
            gc.enable()
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"median": statistics.median(samples), "p95": p95, "min": samples[0], "n": float(len(samples))}


def print_table(rows: list[Row], title: str = "") -> None:
    if title:
        print(f"\n## {title}\n")
    print("| figure | measured | target | ratio (≥1 meets) | note |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        target = "" if row.target is None else f"{'≥' if row.higher_is_better else '≤'} {row.target:g} {row.unit}"
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}×"
        print(f"| {row.name} | {row.value:,.4g} {row.unit} | {target} | {ratio} | {row.note} |")
