"""Issue 12: record URLs are limited to http/https at ingest and upload. A record naming any other
scheme is refused with the record named, and nothing of the call is written (the whole ingest
transaction rolls back, earlier batches included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from catalog_data import SOURCES, make_records

from aurorax_core import CatalogBackend, RecordValidationError, ingest_file

HOSTILE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.org/a.jpg",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_non_web_url_is_refused_and_nothing_is_written(catalog: CatalogBackend, url: str) -> None:
    catalog.ingest_products(make_records(10, seed=1))
    before = catalog.stats()["records"]
    records = make_records(250, seed=2)
    records[180]["url"] = url  # in the second batch: the first one was already written in the transaction
    with pytest.raises(RecordValidationError) as info:
        catalog.ingest_products(records, batch_size=100)
    message = str(info.value)
    assert message.startswith("record 180 (")
    assert "must be an http:// or https:// address" in message
    assert catalog.stats()["records"] == before
    assert catalog.products_by_url([r["url"] for r in records[:100]]) == []


def test_web_and_relative_urls_are_accepted(catalog: CatalogBackend) -> None:
    """http(s) in any case, and a reference without a scheme (AuroraX's own upload example uses
    ``test.jpg``; it names no scheme to run)."""
    records = make_records(4, seed=3)
    urls = ["https://data.example.org/a.jpg", "HTTP://DATA.EXAMPLE.ORG/B.JPG", "test.jpg", "2020/01/01/c.jpg"]
    for record, url in zip(records, urls, strict=True):
        record["url"] = url
    assert catalog.ingest_products(records).inserted == 4
    assert sorted(p.url for p in catalog.products_by_url(urls)) == sorted(urls)


def test_upload_refuses_a_javascript_url(catalog: CatalogBackend) -> None:
    catalog.ingest_sources(SOURCES)
    record = {
        "data_product_type": "keogram",
        "start": "2020-01-01T00:00:00",
        "end": "2020-01-01T23:59:59",
        "url": "https://example.org/fine.jpg",
        "metadata": {},
        "program": SOURCES[0]["program"],
        "platform": SOURCES[0]["platform"],
        "instrument_type": SOURCES[0]["instrument_type"],
    }
    hostile = dict(record, url="javascript:alert(1)")
    with pytest.raises(RecordValidationError, match=r"record 1 \('javascript:alert\(1\)'\): URL scheme 'javascript'"):
        catalog.upload_products(1, [record, hostile])
    assert catalog.stats()["records"] == 0


def test_ingest_file_refuses_a_data_url(catalog: CatalogBackend, tmp_path: Path) -> None:
    records = make_records(5, seed=4)
    records[3]["url"] = "data:image/svg+xml,<svg onload=alert(1)>"
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"result": records}))
    with pytest.raises(RecordValidationError, match=r"record 3 .*URL scheme 'data' is not allowed"):
        ingest_file(path, catalog)
    assert catalog.stats()["records"] == 0
