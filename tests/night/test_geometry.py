"""The night view's geometry without a browser: windows, UT <-> pixel <-> movie time, FOV, latitude."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aurorax_core import QueryValidationError, SiteLocation, dipole_latitude, fov_radius_deg, local_night_window
from dashboard.night.geometry import MovieTiming, hour_ticks, latitude_order, local_window, ut_window


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_ut_window_maps_the_day_edges_to_the_row_edges_both_ways() -> None:
    """00:00 UT is pixel 0, 24:00 the right edge; the right edge maps back to 23:59:59, never the next day."""
    w = ut_window(date(2020, 1, 14))
    assert w.to_x(_utc(2020, 1, 14), 720) == 0
    assert w.to_x(_utc(2020, 1, 15), 720) == 720
    assert w.to_x(_utc(2020, 1, 14, 6, 30), 720) == pytest.approx(195.0)
    assert w.from_x(0, 720) == _utc(2020, 1, 14)
    assert w.from_x(720, 720) == _utc(2020, 1, 14, 23, 59, 59)
    assert w.from_x(195.0, 720) == _utc(2020, 1, 14, 6, 30)
    assert w.from_x(-5, 720) == _utc(2020, 1, 14)  # clamped
    for x in (0.0, 1.0, 359.5, 719.0):
        assert w.to_x(w.from_x(x, 720), 720) == pytest.approx(x, abs=720 / 86400 * 1.0001)
    with pytest.raises(ValueError, match="width"):
        w.from_x(1, 0)


def test_local_night_window_spans_two_ut_days_west_and_east() -> None:
    """18:00-18:00 LST: at 100°W from 00:40 UT on the night's date; at 16°E from 16:56 UT the day before."""
    west = local_window(date(2020, 1, 14), -100.0)
    assert (west.start, west.end) == (_utc(2020, 1, 14, 0, 40), _utc(2020, 1, 15, 0, 40))
    assert west.ut_days == [date(2020, 1, 14), date(2020, 1, 15)]
    east_start, east_end = local_night_window(date(2020, 1, 14), 16.0)
    assert (east_start, east_end) == (_utc(2020, 1, 13, 16, 56), _utc(2020, 1, 14, 16, 56))
    # A daily keogram of the 14th starts 40 min before the western window and the 15th's fills its end.
    assert west.place(_utc(2020, 1, 14), _utc(2020, 1, 15)) == pytest.approx((-40 / 1440, 1.0))
    assert west.place(_utc(2020, 1, 15), _utc(2020, 1, 16)) == pytest.approx((1 - 40 / 1440, 1.0))
    # The cursor's UT clock time names one instant in the window: 00:30 is on the 15th, 00:50 on the 14th.
    assert west.instant_of_clock(30 * 60) == _utc(2020, 1, 15, 0, 30)
    assert west.instant_of_clock(50 * 60) == _utc(2020, 1, 14, 0, 50)
    assert ut_window(date(2020, 1, 14)).ut_days == [date(2020, 1, 14)]


def test_hour_ticks_label_ut_below_and_local_time_above() -> None:
    """25 ticks on a UT day (00 .. 24); on a local window the top labels are local solar time."""
    ticks = hour_ticks(ut_window(date(2020, 1, 14)))
    assert len(ticks) == 25 and ticks[0].fraction == 0 and ticks[-1].fraction == 1
    assert [t.bottom for t in ticks[:3]] == ["00", "01", "02"]
    local = hour_ticks(local_window(date(2020, 1, 14), -100.0))
    assert local[0].bottom == "01" and local[0].top == "18:20"
    assert local[0].fraction == pytest.approx(20 / 1440)


def test_movie_time_and_ut_agree_within_a_frame_at_both_edges_of_imaging() -> None:
    """48 frames over 00:00-12:00: UT -> movie time -> frame UT is within half a frame; edges clamp."""
    m = MovieTiming(_utc(2020, 1, 14, 0), _utc(2020, 1, 14, 12), duration=4.0, frames=48)
    frame = m.frame_seconds()
    assert frame == 900
    assert m.movie_time(_utc(2020, 1, 13, 23)) == 0.0  # before imaging: the first frame
    assert m.movie_time(_utc(2020, 1, 14, 0)) == 0.0
    last = m.movie_time(_utc(2020, 1, 14, 13))  # after imaging: the last frame, not past the end
    assert 4.0 - 4.0 / 48 < last < 4.0
    assert m.ut(last) == _utc(2020, 1, 14, 11, 52, 30)
    assert m.ut(0.0) == _utc(2020, 1, 14, 0, 7, 30)
    for minutes in (0, 1, 7, 8, 359, 360, 361, 719):
        t = _utc(2020, 1, 14) + timedelta(minutes=minutes)
        assert abs((m.ut(m.movie_time(t)) - t).total_seconds()) <= frame / 2
    assert m.movie_time(_utc(2020, 1, 14, 6)) == pytest.approx(2.0)
    unknown = MovieTiming(_utc(2020, 1, 14, 0), _utc(2020, 1, 14, 12), duration=4.0)
    assert unknown.ut(2.0) == _utc(2020, 1, 14, 6)


def test_fov_radius_from_altitude_and_minimum_elevation() -> None:
    """At 110 km: 10.6° of arc at the horizon, ~4.5° at 10° elevation; wrong inputs explain themselves."""
    assert fov_radius_deg(0.0) == pytest.approx(10.57, abs=0.01)
    assert fov_radius_deg(10.0) * 111.19 == pytest.approx(502, abs=5)
    assert fov_radius_deg(10.0, 230.0) > fov_radius_deg(10.0, 110.0) > fov_radius_deg(30.0, 110.0)
    with pytest.raises(QueryValidationError, match="between 0 and 90"):
        fov_radius_deg(95.0)
    with pytest.raises(QueryValidationError, match="positive"):
        fov_radius_deg(10.0, -1.0)


def test_rows_order_poleward_geographic_or_magnetic() -> None:
    """Poleward first; sites without a location go last; the dipole order can differ from the geographic."""
    gill = SiteLocation("GILL", "Gillam", 56.38, -94.64)
    nrsq = SiteLocation("NRSQ", "Narsarsuaq", 61.16, -45.44)
    whit = SiteLocation("WHIT", "Whitehorse", 60.62, -135.01)
    where = {"GILL": gill, "NRSQ": nrsq, "WHIT": whit, "XXXX": None}
    codes = ["GILL", "XXXX", "WHIT", "NRSQ"]
    assert latitude_order(codes, where.get) == ["NRSQ", "WHIT", "GILL", "XXXX"]
    assert latitude_order(codes, where.get, magnetic=True) == ["NRSQ", "GILL", "WHIT", "XXXX"]
    assert dipole_latitude(80.65, -72.68) == pytest.approx(90.0)
    assert 64 < gill.magnetic_latitude < 68 and whit.magnetic_latitude < gill.magnetic_latitude
