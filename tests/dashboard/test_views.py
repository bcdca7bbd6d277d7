"""Views and exports without a browser: build them, drive widgets, assert the session and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from bokeh.models import ColumnDataSource

from aurorax_core import DataProduct, DataProductQuery, DataSource, parse_time
from dashboard import exports
from dashboard.app import DashboardApp
from dashboard.media import alt_text, img_html, link_html
from dashboard.state import DashboardSession
from dashboard.views.results_table import ResultsTable


def _hostile_product() -> DataProduct:
    source = DataSource(1, "trex", "fort smith", "RGB ASI", display_name="<b>TREx</b>")
    return DataProduct(
        source,
        "montage",
        parse_time("2020-01-01T00:00:00"),
        parse_time("2020-01-01T01:00:00"),
        "javascript:alert(1)",
        {"montage_type": "<script>alert(1)</script>", "note": '"><img src=x onerror=alert(1)>'},
    )


def test_record_text_is_escaped_and_javascript_urls_are_inert() -> None:
    """<script> in metadata and a javascript: URL end up as inert text in our HTML."""
    product = _hostile_product()
    link = link_html(product.url)
    assert "<a" not in link and "javascript:alert(1)" in link
    assert 'href="https://x.org/?a=1&amp;b=&quot;' in link_html('https://x.org/?a=1&b="')
    assert 'rel="noopener noreferrer"' in link_html("https://data.phys.ucalgary.ca/x.jpg")
    alt = alt_text(product)
    html = img_html("data:image/png;base64,AAAA", alt)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html
    assert img_html("javascript:alert(1)", "x").startswith("<span")

    from dashboard.views.preview import metadata_html

    meta = metadata_html(product)
    assert "<script>" not in meta and "&lt;script&gt;alert(1)&lt;/script&gt;" in meta
    assert "<img" not in meta


def test_exports_are_valid(session: DashboardSession) -> None:
    """CSV, aurorax-cli JSON, URL list and query file reflect the results and the query."""
    session.param.trigger("search")
    products = session.results.view_products()
    records = json.loads(exports.results_json(products))
    assert len(records) == len(products) and records[0]["data_source"]["program"] == "trex"
    assert DataProduct.from_api_dict(records[0]).url == records[0]["url"]
    frame = pd.read_csv(__import__("io").StringIO(exports.results_csv(products)))
    assert len(frame) == len(products) and "url" in frame.columns
    assert exports.url_list(products).splitlines() == [p.url for p in products]
    query = session.form.to_query()
    assert DataProductQuery.from_json(exports.query_file(query)) == query


def test_python_snippets_run_the_same_query(session: DashboardSession, demo_catalog_path: Path) -> None:
    """'Copy as Python' for aurorax_core runs and finds the same number of records."""
    session.param.trigger("search")
    code = exports.python_core(session.form.to_query(), api_url=None).replace(
        "    verbose=True,\n", f"    verbose=False,\n    backend={str(demo_catalog_path)!r},\n"
    )
    code = code.replace("print(result.to_dataframe())", "print(len(result))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == str(len(session.results.result))
    pyaurorax_code = exports.python_pyaurorax(session.form.to_query())
    compile(pyaurorax_code, "<pyaurorax>", "exec")
    assert "aurorax.search.data_products.search(" in pyaurorax_code and "data_product_types=" in pyaurorax_code


def test_table_selection_and_filters_drive_the_state(session: DashboardSession) -> None:
    """Selecting a row sets the selection; a header filter narrows view_indices and the permalink."""
    table = ResultsTable(session=session)
    session.param.trigger("search")
    assert len(table.table.value) == len(session.results.result)
    table.table.selection = [1]
    assert session.results.selected_index == 1
    table.table.filters = [{"field": "data_product_type", "type": "like", "value": "movie"}]
    assert 0 < len(session.results.view_indices) < len(session.results.result)
    assert all(session.results.result.data[i].data_product_type == "movie" for i in session.results.view_indices)
    assert session.to_permalink()["table"] == json.dumps({"data_product_type": "movie"}, separators=(",", ":"))


def test_create_app_builds_a_page_per_call(backend: object) -> None:
    """Each DashboardApp gives an independent session: a search in one session leaves the other untouched."""
    first = DashboardApp(backend)
    second = DashboardApp(backend)
    assert first.session is not second.session
    first.session.form.preset_example_day()
    first.session.param.trigger("search")
    assert first.session.results.result is not None and second.session.results.result is None
    first.views["table"].table.selection = [0]
    assert first.session.results.selected is not None
    preview = first.views["preview"]
    assert preview._layout.visible


def test_filter_builder_adds_and_removes_conditions(session: DashboardSession) -> None:
    """Choosing key, operator and values then 'Add filter' adds a condition; its Remove button drops it."""
    from dashboard.views.search_form import MetadataFilterBuilder

    builder = MetadataFilterBuilder(session=session)
    assert "keogram_type" in builder._key.options
    builder._key.value = "keogram_type"
    assert "daily" in builder._values.options
    builder._operator.value = "in"
    builder._values.value = ["daily", "hourly"]
    builder._add.clicks += 1
    assert session.form.metadata_filters == [{"key": "keogram_type", "operator": "in", "values": ["daily", "hourly"]}]
    remove = builder._list.objects[0].objects[1]
    remove.clicks += 1
    assert session.form.metadata_filters == []
    builder._add.clicks += 1  # nothing chosen: a message, no filter
    assert session.form.metadata_filters == [] and builder._message.visible


def test_preview_that_cannot_be_fetched_says_why(session: DashboardSession, tmp_path: Path) -> None:
    """A real (non-demo) record on a host that is not allowed: a readable 'No preview' message."""
    from dataclasses import replace

    from aurorax_core import ThumbnailService
    from dashboard.images import ImageSource
    from dashboard.views.preview import ProductPreview

    session.param.trigger("search")
    product = session.results.result.data[0]
    metadata = {k: v for k, v in product.metadata.items() if k != "demo_synthetic"}
    unreachable = replace(product, url="http://127.0.0.1:9/keogram.jpg", metadata=metadata)
    session.set_result(replace(session.results.result, data=[unreachable, *session.results.result.data[1:]]))
    session.images = ImageSource(service=ThumbnailService(cache_dir=tmp_path))
    preview = ProductPreview(session=session)
    session.results.selected_index = 0
    assert "No preview available" in preview._image.object
    assert "Synthetic" not in preview._header.object


def test_failures_read_as_advice() -> None:
    """Server-side failures, maintenance and timeouts become titled advice, never a traceback."""
    from aurorax_core import Maintenance, SearchFailed, SearchTimeout
    from dashboard.state import friendly_error

    title, message = friendly_error(SearchFailed("metadata filter key 'x' is unknown"))
    assert "failed on the server" in title and "metadata filters" in message
    assert "maintenance" in friendly_error(Maintenance("503"))[0]
    assert "Narrow the time range" in friendly_error(SearchTimeout("deadline"))[1]
    assert "ZeroDivisionError" in friendly_error(ZeroDivisionError("x"))[1]


def test_misbehaving_api_url_is_refused_and_the_old_backend_kept(session: DashboardSession) -> None:
    """A URL that answers with a web page instead of AuroraX JSON: an alert, and the catalog stays in use."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from dashboard.views.backend import REMOTE, BackendPanel

    class NotAurorax(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><script>alert(1)</script>not an API</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAurorax)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        before = session.backend
        panel = BackendPanel(session=session)
        panel._kind.value = REMOTE
        panel._url.value = f"http://127.0.0.1:{server.server_address[1]}"
        panel.switch()
    finally:
        server.shutdown()
        server.server_close()
    assert session.backend is before
    assert 'role="alert"' in panel._status.object and "Still using catalog" in panel._status.object
    assert "<script>" not in panel._status.object
    assert panel._kind.value != REMOTE  # the radio shows the catalog still in use
    panel._kind.value = REMOTE
    panel._url.value = "javascript:alert(1)"
    panel.switch()
    assert "is not an http(s) URL" in panel._status.object


