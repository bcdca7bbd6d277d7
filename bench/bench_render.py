"""Demo preview renderer: daily/hourly keograms, montage, thumbnail, summary plot and movie per record.

Targets from the issue: a daily keogram (720x256 JPEG, the night model evaluated for every pixel
and encoded) <= 50 ms; a movie <= 2 s (48 all-sky frames, WebM/VP8 through imageio-ffmpeg's ffmpeg).
The other figures are reported without a target. Records are TREx RGB and THEMIS Gillam records of
2020-01-05 (an active night in the demo weather: substorm at ~04:40 UT, pulsating aurora after),
with the demo archive's imaging window, so the figures include the busiest parts of the model.
Each call renders from scratch (the renderer keeps no cache; the thumbnail service caches above it).
The note gives the CPU time per call too (``time.process_time``): on a shared, loaded machine the
wall-clock median includes waiting for a core, the CPU time is what the renderer itself costs.

Run: ``python -m bench render`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aurorax_core.demo.render import render_movie, render_preview
from aurorax_core.models import DataProduct, DataSource

from ._harness import Row, measure

_RGB = DataSource(103, "trex", "gillam", "RGB ASI", "ground", "TREx RGB GILL")
_THEMIS = DataSource(49, "themis-asi", "gillam", "panchromatic ASI", "ground", "THEMIS-ASI GILL")
_SPECT = DataSource(95, "trex", "lucky lake", "spectrograph", "ground", "TREx Spectrograph LUCK")
_WINDOW = {"imaging_start_time": "2020-01-05T00:30:00.000000", "imaging_end_time": "2020-01-05T13:40:00.000000"}


def _record(src: DataSource, ptype: str, sub_type: str, start: str, end: str) -> DataProduct:
    return DataProduct(
        src,
        ptype,
        datetime.fromisoformat(start).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
        f"https://bench.invalid/{src.display_name}/{ptype}/{sub_type}/{start}",
        {"demo_synthetic": True, f"{ptype}_type": sub_type, **_WINDOW},
    )


def _cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU time of this process per call: what the renderer costs, whatever the machine's load."""
    samples = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        samples.append((time.process_time() - t0) * 1000.0)
    return statistics.median(samples)


def run(quick: bool) -> list[Row]:
    repeat = 3 if quick else 15
    day = ("2020-01-05T00:00:00", "2020-01-05T23:59:00")
    hour = ("2020-01-05T05:00:00", "2020-01-05T05:59:00")
    cases = [
        ("daily keogram TREx RGB 720x256 (full)", _record(_RGB, "keogram", "daily", *day), "full", 50.0),
        ("daily keogram THEMIS 720x256 (full)", _record(_THEMIS, "keogram", "daily", *day), "full", 50.0),
        ("hourly keogram TREx RGB 600x256", _record(_RGB, "keogram", "hourly", *hour), "full", None),
        ("thumbnail of a daily keogram (240 px)", _record(_RGB, "keogram", "daily", *day), "thumbnail", None),
        ("hourly montage TREx RGB (60 frames, 800x496)", _record(_RGB, "montage", "hourly", *hour), "full", None),
        ("daily montage THEMIS (53 frames)", _record(_THEMIS, "montage", "daily", *day), "full", None),
        ("spectrograph summary plot (PNG)", _record(_SPECT, "summary_plot", "daily", *day), "full", None),
        ("movie poster frame (320 px JPEG)", _record(_RGB, "movie", "real-time daily", *day), "full", None),
    ]
    rows = []
    for name, product, size, target in cases:
        call = lambda p=product, s=size: render_preview(p, size=s)  # noqa: E731
        stats = measure(call, repeat=repeat, warmup=1)
        note = f"p95 {stats['p95']:.0f} ms; CPU {_cpu_ms(call, repeat):.0f} ms"
        rows.append(Row(name, stats["median"], "ms", target=target, note=note))
    movie_record = _record(_RGB, "movie", "real-time daily", *day)
    movie = render_movie(movie_record)
    stats = measure(lambda: render_movie(movie_record), repeat=2 if quick else 5, warmup=0)
    rows.append(
        Row(
            f"movie WebM {movie.width}x{movie.height}, {movie.frame_count} frames",
            stats["median"],
            "ms",
            target=2000.0,
            note=f"{len(movie.data) / 1024:.0f} KiB, {movie.content_type}",
        )
    )
    return rows
