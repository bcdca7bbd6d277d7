"""The pyaurorax-shaped entry points: search(), open_backend(), describe()."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import aurorax_core
from aurorax_core import (
    DATAFRAME_COLUMNS,
    CatalogBackend,
    DataProductQuery,
    QueryValidationError,
    RemoteBackend,
    open_backend,
    search,
)

DOC_DAY = ("2020-01-01T00:00:00", "2020-01-01T23:59:59")


def test_search_accepts_the_pyaurorax_call_shape_and_returns_typed_records(demo_catalog_path: Path) -> None:
    """The documentation's example call finds TREx RGB Fort Smith products on 2020-01-01."""
    result = search(
        datetime(2020, 1, 1, 0, 0, 0),
        datetime(2020, 1, 1, 23, 59, 59),
        programs=["trex"],
        platforms=["fort smith"],
        instrument_types=["RGB ASI"],
        backend=demo_catalog_path,
    )
    assert len(result.data) > 0
    assert re.fullmatch(r"[0-9a-f-]{36}", result.request_id)
    for product in result.data:
        assert product.data_source.key == ("trex", "fort smith", "RGB ASI")
        assert product.start.tzinfo is UTC and product.end.tzinfo is UTC
        assert product.start >= datetime(2020, 1, 1, tzinfo=UTC)
        assert product.end <= datetime(2020, 1, 1, 23, 59, 59, tzinfo=UTC)
    assert result.file_size > 0
    assert [entry.summary for entry in result.logs][-1].startswith("Finished search")


def test_naive_datetimes_and_strings_mean_utc(demo_catalog_path: Path) -> None:
    """Naive datetimes, 'Z' strings and aware datetimes give the same records."""
    kwargs = {"programs": ["trex"], "backend": demo_catalog_path}
    naive = search(datetime(2020, 1, 1), datetime(2020, 1, 1, 23, 59, 59), **kwargs)
    zulu = search("2020-01-01T00:00:00Z", "2020-01-01T23:59:59Z", **kwargs)
    aware = search(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 23, 59, 59, tzinfo=UTC), **kwargs)
    assert [p.url for p in naive] == [p.url for p in zulu] == [p.url for p in aware]
    assert len(naive) > 0


def test_metadata_filters_accept_the_list_and_the_aurorax_block_forms(demo_catalog_path: Path) -> None:
    """A list of expression dicts with an operator argument equals the AuroraX JSON block."""
    expressions = [
        {"key": "keogram_type", "operator": "=", "values": ["daily"]},
        {"key": "movie_type", "operator": "=", "values": ["real-time daily"]},
    ]
    as_list = search(
        *DOC_DAY,
        programs=["trex"],
        metadata_filters=expressions,
        metadata_filters_logical_operator="or",
        backend=demo_catalog_path,
    )
    as_block = search(
        *DOC_DAY,
        programs=["trex"],
        metadata_filters={"expressions": expressions, "logical_operator": "OR"},
        backend=demo_catalog_path,
    )
    assert [p.url for p in as_list] == [p.url for p in as_block]
    kinds = {(p.data_product_type, p.sub_type) for p in as_list}
    assert kinds == {("keogram", "daily"), ("movie", "real-time daily")}


def test_verbose_prints_the_aurorax_stages_in_order(
    demo_catalog_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """verbose=True prints the same stages as pyaurorax, each with a timestamp prefix."""
    result = search(*DOC_DAY, programs=["trex"], platforms=["fort smith"], verbose=True, backend=demo_catalog_path)
    lines = capsys.readouterr().out.splitlines()
    expected = [
        "Search object created",
        "Request submitted",
        f"Request ID: {result.request_id}",
        "Waiting for data ...",
        "Data is now available",
        "Retrieving data ...",
    ]
    messages = [line.split("] ", 1)[1] for line in lines]
    assert messages[: len(expected)] == expected
    assert re.fullmatch(rf"Retrieved [\d.]+ (kB|MB|Bytes) of data containing {len(result)} records", messages[-1])
    assert all(line.startswith("[") for line in lines)
    # Quiet by default: a second search prints nothing.
    search(*DOC_DAY, programs=["trex"], backend=demo_catalog_path)
    assert capsys.readouterr().out == ""


def test_to_dataframe_has_the_documented_columns(demo_catalog_path: Path) -> None:
    """The DataFrame has the fixed columns, UTC times, and one row per record."""
    result = search(*DOC_DAY, programs=["trex"], platforms=["fort smith"], backend=demo_catalog_path)
    frame = result.to_dataframe()
    assert tuple(frame.columns) == DATAFRAME_COLUMNS
    assert len(frame) == len(result)
    assert str(frame["start"].dt.tz) == "UTC"
    assert frame["url"].tolist() == [p.url for p in result]
    empty = search("1990-01-01", "1990-01-02", programs=["trex"], backend=demo_catalog_path).to_dataframe()
    assert tuple(empty.columns) == DATAFRAME_COLUMNS and len(empty) == 0
    assert isinstance(empty["start"].dtype, pd.DatetimeTZDtype)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2020-01-02", "end": "2020-01-01"}, "before start"),
        ({"start": "2020-01-01", "end": "tomorrow"}, "cannot parse"),
        ({"programs": "trex"}, "must be a list"),
        ({"data_product_types": ["keograms"]}, "unknown data product type"),
        ({"metadata_filters": [{"key": "keogram_type", "operator": "like", "values": ["d"]}]}, "unknown operator"),
        ({"metadata_filters_logical_operator": "XOR"}, "'AND' or 'OR'"),
    ],
)
def test_bad_arguments_raise_a_clear_validation_error(kwargs: dict[str, object], message: str, tmp_path: Path) -> None:
    """Invalid arguments are rejected before any backend is touched, with a message saying why."""
    call = {"start": DOC_DAY[0], "end": DOC_DAY[1], "backend": tmp_path / "never-created.sqlite", **kwargs}
    with pytest.raises(QueryValidationError, match=re.escape(message)):
        search(**call)  # type: ignore[arg-type]
    assert not (tmp_path / "never-created.sqlite").exists()


def test_open_backend_resolves_urls_paths_and_the_environment(
    demo_catalog_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL selects the AuroraX API, a path a catalog; AURORAX_API_URL wins over AURORAX_CATALOG."""
    remote = open_backend("https://api.aurorax.space/")
    assert isinstance(remote, RemoteBackend)
    assert remote.name == "https://api.aurorax.space"
    catalog = open_backend(str(demo_catalog_path))
    assert isinstance(catalog, CatalogBackend)
    assert open_backend(catalog) is catalog
    catalog.close()

    monkeypatch.setenv("AURORAX_CATALOG", str(demo_catalog_path))
    monkeypatch.delenv("AURORAX_API_URL", raising=False)
    from_env = open_backend()
    assert isinstance(from_env, CatalogBackend) and from_env.path.resolve() == demo_catalog_path.resolve()
    from_env.close()
    monkeypatch.setenv("AURORAX_API_URL", "http://127.0.0.1:9")
    assert isinstance(open_backend(), RemoteBackend)
    with pytest.raises(QueryValidationError, match="backend must be"):
        open_backend(42)  # type: ignore[arg-type]


def test_describe_works_offline_and_matches_the_query() -> None:
    """describe() without a backend renders the AuroraX-style text of the query."""
    query = DataProductQuery.from_api_payload(
        {"start": DOC_DAY[0], "end": DOC_DAY[1], "data_sources": {"programs": ["trex"]}}
    )
    assert aurorax_core.describe(query) == query.describe()
    assert aurorax_core.describe(query.to_api_payload()).startswith("Find data_products for ((program in (trex)")
