"""The stack from a demo catalog, and the view without a browser: rows, order, stitching, faults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aurorax_core import DataProduct, build_query, site_code
from dashboard.night.geometry import ut_window
from dashboard.night.mapsvg import MapSite, map_svg
from dashboard.night.payload import rows_payload
from dashboard.night.stack import _keograms_for, load_night
from dashboard.night.state import NightState
from dashboard.night.view import NightView

from .conftest import NIGHT


def _daily_keogram_sites(backend: Any, program: str, night: date) -> set[str]:
    start = datetime(night.year, night.month, night.day, tzinfo=UTC)
    query = build_query(
        start,
        start + timedelta(hours=23, minutes=59, seconds=59),
        programs=[program],
        data_product_types=["keogram"],
        metadata_filters=[{"key": "keogram_type", "operator": "=", "values": ["daily"]}],
    )
    return {site_code(p.data_source) for p in backend.search(query).data}


def test_one_row_per_site_poleward_first_with_no_data_rows(night_backend: Any) -> None:
    """Every THEMIS ASI site gets a row; those with a daily keogram (per a search) show it; poleward on top."""
    state = NightState.from_params({"night": NIGHT.isoformat(), "program": "themis-asi", "t": "06:30:00"})
    sources = night_backend.list_sources(programs=state.programs)
    stack = load_night(night_backend, state, sources)
    assert stack.instrument == "panchromatic ASI"
    assert len(stack.rows) == len({s.platform for s in sources if s.source_type == "ground"})
    with_daily = {r.code for r in stack.rows if r.status == "daily"}
    assert with_daily == _daily_keogram_sites(night_backend, "themis-asi", NIGHT)
    assert any(r.status == "none" for r in stack.rows)  # the demo's weather took at least one site out
    lats = [r.location.latitude for r in stack.rows if r.location]
    assert lats == sorted(lats, reverse=True)
    magnetic = load_night(night_backend, NightState(night=NIGHT, programs=["themis-asi"], order="magnetic"), sources)
    mlats = [r.location.magnetic_latitude for r in magnetic.rows if r.location]
    assert mlats == sorted(mlats, reverse=True) and [r.code for r in magnetic.rows] != [r.code for r in stack.rows]
    for row in stack.rows:
        if row.status == "daily":
            (placed,) = row.keograms
            assert (placed.left, placed.width) == (0.0, 1.0) and placed.product.sub_type == "daily"


def test_local_night_stitches_two_ut_days_and_switching_instrument_keeps_the_night(night_backend: Any) -> None:
    """18-18 local: each row holds the keograms of two UT days, cut by the window; NIR keeps the date."""
    state = NightState(night=NIGHT, programs=["trex"], window="local")
    sources = night_backend.list_sources(programs=["trex"])
    stack = load_night(night_backend, state, sources)
    assert stack.instrument == "RGB ASI" and "near-infrared ASI" in stack.instruments
    assert stack.window.start.date() == NIGHT and stack.window.end.date() == NIGHT + timedelta(days=1)
    two = [r for r in stack.rows if len(r.keograms) == 2]
    assert two, "a site imaged on both UT days shows both keograms"
    first, second = two[0].keograms
    assert first.product.start.date() == NIGHT and second.product.start.date() == NIGHT + timedelta(days=1)
    assert first.left < 0 < second.left < 1 and abs(second.left - first.left - 1.0) < 1e-9
    state.instrument = "near-infrared ASI"
    nir = load_night(night_backend, state, sources)
    assert nir.instrument == "near-infrared ASI" and nir.night == NIGHT
    assert {r.source.instrument_type for r in nir.rows} == {"near-infrared ASI"}


def test_hourly_keograms_stand_in_where_there_is_no_daily_one(night_backend: Any) -> None:
    """Without a daily keogram the site's hourly ones are placed at their hours (1/24 of the row each)."""
    state = NightState(night=NIGHT, programs=["themis-asi"])
    stack = load_night(night_backend, state, night_backend.list_sources(programs=["themis-asi"]))
    row = next(r for r in stack.rows if r.status == "daily")
    start = datetime(NIGHT.year, NIGHT.month, NIGHT.day, tzinfo=UTC)
    query = build_query(start, start + timedelta(hours=23, minutes=59), platforms=[row.source.platform],
                        programs=["themis-asi"], data_product_types=["keogram"])  # fmt: skip
    hourly = [p for p in night_backend.search(query).data if p.sub_type == "hourly"]
    placed = _keograms_for(hourly, ut_window(NIGHT))
    assert placed and all(p.hourly for p in placed)
    assert [round(p.left * 24) for p in placed] == [p.start.hour for p in hourly]
    assert all(abs(p.width - 1 / 24) < 1e-9 for p in placed)