def test_thumbnails_and_previews_are_framed_and_the_title_is_not_repeated(backend: object) -> None:
    """White no-data columns of keograms stay visible: images sit in a bordered, dark-grey frame;
    the page header says the title once."""
    from dashboard.app import TITLE, DashboardApp
    from dashboard.views.results_table import COLUMNS
    from dashboard.views.style import css

    thumb = img_html("data:image/png;base64,AAAA", "x", width=120, height=60)
    assert "border:1px solid" in thumb and "background:#2b2b2b" in thumb
    for dark in (False, True):
        rule = css(dark).split(".ax-full")[1].split("}")[0]
        assert "width: 100%" in rule and "border: 1px solid" in rule
    template = DashboardApp(backend).template
    assert template.title == TITLE and not template.site
    # The columns that tell products apart come first (they stay in view on narrow screens).
    assert list(COLUMNS)[:5] == ["thumbnail", "display_name", "data_product_type", "sub_type", "start"]


def test_links_are_made_for_the_shown_page_and_escaped(session: DashboardSession) -> None:
    """The shown page's "Original" cells are link_html's (inert text for a javascript: URL); other
    pages get theirs when they are shown (not 15,000 links per search)."""
    from dataclasses import replace

    table = ResultsTable(session=session)
    session.param.trigger("search")
    data = session.results.result.data
    hostile = replace(data[0], url='javascript:alert("x")')
    session.set_result(replace(session.results.result, data=[hostile, *data[1:]]))
    value = table.table.value
    size = table.table.page_size
    assert len(value) > size
    for i in value.index[:size]:
        assert value.at[i, "link"] == link_html(session.results.result.data[i].url, "open ↗")
    assert "<a" not in value.at[0, "link"] and "javascript" not in value.at[0, "link"]
    assert all(value["link"].iloc[size:] == "")
    first = session.results.result.data[1]
    assert value.at[1, "start"] == first.start.strftime("%Y-%m-%d %H:%M:%S")
    assert value.at[1, "sub_type"] == (first.sub_type or "")
    table.table.page = 2
    assert table.table.value.at[value.index[size], "link"].startswith("<a href=")


