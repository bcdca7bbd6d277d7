"""The CLI's text helpers print numbers, sizes and durations exactly as aurorax-cli (humanize) does."""

from __future__ import annotations

from datetime import timedelta

import humanize  # installed with pyaurorax (a test dependency): the library aurorax-cli formats with
from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core.cli._format import format_table, intcomma, natural_size, precise_duration


@settings(deadline=None, max_examples=300)
@given(st.one_of(st.integers(min_value=0, max_value=25 * 86_400_000), st.sampled_from([0, 2, 5, 305, 999, 59_999])))
def test_query_duration_matches_humanize(milliseconds):
    """'Query duration' text equals humanize.precisedelta for any duration up to 25 days."""
    assert precise_duration(milliseconds) == humanize.precisedelta(timedelta(milliseconds=milliseconds))


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=10**15))
def test_sizes_and_counts_match_humanize(value):
    """File sizes and record counts read the same as in aurorax-cli ('2.1 MB', '1,234,567')."""
    assert natural_size(value) == humanize.naturalsize(value)
    assert intcomma(value) == humanize.intcomma(value)


def test_table_layout():
    """Columns padded to their widest cell, three spaces apart, a '=' rule; multi-line cells span lines."""
    table = format_table(("A", "Long header"), [("x", "1"), ("wider cell", "two\nlines"), (None, 3)])
    assert table.split("\n") == [
        "A            Long header",
        "========================",
        "x            1          ",
        "wider cell   two        ",
        "             lines      ",
        "-            3          ",
    ]
