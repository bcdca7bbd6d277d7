"""The dashboard's basket through its state objects: adding from every view, undo, the browser's
stored copy, links, the bundle, inert record text, and "keep these results offline"."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import panel as pn
import pytest

from aurorax_core import Basket, CatalogBackend, DataProductQuery, RemoteBackend
from aurorax_core.server import serve_in_thread
from dashboard.state import DashboardSession
from dashboard.state.basket import BasketState
from dashboard.views.basket import BasketView, basket_frame, groups_html
from dashboard.views.gallery import Gallery
from dashboard.views.night import NightTab
from dashboard.views.preview import ProductPreview
from dashboard.views.registry import VIEWS, view_names
from dashboard.views.results_table import ResultsTable

HOSTILE_URL = 'https://data.phys.ucalgary.ca/x/<script>window.__pwned=1</script>"onerror=alert(1).jpg'
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>"


def _searched(backend: Any) -> DashboardSession:
    session = DashboardSession(backend, view_names=view_names())
    session.form.preset_example_day()  # TREx RGB at Fort Smith, 2020-01-01
    assert session.run_search()
    assert session.results.result is not None and len(session.results.result) > 5
    return session


def _zip_manifest(data: bytes) -> tuple[list[str], list[str], list[str]]:
    """(manifest.json URLs, manifest.csv URLs, file names) of a bundle."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        records = json.loads(archive.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8"))))
    return [r["url"] for r in records], [r["url"] for r in rows], names


def test_the_basket_is_one_registry_entry_and_a_session_part(backend: Any) -> None:
    assert BasketView in VIEWS and "basket" in view_names()
    session = DashboardSession(backend)
    assert isinstance(session.basket, BasketState) and len(session.basket) == 0


def test_add_remove_clear_undo_and_a_new_search_keeps_the_basket(backend: Any) -> None:
    session = _searched(backend)
    state = session.basket
    data = session.results.result.data
    assert state.add(data[:3], query=session.results.result.query) == 3
    assert state.message == "Added 3 products to the basket."
    assert state.add(data[:4]) == 1  # URLs already in it are kept once
    assert "1 already" not in state.message and "3 already in it" in state.message
    assert len(state) == 4
    assert state.remove([data[0].url]) == 1 and data[0] not in state
    state.clear()
    assert len(state) == 0 and "Undo brings them back" in state.message
    assert state.undo() and len(state) == 3 and data[0] not in state
    assert state.undo() and len(state) == 4 and data[0] in state
    # Another search replaces the results, never the basket.
    session.form.set_days(datetime(2020, 1, 2, tzinfo=UTC).date(), datetime(2020, 1, 2, tzinfo=UTC).date())
    assert session.run_search()
    assert session.results.result.data[0] not in state
    assert len(state) == 4 and state.basket.queries[0].start.day == 1


def test_the_stored_copy_round_trips_and_merges_and_a_damaged_one_is_reported(backend: Any) -> None:
    session = _searched(backend)
    result = session.results.result
    session.basket.add(result.data[:5], query=result.query)
    stored = session.basket.stored
    assert stored and json.loads(stored)["v"] == 1

    reloaded = BasketState()  # the next visit: the browser hands the stored JSON back
    reloaded.add(result.data[4:7])  # added before the stored copy arrived
    assert reloaded.restore(stored) and reloaded.restored
    assert reloaded.basket.urls == [p.url for p in result.data[4:7]] + [p.url for p in result.data[:4]]
    assert reloaded.basket.queries == (result.query,)
    assert Basket.from_json(reloaded.stored).urls == reloaded.basket.urls

    damaged = BasketState()
    assert not damaged.restore('{"v": 1, "s": [[1]], "p": []}')
    assert "could not be read" in damaged.message and len(damaged) == 0
    assert not damaged.restore("not json at all") and len(damaged) == 0
    emptied = BasketState()
    emptied.add(result.data[:1])
    emptied.remove([result.data[0].url])
    assert emptied.stored == ""  # an empty basket is removed from the browser's storage


