"""NightState and its link: round trips and bad values that explain themselves."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.night.state import MAX_MOVIES, NightLinkError, NightState, parse_clock, parse_night

LINK = {"view": "night", "night": "2020-01-14", "program": "themis-asi", "t": "06:30:00"}


def test_the_issue_link_round_trips() -> None:
    """?view=night&night=2020-01-14&program=themis-asi&t=06:30:00 -> state -> the same parameters."""
    state = NightState.from_params(LINK)
    assert state.night == date(2020, 1, 14) and state.programs == ["themis-asi"] and state.t == 6 * 3600 + 1800
    assert state.cursor_text == "06:30:00 UT"
    assert state.to_params() == LINK
    full = {
        **LINK,
        "platform": "gillam,fort smith",
        "instrument_type": "panchromatic ASI",
        "instrument": "panchromatic ASI",
        "sites": "GILL,FSMI",
        "order": "magnetic",
        "window": "local",
        "elevation": "20",
    }
    again = NightState.from_params(full)
    assert NightState.from_params(again.to_params()).to_params() == again.to_params()
    assert again.to_params()["sites"] == "GILL,FSMI" and again.window == "local" and again.min_elevation == 20


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"night": "2020-01-14", "t": "25:00"}, "does not exist; write the UT time as HH:MM:SS"),
        ({"night": "2020-01-14", "t": "6h30"}, "is not a UT time"),
        ({"night": "2020-13-45"}, "is not a calendar date; write it as YYYY-MM-DD"),
        ({"night": "yesterday"}, "'yesterday' is not a date"),
        ({"night": "2020-01-14", "sites": "GILL,<b>x</b>"}, "are not site codes"),
        ({"night": "2020-01-14", "window": "solar"}, "window 'solar' is not one of ut, local"),
        ({"night": "2020-01-14", "elevation": "95"}, "between 0 and 60"),
    ],
)
def test_bad_link_values_explain_themselves(params: dict[str, str], message: str) -> None:
    """Each unusable value is named with what to write instead; nothing is half-applied silently."""
    with pytest.raises(NightLinkError, match="the night link cannot be used") as info:
        NightState.from_params(params)
    assert message in str(info.value)
    state = NightState()
    problems = state.apply_params(params)  # the view applies what it can and lists the rest
    assert any(message in p for p in problems)


def test_parse_helpers_accept_the_forms_people_type() -> None:
    """'06:30' and '06:30:00 UT' are both 06:30:00; 23:59:59 is the last second."""
    assert parse_clock("06:30") == parse_clock("06:30:00 UT") == 23400
    assert parse_clock("23:59:59") == 86399
    assert parse_night(" 2020-02-29 ") == date(2020, 2, 29)
    with pytest.raises(NightLinkError):
        parse_night("2019-02-29")


def test_movie_sites_toggle_and_stop_at_nine() -> None:
    """Toggling adds and removes a site; a tenth is refused; a link with more keeps the first nine."""
    state = NightState()
    assert state.toggle_site("gill") and state.sites == ["GILL"]
    assert state.toggle_site("GILL") and state.sites == []
    for i in range(MAX_MOVIES):
        assert state.toggle_site(f"S{i:03d}")
    assert not state.toggle_site("ONEMORE") and len(state.sites) == MAX_MOVIES
    problems = NightState().apply_params({"sites": ",".join(f"S{i}" for i in range(12))})
    assert any("at most 9" in p for p in problems)
