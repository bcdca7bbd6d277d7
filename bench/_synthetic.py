"""A realistic-enough synthetic AuroraX data-product archive for benchmarks (not the demo archive).

The ground all-sky imagers of ``assets/data_sources.json`` (THEMIS ASI, REGO, Rainbow, TREx RGB /
NIR / Blueline, AuroraMAX: ~60 sources) each imaging ~200 nights a year. Each site-night has
an hourly keogram and an hourly montage for every imaging hour (6-14 h, longer in winter), two
daily keograms (``daily``, ``daily_hires``), a daily montage and a ``real-time daily`` movie,
with URLs in the data.phys.ucalgary.ca layout and imaging_start/end_time metadata (REAL_DATA.md
§2-3). Deterministic for a given seed; records come out night by night, as an archive grows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

_INSTRUMENTS = {"panchromatic ASI", "redline ASI", "RGB ASI", "near-infrared ASI", "blueline ASI", "DSLR"}
_INSTRUMENT_TAGS = {
    "RGB ASI": "rgb",
    "near-infrared ASI": "nir",
    "blueline ASI": "blue",
    "panchromatic ASI": "themis",
    "redline ASI": "rego",
    "DSLR": "amax",
}
_PROJECT = {
    "themis-asi": ("THEMIS/asi", "themis"),
    "rego": ("REGO", "rego"),
    "rainbow": ("Rainbow", "rainbow"),
    "trex": ("TREx", "trex"),
    "auroramax": ("AuroraMAX", "amax"),
}


def ground_sources() -> list[dict[str, Any]]:
    """The ground imager data sources (basic_info dicts) the synthetic archive uses."""
    path = Path(__file__).resolve().parents[1] / "assets" / "data_sources.json"
    records = json.loads(path.read_text(encoding="utf-8"))["records"]
    keep = ("identifier", "program", "platform", "instrument_type", "source_type", "display_name")
    return [
        {k: r[k] for k in keep}
        for r in records
        if r.get("source_type") == "ground"
        and r.get("instrument_type") in _INSTRUMENTS
        and r.get("program") in _PROJECT
        and int(r.get("identifier", -1)) > 0
    ]


def _fmt(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _fmt_us(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000000")


def imaging_nights(first_year: int, years: int, seed: int = 7) -> list[date]:
    """~200 nights a year: fewer in the summer (midnight sun), some lost to weather/outages."""
    out = []
    day = date(first_year, 1, 1)
    end = date(first_year + years, 1, 1)
    while day < end:
        doy = day.timetuple().tm_yday
        summer = 120 <= doy <= 240
        # Decided per date, so that any sub-range of years has the same nights.
        if random.Random(seed * 1_000_003 + day.toordinal()).random() < (0.25 if summer else 0.72):
            out.append(day)
        day += timedelta(days=1)
    return out


def generate(
    *, first_year: int = 2005, years: int = 20, seed: int = 7, sources: list[dict[str, Any]] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield AuroraX data-product records (dicts), night by night for every source."""
    rng = random.Random(seed)
    sources = sources if sources is not None else ground_sources()
    nights = imaging_nights(first_year, years)
    site_info = []
    for s in sources:
        project, tag = _PROJECT[s["program"]]
        inst = _INSTRUMENT_TAGS.get(s["instrument_type"], tag)
        uid = f"{s['display_name'].split()[-1].lower()}_{inst}-{s['identifier'] % 100:02d}"
        site_info.append((s, project, uid))
    for night in nights:
        doy = night.timetuple().tm_yday
        # Dark hours: ~14 in mid-winter, ~6 near the equinox edges of the season.
        dark = 6 + round(8 * abs((doy - 172) / 183))
        day_start = datetime(night.year, night.month, night.day, tzinfo=UTC)
        ymd = night.strftime("%Y/%m/%d")
        compact = night.strftime("%Y%m%d")
        for source, project, uid in site_info:
            if rng.random() < 0.08:  # site down that night
                continue
            first_hour = 2 + rng.randrange(3)
            hours = range(first_hour, min(24, first_hour + dark))
            base = f"https://data.phys.ucalgary.ca/sort_by_project/{project}/stream2/{ymd}/{uid}"
            img_start = day_start + timedelta(hours=first_hour, minutes=rng.randrange(60))
            img_end = day_start + timedelta(hours=hours[-1], minutes=rng.randrange(60))
            for hour in hours:
                h0 = day_start + timedelta(hours=hour)
                h1 = h0 + timedelta(minutes=59)
                meta_times = {"imaging_start_time": _fmt_us(h0), "imaging_end_time": _fmt_us(h1)}
                for kind, suffix in (("keogram", "full-keogram.jpg"), ("montage", "full-montage.jpg")):
                    yield {
                        "data_source": source,
                        "data_product_type": kind,
                        "start": _fmt(h0),
                        "end": _fmt(h1),
                        "url": f"{base}/ut{hour:02d}/{compact}_{hour:02d}_{uid}_{suffix}",
                        "metadata": {f"{kind}_type": "hourly", **meta_times},
                    }
            d1 = day_start + timedelta(hours=23, minutes=59)
            meta_times = {"imaging_start_time": _fmt_us(img_start), "imaging_end_time": _fmt_us(img_end)}
            for kind, sub, suffix in (
                ("keogram", "daily", "full-keogram.jpg"),
                ("keogram", "daily_hires", "full-keogram-hires.jpg"),
                ("montage", "daily", "full-montage.jpg"),
                ("movie", "real-time daily", "full-movie.mp4"),
            ):
                yield {
                    "data_source": source,
                    "data_product_type": kind,
                    "start": _fmt(day_start),
                    "end": _fmt(d1),
                    "url": f"{base}/{compact}__{uid}_{suffix}",
                    "metadata": {f"{kind}_type": sub, **meta_times},
                }