def test_a_keogram_that_cannot_be_fetched_becomes_a_labelled_placeholder(night_backend: Any) -> None:
    """One broken image: that row says so (alt text and note), the other rows keep their images."""
    stack = load_night(night_backend, NightState(night=NIGHT, programs=["themis-asi"]),
                       night_backend.list_sources(programs=["themis-asi"]))  # fmt: skip
    broken = stack.rows[0].keograms[0].product.url

    class Images:
        def preview(self, product: DataProduct) -> Any:
            from dashboard.images import Media

            if product.url == broken:
                raise OSError("connection refused by data.example")
            return Media("data:image/jpeg;base64,AAAA", "image/jpeg")

        thumbnail = preview

    rows = rows_payload(stack, Images())
    first = rows[0]["images"][0]
    assert first["src"] == "" and "connection refused" in first["note"] and "could not be shown" in first["alt"]
    assert all(im["src"] for row in rows[1:] for im in row["images"])
    assert "night of 2020-01-14" in rows[1]["images"][0]["alt"] and stack.rows[1].code in rows[1]["images"][0]["alt"]


def test_map_text_from_records_is_escaped() -> None:
    """A site name with markup reaches the SVG as text only."""
    svg = map_svg([MapSite("GILL", '<script>alert(1)</script>" onload="x', 56.4, -94.6)], 10)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and '" onload="' not in svg
    assert 'data-night-site="GILL"' in svg and 'class="nv-coast"' in svg


def test_view_explains_an_unknown_site_and_offers_nearest_nights(night_backend: Any) -> None:
    """An unknown site in the link is named and dropped; an empty night offers the nearest nights with data."""
    view = NightView(backend=night_backend, images=None)
    problems = view.apply_link({"night": NIGHT.isoformat(), "program": "themis-asi", "sites": "GILL,ZZZZ"})
    assert problems == []
    view.refresh()
    assert view.stack is not None and view.state.sites == ["GILL"]
    assert "ZZZZ is not a panchromatic ASI site" in view.status.object
    assert view.canvas.chosen == ["GILL"] and len(view.canvas.rows) == len(view.stack.rows)
    view.state.night = date(2020, 1, 25)  # after the catalog's last night (2020-01-16)
    assert view.stack.night == date(2020, 1, 25) and not view.stack.has_data
    assert "No panchromatic ASI keograms for the night of 2020-01-25" in view.message
    assert [b.label for b in view.nearby.objects] == ["Open 2020-01-16"]
    view.nearby.objects[0].clicks += 1
    assert view.state.night == date(2020, 1, 16) and view.stack.has_data


def test_cursor_moves_between_python_and_the_component(night_backend: Any) -> None:
    """state.t (UT clock) and the component's cursor (s from the window's start) follow each other."""
    view = NightView(backend=night_backend, images=None)
    view.apply_link({"night": NIGHT.isoformat(), "program": "trex", "t": "00:30:00", "window": "local"})
    view.refresh()
    window = view.stack.window
    assert view.canvas.cursor == window.offset(datetime(2020, 1, 15, 0, 30, tzinfo=UTC))
    view.canvas.cursor = 3600.0
    assert view.state.t == (window.start + timedelta(hours=1)).hour * 3600 + window.start.minute * 60
    assert view.cursor_time == window.start + timedelta(hours=1)
    view._on_message({"type": "nav", "step": 1})
    assert view.state.night == NIGHT + timedelta(days=1)
    view._on_message({"type": "toggle", "code": "GILL"})
    assert view.state.sites == ["GILL"] and view.canvas.chosen == ["GILL"]


def test_hostile_record_text_stays_inert_in_rows(night_backend: Any) -> None:
    """A display name with markup is sent as data for textContent, and its alt text is plain text."""
    stack = load_night(night_backend, NightState(night=NIGHT, programs=["themis-asi"]),
                       night_backend.list_sources(programs=["themis-asi"]))  # fmt: skip
    row = stack.rows[0]
    hostile_source = replace(row.keograms[0].product.data_source, display_name="<img src=x onerror=alert(1)> GILL")
    hostile = replace(row.keograms[0].product, data_source=hostile_source)
    stack2 = replace(stack, rows=(replace(row, keograms=(replace(row.keograms[0], product=hostile),)),))
    out = rows_payload(stack2, None)
    assert out[0]["images"][0]["src"] == ""  # no service: a placeholder, never the record's URL
    assert "<img src=x" in out[0]["images"][0]["alt"]  # kept as text; the browser sets it via setAttribute
