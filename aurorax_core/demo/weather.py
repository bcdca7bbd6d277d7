"""Deterministic sky and instrument conditions for the demo archive (pure functions of site and date).

Both the record generator (which nights exist) and the preview renderer (what a keogram looks like)
use :func:`night_conditions`, so a night lost to weather has no records and a cloudy hour looks
cloudy. Everything is derived from a BLAKE2 hash of the key and the date: no global random state,
the same answer in every process and on every machine.

The model (a plausible invention, not climatology):

* **Clouds** are a property of the *place* (the platform, e.g. ``"gillam"``), so co-located
  instruments (THEMIS, REGO, TREx at Gillam) see the same sky. Each night has a base cloudiness
  (clear, broken or overcast) and hourly cloud cover wandering around it.
* **Weather loss**: about 3 % of site-nights are lost entirely (blizzard, iced dome): no records.
* **Downtime** is a property of the *instrument* (the data source): about 3 % single nights
  (computer or camera faults) plus, in about 6 % of 16-day blocks, an outage of 2-10 nights.
* Source-nights with real records (``known_operating_days`` in the assets) are never lost, so
  the real record counts can be reproduced.
* **Auroral activity** is global (a property of the UT date only), so neighbouring sites agree:
  an hourly 0-1 level with a substorm-like peak near local midnight for North America.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import lru_cache
from typing import Any, Final

from ..models import DataProduct, DataSource

WEATHER_LOSS_RATE: Final = 0.03
DOWNTIME_RATE: Final = 0.03
OUTAGE_BLOCK_DAYS: Final = 16
OUTAGE_BLOCK_RATE: Final = 0.06


def _bytes(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=32).digest()


def _unit(byte: int) -> float:
    return byte / 255.0


@lru_cache(maxsize=1)
def _known() -> tuple[frozenset[tuple[int, date]], frozenset[tuple[str, date]]]:
    """Source-nights with real records (never lost) and the platform-nights they imply."""
    from .sources import load_facts

    facts = load_facts()
    platforms = {s.identifier: s.platform.lower() for s in facts.sources}
    return facts.known_operating, frozenset((platforms[i], d) for i, d in facts.known_operating if i in platforms)


def weather_lost(platform: str, day: date) -> bool:
    """True when the site-night of ``day`` is lost to weather (no records from any instrument there).

    Nights on which a real instrument at the platform is known to have recorded are never lost.
    """
    platform = platform.lower()
    if (platform, day) in _known()[1]:
        return False
    return _bytes("weather", platform, day.isoformat())[0] < int(WEATHER_LOSS_RATE * 256)


def instrument_down(source_identifier: int | None, day: date) -> bool:
    """True when the instrument (data source) recorded nothing on the night of ``day``.

    Source-nights with real records (``assets/data_product_vocabulary.json``) are never down.
    """
    if source_identifier is not None and (source_identifier, day) in _known()[0]:
        return False
    key = str(source_identifier)
    if _bytes("down", key, day.isoformat())[0] < int(DOWNTIME_RATE * 256):
        return True
    block = day.toordinal() // OUTAGE_BLOCK_DAYS
    digest = _bytes("outage", key, block)
    if digest[0] >= int(OUTAGE_BLOCK_RATE * 256):
        return False
    first = block * OUTAGE_BLOCK_DAYS + digest[1] % OUTAGE_BLOCK_DAYS
    length = 2 + digest[2] % 9
    return first <= day.toordinal() < first + length


def night_lost(platform: str, source_identifier: int | None, day: date) -> str | None:
    """``"weather"``, ``"downtime"`` or None (the night was recorded)."""
    if weather_lost(platform, day):
        return "weather"
    if instrument_down(source_identifier, day):
        return "downtime"
    return None


def _platform_and_source(site: str | DataSource | DataProduct) -> tuple[str, int | None]:
    if isinstance(site, DataProduct):
        site = site.data_source
    if isinstance(site, DataSource):
        return site.platform, site.identifier
    if not isinstance(site, str) or not site.strip():
        raise ValueError(f"night_conditions: expected a platform name or a DataSource, got {site!r}")
    return site.strip(), None


def night_conditions(site: str | DataSource | DataProduct, day: date) -> dict[str, Any]:
    """The sky over a site on the UT date ``day``, hour by hour, and whether the night was lost.

    Args:
        site: a platform name (``"gillam"``), a :class:`DataSource` or a :class:`DataProduct`.
            Clouds depend on the platform only; ``instrument_down`` needs a source identifier.
        day: the UT date.

    Returns:
        ``{"platform", "date", "cloud_cover": [24 floats 0-1 per UT hour], "clear_fraction",
        "sky": "clear"|"broken"|"overcast", "weather_lost": bool, "instrument_down": bool|None,
        "lost": "weather"|"downtime"|None, "auroral_activity": [24 floats 0-1 per UT hour]}``.

    Raises:
        ValueError: ``site`` is neither a non-empty string nor a source/product.
    """
    platform, identifier = _platform_and_source(site)
    platform = platform.lower()
    digest = _bytes("clouds", platform, day.isoformat())
    kind = _unit(digest[3])
    # Roughly: 45 % clear nights, 30 % broken, 25 % overcast at these continental sites.
    if kind < 0.45:
        sky, base = "clear", 0.05 + 0.15 * _unit(digest[4])
    elif kind < 0.75:
        sky, base = "broken", 0.35 + 0.3 * _unit(digest[4])
    else:
        sky, base = "overcast", 0.8 + 0.2 * _unit(digest[4])
    cover = []
    level = base
    for hour in range(24):
        step = (_unit(digest[5 + hour % 27]) - 0.5) * 0.3
        level = min(1.0, max(0.0, 0.7 * level + 0.3 * base + step))
        cover.append(round(level, 3))
    lost_weather = weather_lost(platform, day)
    down = None if identifier is None else instrument_down(identifier, day)
    return {
        "platform": platform,
        "date": day.isoformat(),
        "sky": sky,
        "cloud_cover": cover,
        "clear_fraction": round(1.0 - sum(cover) / 24.0, 3),
        "weather_lost": lost_weather,
        "instrument_down": down,
        "lost": "weather" if lost_weather else ("downtime" if down else None),
        "auroral_activity": auroral_activity(day),
    }


def auroral_activity(day: date) -> list[float]:
    """A global 0-1 auroral activity level per UT hour of ``day`` (same for every site)."""
    digest = _bytes("activity", day.isoformat())
    quiet = _unit(digest[0])
    storm = quiet > 0.85  # about one day in seven is disturbed
    peak_hour = 4 + digest[1] % 6  # substorm onset around 04-09 UT: local midnight in Canada
    strength = (0.6 + 0.4 * _unit(digest[2])) if storm else (0.15 + 0.45 * _unit(digest[2]))
    levels = []
    for hour in range(24):
        distance = min(abs(hour - peak_hour), 24 - abs(hour - peak_hour))
        shape = max(0.0, 1.0 - distance / (6.0 if storm else 3.5))
        jitter = (_unit(digest[3 + hour % 29]) - 0.5) * 0.1
        levels.append(round(min(1.0, max(0.0, 0.05 + strength * shape + jitter)), 3))
    return levels
