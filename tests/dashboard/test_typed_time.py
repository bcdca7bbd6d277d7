"""Typed start/end times: what each accepted form means, and a clear message for each bad one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.state import DashboardSession
from dashboard.state.typed_time import TypedTimeError, parse_typed_time

NOW = datetime(2020, 2, 10, 18, 30, tzinfo=UTC)  # an evening (UTC) of 2020-02-10


def _t(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


GOOD = [
    # text, start, end, sets both fields
    ("2020-01-05", _t(2020, 1, 5), _t(2020, 1, 5, 23, 59, 59), False),
    ("2020-1-5", _t(2020, 1, 5), _t(2020, 1, 5, 23, 59, 59), False),
    ("2020-01-05 06:00", _t(2020, 1, 5, 6), _t(2020, 1, 5, 6), False),
    ("2020-01-05T06:00:00Z", _t(2020, 1, 5, 6), _t(2020, 1, 5, 6), False),
    ("2020-01-05 06:00:30 UTC", _t(2020, 1, 5, 6, 0, 30), _t(2020, 1, 5, 6, 0, 30), False),
    ("2020-01", _t(2020, 1, 1), _t(2020, 1, 31, 23, 59, 59), True),
    ("2020-02", _t(2020, 2, 1), _t(2020, 2, 29, 23, 59, 59), True),
    ("2020-01-01..2020-01-07", _t(2020, 1, 1), _t(2020, 1, 7, 23, 59, 59), True),
    (" 2020-01-01 .. 2020-01-07 ", _t(2020, 1, 1), _t(2020, 1, 7, 23, 59, 59), True),
    ("yesterday", _t(2020, 2, 9), _t(2020, 2, 9, 23, 59, 59), True),
    ("Last night", _t(2020, 2, 10), _t(2020, 2, 10, 23, 59, 59), True),
    ("today", _t(2020, 2, 10), _t(2020, 2, 10, 23, 59, 59), True),
]

BAD = [
    # text, words the message must contain
    ("hello", ["is not a date", "2020-01-05"]),
    ("2020-13-01", ["no month 13"]),
    ("2020-02-30", ["not a date", "February 2020 has 29 days"]),
    ("2021-02-29", ["February 2021 has 28 days"]),
    ("2020-01-05 24:00", ["24:00 is not a time of day", "23:59:59"]),
    ("2020-01-05 25:10", ["25:10:00 is not a time of day"]),
    ("2020-01-01...2020-01-07", ["two dots"]),
    ("2020-01-01..", ["both ends"]),
    ("2020-01-07..2020-01-01", ["ends before it starts"]),
    ("2020-01-05T06:00:00+02:00", ["UTC", "offset"]),
    ("", ["Type a date"]),
]


@pytest.mark.parametrize(("text", "start", "end", "whole"), GOOD)
def test_accepted_forms_mean_these_utc_spans(text: str, start: datetime, end: datetime, whole: bool) -> None:
    """Each accepted way of writing a time gives this UTC span."""
    span = parse_typed_time(text, now=NOW)
    assert (span.start, span.end, span.whole) == (start, end, whole)


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_input_says_what_is_wrong(text: str, words: list[str]) -> None:
    """Each bad input is refused with a message that says what is wrong."""
    with pytest.raises(TypedTimeError) as caught:
        parse_typed_time(text, now=NOW)
    for word in words:
        assert word in str(caught.value)


def test_last_night_before_the_night_ends_is_yesterdays_utc_day() -> None:
    """Early in the UTC day the night is not over: 'last night' is the previous UTC day."""
    span = parse_typed_time("last night", now=datetime(2020, 2, 10, 9, 0, tzinfo=UTC))
    assert span.start == _t(2020, 2, 9)


def test_typing_a_day_as_end_takes_the_whole_day_and_a_month_sets_both(session: DashboardSession) -> None:
    """End '2020-01-02' means up to 23:59:59; a month typed in Start sets start and end."""
    form = session.form
    assert form.type_time("end", "2020-01-02")
    assert form.end == _t(2020, 1, 2, 23, 59, 59) and form.start == _t(2020, 1, 1)
    assert form.type_time("start", "2019-12")
    assert (form.start, form.end) == (_t(2019, 12, 1), _t(2019, 12, 31, 23, 59, 59))


@pytest.mark.parametrize(("text", "words"), BAD[:-1])
def test_bad_typed_time_blocks_the_search_and_keeps_the_last_results(
    session: DashboardSession, text: str, words: list[str]
) -> None:
    """A bad typed value: message at the field, no search, the last good results stay (marked stale)."""
    session.run_search()
    before = session.results.result
    assert before is not None and session.results_match_form()
    assert not session.form.type_time("start", text)
    assert words[0] in session.form.field_errors["start"]
    assert session.run_search() is False
    assert session.results.result is before
    assert not session.results_match_form()
    assert session.form.start == _t(2020, 1, 1)  # the last good value is kept
    assert session.form.type_time("start", "2020-01-01")
    assert "start" not in session.form.field_errors and session.results_match_form()


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [("2020-01-05", "2020-01-01", "before start"), ("1970-01-01", "2020-01-01", "50 years")],
)
def test_typed_ranges_that_cannot_be_searched_are_explained(
    session: DashboardSession, start: str, end: str, words: str
) -> None:
    """End before start and a 50-year range, typed: explained at End, not searched."""
    assert session.form.type_time("start", start) and session.form.type_time("end", end)
    assert words in session.form.field_errors["end"]
    assert session.run_search() is False