def test_a_small_basket_travels_in_the_link_and_a_large_one_does_not(backend: Any) -> None:
    session = _searched(backend)
    result = session.results.result
    session.basket.add(result.data[:3], query=result.query)
    view = BasketView(session=session)
    token = view.basket
    assert token and token == session.basket.link_token() and len(token) <= 2000
    assert "link carries this basket" in session.basket.link_note()

    other = DashboardSession(backend, view_names=view_names())
    other_view = BasketView(session=other)
    other_view.basket = token  # what the permalink does with ?basket=
    assert other.basket.basket.urls == [p.url for p in result.data[:3]]
    assert "The link added 3 products" in other.basket.message

    broken = DashboardSession(backend, view_names=view_names())
    BasketView(session=broken).basket = "not-a-basket-token"
    assert "could not be used" in broken.basket.message and len(broken.basket) == 0

    large = BasketState()
    many = [replace(result.data[0], url=f"https://data.phys.ucalgary.ca/x/{i:05d}.jpg") for i in range(600)]
    large.add(many)
    assert large.link_token() == "" and "too large for a link" in large.link_note()


def test_the_bundle_lists_exactly_the_basket(backend: Any) -> None:
    session = _searched(backend)
    first = session.results.result
    session.basket.add(first.data[:4], query=first.query)
    session.form.set_days(datetime(2020, 1, 2, tzinfo=UTC).date(), datetime(2020, 1, 2, tzinfo=UTC).date())
    assert session.run_search()
    second = session.results.result
    session.basket.add(second.data[:2], query=second.query)
    session.basket.remove([first.data[1].url])
    expected = session.basket.basket.urls
    json_urls, csv_urls, names = _zip_manifest(session.basket.bundle_bytes())
    assert json_urls == expected and sorted(csv_urls) == sorted(expected) and len(expected) == 5
    assert {"download.sh", "download.py", "ACKNOWLEDGEMENTS.md"} <= set(names)
    assert len([n for n in names if n.startswith("queries/")]) == 2  # one per search that fed it


def test_the_view_groups_by_dataset_and_its_download_is_the_basket(backend: Any) -> None:
    session = _searched(backend)
    view = BasketView(session=session)
    session.view = "basket"
    assert view.download.disabled and "Add products" in view._bundle_note.object
    result = session.results.result
    session.basket.add(result.data, query=result.query)
    groups = session.basket.groups()
    assert sum(g.count for g in groups) == len(result.data)
    assert all(f"<th scope='row'>{g.key}" in view._groups.object for g in groups if g.known)
    assert f"{len(result.data)} products in {len(groups)} dataset" in view._summary.object
    assert len(view.table.value) == len(result.data)
    assert not view.download.disabled and view.download.label.startswith(f"Download bundle ({len(result.data)} ")
    json_urls, _csv, _names = _zip_manifest(view.download.file.getvalue())
    assert json_urls == session.basket.basket.urls
    # Remove two rows from the list, then undo.
    view.table.selection = [0, 1]
    assert view.remove_button.label == "Remove 2 selected products"
    removed = list(view.table.value["url"][:2])
    view.remove_button.clicks += 1
    assert len(session.basket) == len(result.data) - 2 and removed[0] not in session.basket
    assert len(view.table.value) == len(result.data) - 2
    view.undo_button.clicks += 1
    assert len(session.basket) == len(result.data) and not view.clear_button.disabled
    view.clear_button.clicks += 1
    assert len(session.basket) == 0 and view.download.disabled


def test_adding_from_the_table_gallery_preview_and_night(backend: Any) -> None:
    session = _searched(backend)
    result = session.results.result
    table = ResultsTable(session=session)
    bar = table._basket_bar
    assert bar.add_selected.disabled and bar.add_shown.label == f"Add all {len(result.data)} shown to basket"
    table.table.selection = [1, 3]
    assert bar.add_selected.label == "Add 2 selected rows to basket"
    bar.add_selected.clicks += 1
    assert session.basket.basket.urls == [result.data[1].url, result.data[3].url]
    bar.add_shown.clicks += 1
    assert len(session.basket) == len(result.data)
    session.basket.clear()

    session.view = "gallery"
    gallery = Gallery(session=session)
    cards = gallery.cards(0)  # the first night's cards, as sent when it comes near the view
    assert cards and gallery.grid.in_basket == []
    index = cards[1]["index"]
    gallery._on_msg({"basket": index})
    assert session.basket.basket.urls == [result.data[index].url] and gallery.grid.in_basket == [index]
    gallery._on_msg({"basket": index})  # again: out of the basket
    assert len(session.basket) == 0 and gallery.grid.in_basket == []
    gallery._on_msg({"basket": f"{index}; drop"})  # not an index: ignored
    assert len(session.basket) == 0

    preview = ProductPreview(session=session)
    button = next(b for b in preview._layout.select(pn.widgets.Button) if "ax-preview-basket" in b.css_classes)
    session.results.selected_index = 4
    assert button.label == "Add to basket"
    button.clicks += 1
    assert session.basket.basket.urls == [result.data[4].url] and button.label.startswith("In basket")
    button.clicks += 1
    assert len(session.basket) == 0 and button.label == "Add to basket"

    night = NightTab(session=session)
    session.view = "night"
    control = next(b for b in night._holder.select(pn.widgets.Button) if "nv-basket" in b.css_classes)
    stack = night.view.stack
    keograms = [p.product for row in stack.rows for p in row.keograms]
    assert keograms and control.label.startswith(f"Add this night's {len(keograms)} keogram")
    control.clicks += 1
    assert set(session.basket.basket.urls) == {p.url for p in keograms}