def test_search_builds_the_table_frame_in_the_worker_and_sends_warm_thumbnails_with_the_rows(
    session: DashboardSession, tmp_path: Path
) -> None:
    """Nothing proportional to the result size runs on the event loop; thumbnails already in memory
    are in the first page's cells when the rows are set (no second round trip)."""
    import threading

    from aurorax_core import ThumbnailService
    from dashboard.images import ImageSource

    loop: list[str] = []
    workers: list[threading.Thread] = []

    def executor(fn):  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=fn)
        workers.append(thread)
        thread.start()

    def dispatch(fn):  # type: ignore[no-untyped-def]
        loop.append(threading.current_thread().name)
        fn()

    images = ImageSource(service=ThumbnailService(cache_dir=tmp_path))
    session.images = images
    table = ResultsTable(session=session)
    session.runner.executor, session.runner.dispatch = executor, dispatch
    built_in: list[str] = []
    build = session.results.result_views["table"]
    session.results.result_views["table"] = lambda r, f: (
        built_in.append(threading.current_thread().name),
        build(r, f),
    )[1]

    def search() -> None:
        assert session.run_search()
        while workers:
            workers.pop(0).join(30)

    search()
    assert built_in and built_in[0] != threading.main_thread().name
    assert table.table.value is session.results.prepared["table"]
    assert all(table.table.value["thumbnail"].iloc[:5] != "")  # made by the page-thumbnail worker
    # The same search again: thumbnails are warm, so the rows arrive with them.
    cells: list[str] = []
    table.table.param.watch(lambda e: cells.extend(e.new["thumbnail"].iloc[: table.table.page_size]), "value")
    search()
    assert cells and all(c.startswith("<img") for c in cells)


