"""Browsing the results without a browser: stepping through the order, the preview's keys and
"Open this night", facet counts, night groups, the keogram time axis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dashboard.app import DashboardApp
from dashboard.state import DashboardSession
from dashboard.state.browse import Facet, group_by_night, product_facets, time_axis, type_words


def test_step_walks_the_tables_order_and_stops_at_the_ends(session: DashboardSession) -> None:
    session.param.trigger("search")
    results = session.results
    order = list(reversed(results.view_indices))
    results.view_indices = order
    assert results.step(1) and results.selected_index == order[0]
    assert results.position() == (1, len(order))
    assert not results.step(-1) and results.selected_index == order[0]
    assert results.step(1) and results.selected_index == order[1]
    results.selected_index = order[-1]
    assert not results.step(1) and results.position() == (len(order), len(order))


def test_preview_keys_move_close_and_the_table_page_follows(backend: object) -> None:
    app = DashboardApp(backend)
    session = app.session
    session.form.preset_example_day()
    session.param.trigger("search")
    preview, table = app.views["preview"], app.views["table"]
    results = session.results
    results.selected_index = results.view_indices[19]  # the last row of page 1
    assert preview.keys.open and table.table.page == 1
    preview._on_key({"action": "next"})
    assert results.selected_index == results.view_indices[20]
    assert table.table.page == 2 and table.table.selection == [results.view_indices[20]]
    assert "21 of" in preview._header.object
    preview._on_key({"action": "previous"})
    assert results.selected_index == results.view_indices[19] and table.table.page == 1
    preview._on_key({"action": "close"})
    assert results.selected_index is None and not preview._layout.visible and not preview.keys.open


def test_open_this_night_shows_the_night_tab_for_the_products_night_and_source(backend: object) -> None:
    app = DashboardApp(backend)
    session = app.session
    session.form.preset_example_day()
    session.param.trigger("search")
    product = session.results.result.data[0]
    session.results.selected_index = 0
    app.views["preview"]._night.clicks += 1
    night = app.views["night"]
    assert session.view == "night"
    assert night.night == product.start.date().isoformat()
    assert session.form.programs == [product.data_source.program]
    assert session.form.platforms == [product.data_source.platform]
    assert night._link()["program"] == product.data_source.program


def test_a_keogram_preview_has_a_ut_axis_labelled_in_hours(session: DashboardSession, tmp_path: Path) -> None:
    from aurorax_core import ThumbnailService
    from dashboard.images import ImageSource
    from dashboard.views.preview import ProductPreview

    session.images = ImageSource(service=ThumbnailService(cache_dir=tmp_path))
    session.param.trigger("search")
    preview = ProductPreview(session=session)
    keogram = next(i for i, p in enumerate(session.results.result.data) if p.data_product_type == "keogram")
    session.results.selected_index = keogram
    text = preview._image.object
    assert 'class="ax-axis"' in text and "UT hours" in text and "white columns: no data" in text
    assert ">00<" in text and ">12<" in text


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("00:00:00", "23:59:59", [(0.0, "00"), (8.333, "02")]),  # 24 h: every 2 h
        ("02:30:00", "06:30:00", [(12.5, "03"), (37.5, "04")]),  # 4 h: every hour, from the first whole hour
    ],
)
def test_time_axis_ticks(start: str, end: str, expected: list[tuple[float, str]]) -> None:
    day = "2020-01-01T"
    ticks = time_axis(datetime.fromisoformat(day + start + "+00:00"), datetime.fromisoformat(day + end + "+00:00"))
    assert ticks[: len(expected)] == expected
    assert len(ticks) <= 13
    assert time_axis(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_facets_count_types_and_sub_types(session: DashboardSession) -> None:
    session.param.trigger("search")
    frame = session.results.frame
    facets = product_facets(frame)
    by = {(f.data_product_type, f.sub_type): f.count for f in facets}
    for (kind, sub), count in by.items():
        rows = frame[frame["data_product_type"] == kind]
        if sub:
            rows = rows[rows["sub_type"] == sub]
        assert count == len(rows)
    keogram = next(f for f in facets if f.data_product_type == "keogram" and not f.sub_type)
    assert keogram.label == f"keograms · {keogram.count:,}"
    assert Facet("keogram", "daily", 412).label == "daily keograms · 412"
    assert Facet("keogram", "daily", 412).filters == {"data_product_type": "=keogram", "sub_type": "=daily"}
    assert type_words("summary_plot") == "summary plots"
    assert product_facets(None) == []


def test_a_facet_click_filters_the_results_in_one_step(backend: object) -> None:
    app = DashboardApp(backend)
    session = app.session
    session.form.preset_example_day()
    session.param.trigger("search")
    facets = app.views["facets"]
    chip = next(f for f in facets.facets if f.data_product_type == "movie" and not f.sub_type)
    facets.toggle(chip)
    results = session.results
    assert len(results.view_indices) == chip.count
    assert all(results.result.data[i].data_product_type == "movie" for i in results.view_indices)
    assert any(c["label"].startswith("movies · ") and c["pressed"] for c in facets.bar.chips)
    facets.toggle(chip)
    assert len(results.view_indices) == len(results.result)


def test_night_groups_keep_the_order_inside_each_night(session: DashboardSession) -> None:
    session.form.set_days(datetime(2019, 12, 31).date(), datetime(2020, 1, 2).date())
    session.param.trigger("search")
    data = session.results.result.data
    indices = list(reversed(range(len(data))))
    order, groups = group_by_night(data, indices)
    assert sorted(order) == sorted(indices)
    assert [g.key for g in groups] == sorted({p.start.date().isoformat() for p in data})
    for group in groups:
        members = order[group.first : group.first + group.count]
        assert {data[i].start.date().isoformat() for i in members} == {group.key}
        assert members == [i for i in indices if i in set(members)]  # the table's order within the night
    _, by_site = group_by_night(data, indices, by_site=True)
    assert len(by_site) >= len(groups) and all(" · " in g.label for g in by_site)


def test_a_failed_api_connect_puts_the_radio_back_and_says_its_advice_once(session: DashboardSession) -> None:
    from dashboard.views.backend import EMBEDDED, REMOTE, BackendPanel

    panel = BackendPanel(session=session)
    panel._kind.value = REMOTE
    panel._url.value = "http://127.0.0.1:9/"
    panel.switch()
    text = panel._status.object
    assert "Cannot reach the AuroraX server" in text and "Still using" in text
    assert text.lower().count("check") == 1, text
    assert panel._kind.value == EMBEDDED and not session.backend_name.startswith("http")
    assert panel._url.value == "http://127.0.0.1:9/"  # kept for the next try


def test_gallery_sends_a_nights_cards_when_near_and_skips_thumbnails_once_scrolled_past(
    backend: object, tmp_path: Path
) -> None:
    from aurorax_core import ThumbnailService
    from dashboard.images import ImageSource

    app = DashboardApp(backend, images=ImageSource(service=ThumbnailService(cache_dir=tmp_path)))
    session = app.session
    session.form.preset_example_day()
    session.form.set_days(datetime(2019, 12, 31).date(), datetime(2020, 1, 2).date())
    session.param.trigger("search")
    gallery = app.views["gallery"]
    assert len(gallery.groups) == 3
    assert [g["count"] for g in gallery.grid.groups] == [g.count for g in gallery.groups]
    assert sum(g.count for g in gallery.groups) == len(session.results.view_indices)
    build = gallery.grid.build
    # The Table tab is shown: a hidden gallery's nights still "come near" (Bokeh hides inactive
    # tabs with visibility:hidden) but wait for their thumbnails until the Gallery tab is shown.
    assert session.view == "table"
    gallery._on_msg({"want": 2, "near": True, "build": build})
    assert gallery.sent == {} and not gallery.thumbing and 2 in gallery.near
    messages: list[dict[str, Any]] = []
    send = gallery.grid._send_msg
    gallery.grid._send_msg = lambda msg: (messages.append(msg), send(msg))[1]
    session.view = "gallery"
    last = gallery.sent[2]
    # the first thumbnails come after a few renders, not a whole chunk: 8, then 16, 32, 48 at most
    missing = sum(1 for c in next(m["cards"] for m in messages if "cards" in m) if not c["src"])
    sizes = [len(m["thumbs"]) for m in messages if "thumbs" in m]
    assert sum(sizes) == missing
    assert sizes == [min(8 * 2**k, 48, missing - sum(sizes[:k])) for k in range(len(sizes))]
    assert [c["index"] for c in last] == gallery.order[gallery.groups[2].first :]
    assert not gallery.thumbing  # made (synchronously here) and sent
    assert all(c["src"].startswith("data:image/") for c in gallery.cards(2))  # next time they come with the cards
    gallery._on_msg({"want": 1, "near": False, "build": build})
    gallery.near.discard(0)
    gallery.send_group(0)  # e.g. a stale request: the group is marked near again and sent
    assert 0 in gallery.sent and 0 in gallery.near
    gallery._on_msg({"want": 1, "near": True, "build": build - 1})  # from old results: ignored
    assert 1 not in gallery.sent
    session.results.selected_index = last[0]["index"]
    assert gallery.grid.selected == last[0]["index"]


def test_option_labels_from_records_are_escaped_for_the_browsers_choice_lists(session: DashboardSession) -> None:
    from dashboard.views.search_form import MetadataFilterBuilder

    form = MetadataFilterBuilder(session=session)
    key = form._key.value
    session.form.metadata_vocabulary = {**session.form.metadata_vocabulary, key: ["<img src=x onerror=alert(1)>"]}
    form._on_key()
    assert form._values.options == {"&lt;img src=x onerror=alert(1)&gt;": "<img src=x onerror=alert(1)>"}
    assert all("<" not in label for label in session.form.param.programs.objects)


def test_a_sub_type_chip_selects_exactly_its_sub_type(backend: object) -> None:
    app = DashboardApp(backend)
    session = app.session
    session.form.preset_example_day()
    session.param.trigger("search")
    facets = app.views["facets"]
    daily = next(f for f in facets.facets if f.data_product_type == "keogram" and f.sub_type == "daily")
    facets.toggle(daily)
    data = session.results.result.data
    assert len(session.results.view_indices) == daily.count
    assert {data[i].sub_type for i in session.results.view_indices} == {"daily"}  # not daily_hires
    assert facets.bar.active == [
        {"field": "data_product_type", "label": "Product type is “keogram”"},
        {"field": "sub_type", "label": "Sub-type is “daily”"},
    ]
