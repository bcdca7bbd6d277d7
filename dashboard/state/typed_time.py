"""Times typed into the form: a day, a day and time, a month, a range, ``yesterday``, ``last night``.

Every value denotes a UTC span; a Start field takes its first second, an End field its last
(``2020-01-05`` as End means up to 23:59:59). Values that are a span of their own (a month, a
range, a named day) set both ends. Text that cannot be read raises ``TypedTimeError`` with what
is wrong and an example of what works.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EXAMPLES = "2020-01-05, 2020-01-05 06:00, 2020-01-05T06:00:00Z, 2020-01 (a month), 2020-01-01..2020-01-07, yesterday"


class TypedTimeError(ValueError):
    """Typed text that is not a time the form can use; the message says why."""


@dataclass(frozen=True)
class TypedSpan:
    """What a typed value means: ``start`` .. ``end`` (inclusive, UTC); ``whole`` sets both fields."""

    start: datetime
    end: datetime
    whole: bool = False


_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(Z|UTC|\+00:?00)?$", re.I
)
# calendar.month_name follows the locale; the page is in English.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _day(year: int, month: int, day: int, text: str) -> date:
    if not 1 <= month <= 12:
        raise TypedTimeError(f"{text!r}: there is no month {month}; months are 01 to 12.")
    last = monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise TypedTimeError(f"{text!r} is not a date: {_MONTHS[month - 1]} {year} has {last} days.")
    return date(year, month, day)


def _whole_day(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(seconds=1)


def _one(text: str, now: datetime) -> TypedSpan:
    lowered = text.strip().lower()
    today = now.astimezone(UTC).date()
    if lowered in ("today", "yesterday"):
        day = today if lowered == "today" else today - timedelta(days=1)
        return TypedSpan(*_whole_day(day), whole=True)
    if lowered == "last night":
        # A North-American night (about 01:00-14:00 UTC) lies inside one UTC day: today's once
        # it is over (past 14:00 UTC), else yesterday's.
        day = today if now.astimezone(UTC).hour >= 14 else today - timedelta(days=1)
        return TypedSpan(*_whole_day(day), whole=True)
    if m := _DAY.match(lowered):
        return TypedSpan(*_whole_day(_day(int(m[1]), int(m[2]), int(m[3]), text.strip())))
    if m := _MONTH.match(lowered):
        year, month = int(m[1]), int(m[2])
        first = _day(year, month, 1, text.strip())
        last = date(year, month, monthrange(year, month)[1])
        return TypedSpan(_whole_day(first)[0], _whole_day(last)[1], whole=True)
    if m := _DATETIME.match(text.strip()):
        day = _day(int(m[1]), int(m[2]), int(m[3]), text.strip())
        hour, minute, second = int(m[4]), int(m[5]), int(m[6] or 0)
        if hour == 24:
            raise TypedTimeError(
                f"{text.strip()!r}: 24:00 is not a time of day; use 23:59:59, or 00:00 of the next day."
            )
        if hour > 23 or minute > 59 or second > 59:
            raise TypedTimeError(f"{text.strip()!r}: {hour:02d}:{minute:02d}:{second:02d} is not a time of day.")
        moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
        return TypedSpan(moment, moment)
    if re.search(r"[+-]\d{2}:?\d{2}$", text.strip()) and _DATETIME.match(text.strip()[:-6].strip()):
        raise TypedTimeError(f"{text.strip()!r}: times are UTC here; leave out the offset or write Z.")
    raise TypedTimeError(f"{text.strip()!r} is not a date or time. Type e.g. {EXAMPLES}.")


def parse_typed_time(text: str, *, now: datetime | None = None) -> TypedSpan:
    """The UTC span typed ``text`` means.

    Raises:
        TypedTimeError: empty text, not a date, an impossible date or time, a malformed range.
    """
    now = now or datetime.now(UTC)
    stripped = (text or "").strip()
    if not stripped:
        raise TypedTimeError(f"Type a date or time (UTC), e.g. {EXAMPLES}.")
    if "..." in stripped or "…" in stripped:
        raise TypedTimeError(f"{stripped!r}: a range has two dots, e.g. 2020-01-01..2020-01-07.")
    if ".." in stripped:
        first, _, last = stripped.partition("..")
        if not first.strip() or not last.strip():
            raise TypedTimeError(f"{stripped!r}: a range needs both ends, e.g. 2020-01-01..2020-01-07.")
        start, end = _one(first, now), _one(last, now)
        if end.end < start.start:
            raise TypedTimeError(f"{stripped!r}: the range ends before it starts; put the earlier date first.")
        return TypedSpan(start.start, end.end, whole=True)
    return _one(stripped, now)


def format_typed(value: datetime | None) -> str:
    """How the form shows a time: ``2020-01-05 06:00:00`` (UTC, no zone suffix)."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")
