"""Regenerate the sample demo previews in this folder: ``python docs/previews/make_previews.py``.

Every file is rendered by :mod:`aurorax_core.demo.render` from a record of the generated demo archive
(synthetic, not real data). See README.md beside this script for what each file shows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from aurorax_core.demo import generate_demo_records
from aurorax_core.demo.render import render_movie, render_preview
from aurorax_core.models import DataProduct, DataSource

HERE = Path(__file__).parent

# (file name, UT date, display name, product type, sub type, UT hour for hourly products)
WANTED = [
    ("trex_rgb_gill_daily_keogram_20200114.jpg", date(2020, 1, 14), "TREx RGB GILL", "keogram", "daily", None),
    ("themis_gill_daily_keogram_20200114.jpg", date(2020, 1, 14), "THEMIS-ASI GILL", "keogram", "daily", None),
    ("rego_gill_daily_keogram_20200114.jpg", date(2020, 1, 14), "REGO GILL", "keogram", "daily", None),
    ("trex_nir_gill_daily_keogram_20200114.jpg", date(2020, 1, 14), "TREx NIR GILL", "keogram", "daily", None),
    ("themis_gill_daily_keogram_20200106_overcast.jpg", date(2020, 1, 6), "THEMIS-ASI GILL", "keogram", "daily", None),
    ("themis_gill_hourly_keogram_20200105_04ut.jpg", date(2020, 1, 5), "THEMIS-ASI GILL", "keogram", "hourly", 4),
    ("trex_rgb_gill_hourly_montage_20200114_06ut.jpg", date(2020, 1, 14), "TREx RGB GILL", "montage", "hourly", 6),
    ("themis_gill_daily_montage_20200114.jpg", date(2020, 1, 14), "THEMIS-ASI GILL", "montage", "daily", None),
    (
        "trex_spect_luck_daily_summary_20200113.png",
        date(2020, 1, 13),
        "TREx Spectrograph LUCK",
        "summary_plot",
        "daily",
        None,
    ),
    ("trex_rgb_gill_movie_20200114.webm", date(2020, 1, 14), "TREx RGB GILL", "movie", "real-time daily", None),
]


def main() -> None:
    days = sorted({w[1] for w in WANTED})
    records: dict[tuple[date, str, str, str, int | None], DataProduct] = {}
    for day in days:
        for raw in generate_demo_records(day, day):
            p = DataProduct.from_api_dict(raw)
            hour = p.start.hour if p.sub_type == "hourly" else None
            records[(day, p.data_source.display_name, p.data_product_type, p.sub_type or "", hour)] = p
    for name, day, display, ptype, sub, hour in WANTED:
        product = records[(day, display, ptype, sub, hour)]
        if ptype == "movie":
            (HERE / name).write_bytes(render_movie(product).data)
        else:
            (HERE / name).write_bytes(render_preview(product).data)
    # a network summary plot: no demo record has one for TREx RGB, so build the record here
    src = DataSource(103, "trex", "gillam", "RGB ASI", "ground", "TREx RGB GILL")
    base = records[(date(2020, 1, 14), "TREx RGB GILL", "keogram", "daily", None)]
    summary = DataProduct(src, "summary_plot", base.start, base.end, base.url + "#summary", dict(base.metadata))
    (HERE / "trex_rgb_network_summary_20200114.png").write_bytes(render_preview(summary).data)


if __name__ == "__main__":
    main()
