"""The night view's time geometry: the window, UT ↔ pixel, UT ↔ movie time, hour ticks, row order.

Plain Python (no Panel), so that every mapping the browser draws is tested here; the component's
JavaScript uses the same formulas (``x = (t - start) / span * width``, a movie's frames spread evenly
over its imaging span) and the browser tests check that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from aurorax_core import SiteLocation, local_night_window

DAY = timedelta(days=1)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The UT interval the stack's x axis spans (always 24 h: a UT day or a local-solar night)."""

    start: datetime
    end: datetime
    kind: str = "ut"  # "ut" | "local"
    longitude: float | None = None  # the reference longitude of a local window

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def ut_days(self) -> list[date]:
        """The UT dates whose daily products make up this window (one, or two for a local night)."""
        first = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def offset(self, t: datetime) -> float:
        """Seconds from the window's start to ``t`` (negative before, beyond ``seconds`` after)."""
        return (t - self.start).total_seconds()

    def at(self, offset: float) -> datetime:
        return self.start + timedelta(seconds=offset)

    def fraction(self, t: datetime) -> float:
        return self.offset(t) / self.seconds

    def to_x(self, t: datetime, width: float) -> float:
        """The pixel column of ``t`` in a row ``width`` pixels wide (0 = left edge of the window)."""
        return self.fraction(t) * width

    def from_x(self, x: float, width: float) -> datetime:
        """The UT instant at pixel ``x`` (clamped to the window; the right edge maps to its last second)."""
        if width <= 0:
            raise ValueError(f"row width must be positive, got {width}")
        x = min(max(x, 0.0), width)
        offset = min(x / width * self.seconds, self.seconds - 1.0)
        return self.at(offset)

    def instant_of_clock(self, seconds_of_day: int) -> datetime:
        """The one instant in the window whose UT clock reads ``seconds_of_day`` (a 24 h window holds each once)."""
        candidate = datetime.combine(self.start.date(), datetime.min.time(), UTC) + timedelta(seconds=seconds_of_day)
        if candidate < self.start:
            candidate += DAY
        return candidate

    def place(self, start: datetime, end: datetime) -> tuple[float, float]:
        """(left, width) of a product spanning ``start``..``end`` as fractions of the window."""
        return self.fraction(start), (end - start).total_seconds() / self.seconds


def ut_window(night: date) -> TimeWindow:
    start = datetime(night.year, night.month, night.day, tzinfo=UTC)
    return TimeWindow(start, start + DAY, "ut", None)


def local_window(night: date, longitude: float) -> TimeWindow:
    start, end = local_night_window(night, longitude)
    return TimeWindow(start, end, "local", longitude)


def median_longitude(longitudes: Iterable[float]) -> float:
    values = sorted(longitudes)
    if not values:
        return -100.0  # the middle of the North American networks
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


@dataclass(frozen=True, slots=True)
class Tick:
    fraction: float
    top: str
    bottom: str


def hour_ticks(window: TimeWindow, every_hours: int = 1) -> list[Tick]:
    """A tick on every whole UT hour in the window; above: local solar time (local windows) or UT."""
    first = window.start.replace(minute=0, second=0, microsecond=0)
    if first < window.start:
        first += timedelta(hours=1)
    ticks = []
    t = first
    while t <= window.end:
        if t.hour % every_hours == 0:
            bottom = f"{t.hour:02d}"
            if window.kind == "local" and window.longitude is not None:
                local = t + timedelta(minutes=round(window.longitude * 4.0))
                top = f"{local.hour:02d}:{local.minute:02d}"
            else:
                top = bottom
            ticks.append(Tick(window.fraction(t), top, bottom))
        t += timedelta(hours=1)
    return ticks


@dataclass(frozen=True, slots=True)
class MovieTiming:
    """A movie whose ``frames`` are spread evenly over its imaging span ``start``..``end``.

    Frame ``i`` shows the sky at ``start + (i + ½) · span / frames`` and is on screen for movie times
    ``[i, i + 1) · duration / frames``, which is how the AuroraX daily movies and the demo movies are
    made. The linear map ``movie time = (t - start) / span · duration`` therefore lands on the frame
    whose time is within half a frame of ``t``.
    """

    start: datetime
    end: datetime
    duration: float  # seconds of movie
    frames: int | None = None

    @property
    def span(self) -> float:
        return max(1.0, (self.end - self.start).total_seconds())

    def movie_time(self, t: datetime) -> float:
        """The movie time showing UT ``t`` (clamped to the movie: before imaging → first frame)."""
        m = (t - self.start).total_seconds() / self.span * self.duration
        last = self.duration - (self.duration / self.frames / 2 if self.frames else 1e-3)
        return min(max(m, 0.0), max(0.0, last))

    def ut(self, movie_time: float) -> datetime:
        """The UT of the frame on screen at ``movie_time``: its frame's centre when the frame count is known."""
        m = min(max(movie_time, 0.0), self.duration)
        if self.frames:
            index = min(self.frames - 1, math.floor(m / self.duration * self.frames))
            return self.start + timedelta(seconds=(index + 0.5) * self.span / self.frames)
        return self.start + timedelta(seconds=m / self.duration * self.span)

    def frame_seconds(self) -> float:
        """UT seconds one frame covers (the tolerance between a frame and the cursor)."""
        return self.span / self.frames if self.frames else self.span / max(1.0, self.duration * 10)


def latitude_order(items: Sequence[T], locate: Callable[[T], SiteLocation | None], magnetic: bool = False) -> list[T]:
    """``items`` poleward first (geographic or dipole latitude); items without a location last, in order."""

    def key(pair: tuple[int, T]) -> tuple[int, float, int]:
        index, item = pair
        loc = locate(item)
        if loc is None:
            return (1, 0.0, index)
        return (0, -(loc.magnetic_latitude if magnetic else loc.latitude), index)

    return [item for _i, item in sorted(enumerate(items), key=key)]


def clock(seconds_of_day: float) -> str:
    s = int(seconds_of_day) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
