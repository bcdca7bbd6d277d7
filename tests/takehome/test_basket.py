"""The basket value: keyed by URL, grouped by dataset, undo, storage and permalinks."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from aurorax_core.basket import MAX_UNDO, Basket, BasketError
from aurorax_core.models import DataSource

from .helpers import product

REGO = DataSource(84, "rego", "fort smith", "redline ASI", display_name="REGO FSMI")


def hourly(n: int, **options: object) -> list:
    base = datetime(2020, 1, 1, tzinfo=UTC)
    return [
        product(f"https://data.phys.ucalgary.ca/k/{i}.jpg", start=base + timedelta(hours=i), **options)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_products_are_keyed_by_url_and_changes_can_be_undone() -> None:
    first = hourly(3)
    basket = Basket().add(first)
    assert len(basket) == 3
    again = basket.add(first[:2])
    assert again is basket  # nothing new: the same basket, no undo step
    removed = basket.remove([first[0].url, "https://unknown/x.jpg"])
    assert removed.urls == [p.url for p in first[1:]] and first[0] not in removed
    cleared = removed.clear()
    assert len(cleared) == 0
    assert cleared.undo() == removed and cleared.undo().undo() == basket
    assert Basket().undo() == Basket() and not Basket().can_undo
    with pytest.raises(BasketError):
        Basket().add(["not a product"])  # type: ignore[list-item]


def test_undo_history_is_bounded() -> None:
    basket = Basket()
    for p in hourly(MAX_UNDO + 10):
        basket = basket.add([p])
    steps = 0
    while basket.can_undo:
        basket = basket.undo()
        steps += 1
    assert steps == MAX_UNDO and len(basket) == 10


def test_groups_by_dataset_with_counts_ranges_and_sizes() -> None:
    known = hourly(4, size=1000)
    movie = product("https://data.phys.ucalgary.ca/m.mp4", kind="movie", sub_type="real-time daily")
    rego = product("https://data.phys.ucalgary.ca/r.jpg", source=REGO, sub_type="daily", size=5)
    basket = Basket([*known, movie, rego])
    groups = {g.key: g for g in basket.groups()}
    assert list(groups) == ["REGO_DAILY_KEOGRAM_JPG", "TREX_RGB_HOURLY_KEOGRAM", "trex / RGB ASI / movie"]
    trex = groups["TREX_RGB_HOURLY_KEOGRAM"]
    assert (trex.count, trex.total_bytes, trex.known) == (4, 4000, True)
    assert trex.first_start == known[0].start and trex.last_end == known[-1].end
    assert groups["trex / RGB ASI / movie"].known is False
    assert groups["trex / RGB ASI / movie"].total_bytes is None
    assert basket.total_bytes is None and Basket(known).total_bytes == 4000


def test_json_round_trip_is_compact_and_exact() -> None:
    products = [*hourly(50, synthetic=True), product("https://data.phys.ucalgary.ca/r.jpg", source=REGO)]
    basket = Basket(products)
    text = basket.to_json()
    back = Basket.from_json(text)
    assert back.products == basket.products
    assert len(text) < len(json.dumps([p.to_api_dict() for p in products]))
    assert text.count("gillam") == 1  # each source stored once


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"v": 2, "s": [], "p": []}',
        '{"v": 1, "s": [[1, "trex"]], "p": []}',
        '{"v": 1, "s": [], "p": [[0, "keogram", "2020-01-01T00:00:00", "2020-01-01T00:59:00", "u"]]}',
        '{"v": 1, "s": [[1,"trex","gillam","RGB ASI","ground",""]], "p": [[0,"nope","2020","2020","u"]]}',
        '{"v": 1, "s": [[1,"trex","gillam","RGB ASI","ground",""]], "p": [[0,"keogram","x","y","u"]]}',
    ],
)
def test_a_damaged_stored_basket_is_a_clear_error(text: str) -> None:
    with pytest.raises(BasketError):
        Basket.from_json(text)


def test_small_baskets_fit_a_permalink_large_ones_are_refused() -> None:
    small = Basket(hourly(10))
    token = small.to_permalink()
    assert all(c.isalnum() or c in "-_" for c in token)
    assert Basket.from_permalink(token).products == small.products
    with pytest.raises(BasketError, match="too large for a link"):
        Basket(hourly(2000)).to_permalink()
    with pytest.raises(BasketError, match="damaged"):
        Basket.from_permalink("!!!not-base64!!!")
    bomb = base64.urlsafe_b64encode(zlib.compress(b" " * 50_000_000, 9)).decode().rstrip("=")
    with pytest.raises(BasketError):
        Basket.from_permalink(bomb, limit=len(bomb))


def test_the_searches_that_fed_the_basket_are_kept_for_the_bundle(tmp_path) -> None:
    import zipfile

    from aurorax_core.bundle import write_bundle
    from aurorax_core.query import DataProductQuery

    jan = DataProductQuery(start="2020-01-01T00:00:00", end="2020-01-01T23:59:59", programs=["trex"])
    feb = DataProductQuery(start="2020-02-01T00:00:00", end="2020-02-01T23:59:59", programs=["rego"])
    basket = Basket().add(hourly(2), query=jan).add(hourly(3), query=jan)
    basket = basket.add([product("https://data.phys.ucalgary.ca/r.jpg", source=REGO)], query=feb)
    assert basket.queries == (jan, feb)
    back = Basket.from_json(basket.to_json())
    assert back.queries == (jan, feb) and back.products == basket.products
    assert basket.undo().queries == (jan,) and basket.clear().queries == ()
    out = write_bundle(back.products, tmp_path / "b.zip", queries=back.queries)
    with zipfile.ZipFile(out) as archive:
        assert sorted(n for n in archive.namelist() if n.startswith("queries/")) == [
            "queries/query-01.json",
            "queries/query-02.json",
        ]
