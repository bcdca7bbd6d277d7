"""Products map to UCalgary datasets only by exact name; ACKNOWLEDGEMENTS.md never invents."""

from __future__ import annotations

from datetime import UTC, datetime

from aurorax_core.citations import acknowledgements_markdown, dataset_for
from aurorax_core.models import DataSource

from .helpers import product

THEMIS = DataSource(46, "themis-asi", "gillam", "panchromatic ASI")
BLUE = DataSource(61, "trex", "gillam", "blueline ASI")
FOOT = DataSource(3, "swarm", "swarma", "footprint", source_type="leo")


def test_products_map_to_datasets_by_family_cadence_type_and_format() -> None:
    base = "https://data.phys.ucalgary.ca/x/"
    cases = [
        (product(base + "a.jpg", sub_type="daily"), "TREX_RGB_DAILY_KEOGRAM"),
        (product(base + "a.jpg", kind="montage", sub_type="hourly"), "TREX_RGB_HOURLY_MONTAGE"),
        (product(base + "a.png", source=BLUE, sub_type="daily_hires"), "TREX_BLUE_DAILY_KEOGRAM_PNG"),
        (product(base + "a.pgm.gz", source=THEMIS, kind="montage", sub_type="hourly"), "THEMIS_ASI_HOURLY_MONTAGE_PGM"),
    ]
    for item, name in cases:
        found = dataset_for(item)
        assert found is not None and found.name == name
    assert dataset_for(product(base + "m.mp4", kind="movie", sub_type="real-time daily")) is None
    assert dataset_for(product(base + "a.jpg", source=BLUE, sub_type="daily")) is None  # no JPG dataset exists
    assert dataset_for(product(base + "a.jpg", source=FOOT, kind="summary_plot", sub_type=None)) is None
    assert dataset_for(product(base + "a.jpg", sub_type=None)) is None  # cadence unknown: not guessed


def test_acknowledgements_give_doi_text_and_range_and_list_unknowns_as_unknown() -> None:
    start = datetime(2020, 2, 1, 3, tzinfo=UTC)
    evil = DataSource(7, "<script>alert(1)</script>", "x", "[link](javascript:x)")
    items = [
        product("https://data.phys.ucalgary.ca/a.jpg", start=start),
        product("https://data.phys.ucalgary.ca/b.jpg", start=start.replace(day=5)),
        product("https://data.phys.ucalgary.ca/t.jpg", source=THEMIS, sub_type="daily"),
        product("https://data.phys.ucalgary.ca/e.jpg", source=evil),
    ]
    text = acknowledgements_markdown(items, generated=datetime(2026, 1, 1, tzinfo=UTC))
    rgb = text.split("## TREX_RGB_HOURLY_KEOGRAM", 1)[1].split("##", 1)[0]
    assert "Products used: 2" in rgb and "2020-02-01T03:00:00Z .. 2020-02-05T03:59:00Z" in rgb
    assert "10.11575/4p8e-1k65" in rgb and "Canadian Space Agency" in rgb
    themis = text.split("## THEMIS_ASI_DAILY_KEOGRAM_JPG", 1)[1].split("##", 1)[0]
    assert "DOI: unknown" in themis and "Required acknowledgement: unknown" in themis
    unknown = text.split("## Products of unknown datasets", 1)[1]
    assert "1 product(s)" in unknown
    assert "<script>" not in text and "](javascript" not in text