def test_a_hidden_table_makes_its_page_thumbnails_when_shown(backend: object, tmp_path: Path) -> None:
    """With another tab shown, a search fills the table's rows (with thumbnails already in memory) but
    renders none (they competed with the shown gallery's); showing the Table tab renders the rest."""
    from aurorax_core import ThumbnailService
    from dashboard.images import ImageSource
    from dashboard.state import DashboardSession

    rendered: list[str] = []

    class CountingService(ThumbnailService):
        def thumbnail(self, product: Any) -> Any:
            rendered.append(product.url)
            return super().thumbnail(product)

    session = DashboardSession(backend, view_names=("table", "gallery"))
    session.form.preset_example_day()
    images = ImageSource(service=CountingService(cache_dir=tmp_path))
    session.images = images
    table = ResultsTable(session=session)
    session.view = "gallery"
    assert session.run_search()
    page = list(table.table.value.index[: table.table.page_size])
    data = session.results.result.data
    waiting = [i for i in page if images.cached_thumbnail(data[i]) is None]
    assert rendered == []
    assert all(table.table.value.at[i, "thumbnail"] == "" for i in waiting)
    assert all(table.table.value.at[i, "link"] != "" for i in page)  # links are cheap: made
    session.view = "table"
    assert sorted(rendered) == sorted(data[i].url for i in waiting)
    assert all(table.table.value.at[i, "thumbnail"].startswith("<img") for i in page)


def test_later_pages_of_a_rendered_table_get_their_links_and_thumbnails(session: DashboardSession) -> None:
    """Turning to page 2 of a table shown in a page fills that page's links and thumbnails
    (Panel's patch cannot address rows past the first page of a remotely paginated table)."""
    table = ResultsTable(session=session)
    session.param.trigger("search")
    model = table.table.get_root()  # a rendered table: the browser's data source exists
    size = table.table.page_size
    assert len(table.table.value) > size
    table.table.page = 2
    source = model.select_one({"type": ColumnDataSource})
    shown_links = list(source.data["link"])
    assert len(shown_links) == min(size, len(table.table.value) - size)
    assert all(link.startswith("<a href=") for link in shown_links)
    index = table.table.value.index[size]
    table._apply_thumbnails([index], ['<img alt="x" src="data:image/jpeg;base64,AA==">'])
    assert source.data["thumbnail"][0].startswith("<img")


def test_sort_by_display_name_keeps_each_sites_rows_in_time_order_and_is_in_the_link(
    session: DashboardSession,
) -> None:
    """Three days of one site sorted by display name: its rows stay in time order (a stable sort
    with time as tie-break); shift-click adds columns; the sort goes into the page URL's keys."""
    from dashboard.permalink import apply_view_permalink, view_permalink

    session.form.type_time("start", "2019-12-31..2020-01-02")
    table = ResultsTable(session=session)
    session.run_search()
    data = session.results.result.data
    assert len(data) > 20
    table.table.sorters = [{"field": "display_name", "dir": "asc"}]
    starts = [data[i].start for i in session.results.view_indices]
    assert starts == sorted(starts)
    assert view_permalink([table]) == {"sort": "display_name"}
    table.table.sorters = [{"field": "data_product_type", "dir": "desc"}, {"field": "start", "dir": "asc"}]
    rows = [(data[i].data_product_type, data[i].start) for i in session.results.view_indices]
    assert rows == sorted(rows, key=lambda r: (_desc(r[0]), r[1]))
    assert view_permalink([table]) == {"sort": "-data_product_type,start"}

    other = ResultsTable(session=session)
    assert apply_view_permalink([other], {"sort": "-data_product_type,start,bogus"}) == []
    assert other.table.sorters == [{"field": "data_product_type", "dir": "desc"}, {"field": "start", "dir": "asc"}]


def _desc(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def test_chosen_sources_stay_shown_when_their_counts_change(backend: object) -> None:
    """The program options carry counts for the range; a new range relabels them, and the chosen
    program is sent to the browser with its new label (else the browser drops the choice)."""
    app = DashboardApp(backend)
    widget = app.views["form"]._programs
    model = widget.get_root()
    form = app.session.form
    form.preset_example_day()
    assert model.value == [next(k for k, v in form.param.programs.names.items() if v == "trex")]
    form.type_time("start", "2019-12-31..2020-01-02")
    label = next(k for k, v in form.param.programs.names.items() if v == "trex")
    assert label in model.options and model.value == [label]
