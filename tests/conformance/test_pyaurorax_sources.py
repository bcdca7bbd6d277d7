"""pyaurorax's sources, metadata, availability and exception tests (PROTOCOL §10.3), ported to our server."""

from __future__ import annotations

import datetime
from typing import Any

import pyaurorax
import pytest
from pyaurorax.search.sources.classes.data_source import DataSourceStatistics

from aurorax_core.backends.catalog import CatalogBackend

FORMATS = ["identifier_only", "basic_info", "with_metadata", "full_record"]


def test_get_single_source(aurorax: pyaurorax.PyAuroraX) -> None:
    source = aurorax.search.sources.get("swarm", "swarma", "footprint")
    assert (source.identifier, source.display_name, source.source_type) == (3, "Swarm A", "leo")
    assert isinstance(source.ephemeris_metadata_schema, list)


def test_get_source_by_filter_gives_exactly_three(aurorax: pyaurorax.PyAuroraX) -> None:
    sources = aurorax.search.sources.get_using_filters(program="swarm", instrument_type="footprint")
    assert [s.identifier for s in sources] == [3, 29, 30]


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_source_by_id_in_every_format(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend, fmt: str) -> None:
    source = aurorax.search.sources.get_using_identifier(46, format=fmt)
    assert source.identifier == 46
    expected = catalog.get_source(46).to_api_dict(fmt)
    for key, value in expected.items():
        assert getattr(source, key) == value


def test_get_source_not_found(aurorax: pyaurorax.PyAuroraX) -> None:
    with pytest.raises(pyaurorax.AuroraXNotFoundError):
        aurorax.search.sources.get("definitely", "doesnt", "exist")
    assert aurorax.search.sources.get_using_filters("definitely", "doesnt", "exist") == []


def test_get_source_using_identifier_not_found(aurorax: pyaurorax.PyAuroraX) -> None:
    with pytest.raises(
        pyaurorax.AuroraXAPIError, match="No Data Source record found in AuroraX for identifier 12345678"
    ):
        aurorax.search.sources.get_using_identifier(12345678)