def test_record_text_stays_inert_in_the_basket_view(backend: Any) -> None:
    session = _searched(backend)
    product = session.results.result.data[0]
    source = replace(product.data_source, display_name=HOSTILE_NAME, program="<b>prog</b>")
    hostile = replace(product, url=HOSTILE_URL, data_source=source)
    session.basket.add([hostile])
    view = BasketView(session=session)
    session.view = "basket"
    assert "<script>" not in view._groups.object and "<b>prog" not in view._groups.object
    assert "&lt;b&gt;prog&lt;/b&gt;" in view._groups.object
    frame = basket_frame(session.basket.basket)
    assert frame.at[0, "url"] == HOSTILE_URL and frame.at[0, "display_name"] == HOSTILE_NAME
    assert all(f == {"type": "plaintext"} for f in view.table.formatters.values())
    assert "<img" not in groups_html(session.basket.groups())
    # The hostile record survives the browser's storage and the bundle as data.
    again = BasketState()
    again.restore(session.basket.stored)
    assert again.basket.urls == [HOSTILE_URL]
    json_urls, _csv, _names = _zip_manifest(session.basket.bundle_bytes())
    assert json_urls == [HOSTILE_URL]


def test_keep_offline_says_why_it_cannot_on_a_catalog_or_without_a_catalog_path(backend: Any) -> None:
    session = _searched(backend)
    view = BasketView(session=session)
    assert view.offline_button.disabled
    assert "already come from a local catalog" in view._offline_note.object
    assert not view.keep_offline()


@pytest.fixture
def api(demo_catalog_path: Path, tmp_path: Path) -> Any:
    copy = tmp_path / "upstream.sqlite"
    shutil.copyfile(demo_catalog_path, copy)
    url, stop = serve_in_thread(copy, search_processes=0)
    remote = RemoteBackend(url)
    yield remote
    remote.close()
    stop()


def test_keep_offline_syncs_the_search_into_the_local_catalog(api: Any, tmp_path: Path) -> None:
    session = DashboardSession(api, view_names=view_names())
    session.form.preset_example_day()
    assert session.run_search()
    view = BasketView(session=session)
    assert view.offline_button.disabled and "AURORAX_CATALOG" in view._offline_note.object
    local = tmp_path / "offline.sqlite"
    session.offline.catalog_path = str(local)
    session.results.param.trigger("result")
    assert not view.offline_button.disabled
    assert view.keep_offline()
    offline = session.offline
    assert not offline.running and not offline.failed, offline.message
    assert offline.message.startswith(f"Kept offline in {local}") and "records written" in offline.message
    assert "Kept offline" in view._offline_note.object
    query: DataProductQuery = session.results.result.query
    catalog = CatalogBackend(local)
    try:
        offline_urls = sorted(p.url for p in catalog.search(query).data)
    finally:
        catalog.close()
    assert offline_urls == sorted(p.url for p in session.results.result.data)


def test_keep_offline_reports_an_api_that_went_away(api: Any, tmp_path: Path) -> None:
    session = DashboardSession(api, view_names=view_names())
    session.form.preset_example_day()
    assert session.run_search()
    session.offline.catalog_path = str(tmp_path / "offline.sqlite")
    view = BasketView(session=session)
    session.backend = RemoteBackend("http://127.0.0.1:9")  # nothing listens there
    assert view.keep_offline()
    assert session.offline.failed and "failed" in session.offline.message
    assert "ax-alert-error" in view._offline_note.object