def test_get_source_stats(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    source = aurorax.search.sources.get("themis", "themise", "footprint", include_stats=True)
    assert isinstance(source.stats, DataSourceStatistics)
    auroramax = aurorax.search.sources.get_using_identifier(175, include_stats=True)
    stats = catalog.get_source(175, include_stats=True).stats
    assert stats is not None
    assert auroramax.stats.data_product_count == stats["data_product_count"] > 0
    assert auroramax.stats.earliest_data_product_loaded == datetime.datetime.fromisoformat(
        stats["earliest_data_product_loaded"]
    )


def test_list_simple_with_stats_and_table(aurorax: pyaurorax.PyAuroraX, capsys: pytest.CaptureFixture[str]) -> None:
    sources = aurorax.search.sources.list()
    assert len(sources) > 100
    with_stats = aurorax.search.sources.list(include_stats=True)
    assert len(with_stats) == len(sources)
    for source in with_stats:
        source.pretty_print()
        source.stats.pretty_print()
    aurorax.search.sources.list_in_table(program="swarm")
    assert "Swarm A" in capsys.readouterr().out


@pytest.mark.parametrize("order", ["identifier", "program", "platform", "instrument_type", "display_name", "owner"])
def test_list_orders(aurorax: pyaurorax.PyAuroraX, order: str) -> None:
    sources = aurorax.search.sources.list(order=order)
    # pyaurorax sorts client-side; None sorts as "None". It needs the key in every record.
    keys = [getattr(s, order) if order == "identifier" else str(getattr(s, order)) for s in sources]
    assert keys == sorted(keys)
    assert len(sources) > 100


def test_list_filters_match_the_catalog(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    cases: list[dict[str, Any]] = [
        {"program": "trex"},
        {"platform": "gillam"},
        {"instrument_type": "RGB ASI"},
        {"source_type": "ground"},
        {"owner": "dchaddoc@ucalgary.ca"},
    ]
    for case in cases:
        ours = [s.identifier for s in aurorax.search.sources.list(**case)]
        in_process = [
            s.identifier
            for s in catalog.list_sources(
                programs=[case["program"]] if "program" in case else (),
                platforms=[case["platform"]] if "platform" in case else (),
                instrument_types=[case["instrument_type"]] if "instrument_type" in case else (),
                source_type=case.get("source_type"),
                owner=case.get("owner"),
            )
            if s.identifier >= 0
        ]
        assert ours == sorted(in_process)
        assert ours, case


def test_search_swarm_gives_exactly_three_with_stats(aurorax: pyaurorax.PyAuroraX) -> None:
    sources = aurorax.search.sources.search(programs=["swarm"], format="full_record", include_stats=True)
    assert [s.identifier for s in sources] == [3, 29, 30]
    assert all(s.stats is not None for s in sources)
    assert aurorax.search.sources.search(programs=["not-a-program"]) == []
    several = aurorax.search.sources.search(platforms=["gillam", "rabbit lake"], instrument_types=["RGB ASI"])
    assert {s.platform for s in several} == {"gillam", "rabbit lake"}


def test_add_update_delete_source(aurorax: pyaurorax.PyAuroraX) -> None:
    new = pyaurorax.search.DataSource(
        identifier=9402,
        program="test-program-update",
        platform="test-platform",
        instrument_type="test-instrument-type",
        source_type="ground",
        display_name="Testing update",
    )
    added = aurorax.search.sources.add(new)
    assert added.identifier == 9402
    updated = aurorax.search.sources.update(
        9402, instrument_type="changed-instrument", metadata={}, ephemeris_metadata_schema=[]
    )
    assert updated.instrument_type == "changed-instrument"
    assert aurorax.search.sources.get_using_identifier(9402).instrument_type == "changed-instrument"
    assert aurorax.search.sources.delete(9402) == 0
    with pytest.raises(pyaurorax.AuroraXAPIError, match="404"):
        aurorax.search.sources.get_using_identifier(9402)


def test_add_without_identifier_gets_one(aurorax: pyaurorax.PyAuroraX) -> None:
    added = aurorax.search.sources.add(
        pyaurorax.search.DataSource(
            program="test-program-auto",
            platform="test-platform",
            instrument_type="test-instrument-type",
            source_type="ground",
            display_name="Testing auto id",
        )
    )
    assert isinstance(added.identifier, int)
    assert aurorax.search.sources.delete(added.identifier) == 0


def test_duplicate_source_is_an_auroraxduplicate_error(aurorax: pyaurorax.PyAuroraX) -> None:
    with pytest.raises(pyaurorax.AuroraXDuplicateError):
        aurorax.search.sources.add(
            pyaurorax.search.DataSource(
                program="test-program",
                platform="test-platform",
                instrument_type="test-instrument-type",
                source_type="ground",
                display_name="PyAuroraX testing",
            )
        )


def test_deleting_a_source_with_data_is_a_conflict(aurorax: pyaurorax.PyAuroraX) -> None:
    with pytest.raises(pyaurorax.AuroraXConflictError):
        aurorax.search.sources.delete(175)


def test_metadata_schemas(aurorax: pyaurorax.PyAuroraX) -> None:
    assert isinstance(aurorax.search.metadata.get_ephemeris_schema(3), list)
    steve = aurorax.search.sources.get("events", "mcgrath", "STEVE")
    assert aurorax.search.metadata.get_ephemeris_schema(steve.identifier) == []
    assert aurorax.search.metadata.get_data_products_schema(steve.identifier) == []
    assert isinstance(aurorax.search.metadata.get_data_products_schema(46), list)


def test_data_product_availability(aurorax: pyaurorax.PyAuroraX, catalog: CatalogBackend) -> None:
    result = aurorax.search.availability.data_products(
        datetime.date(2019, 1, 1), datetime.date(2019, 1, 2), program="trex", instrument_type="RGB ASI", slow=True
    )
    assert len(result) > 0
    assert result[0].data_source.program == "trex"
    expected = catalog.availability(
        datetime.date(2019, 1, 1), datetime.date(2019, 1, 2), program="trex", instrument_type="RGB ASI"
    )
    assert [(r.data_source.identifier, r.available_data_products) for r in result] == [
        (a.data_source.identifier, a.available_data_products) for a in expected
    ]
