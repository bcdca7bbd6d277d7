"""Where ground imagers are and what they see: site locations, fields of view, magnetic latitude.

Plain geometry for views that place sites on a map or order them by latitude. Locations come from
the data source's own metadata when it carries coordinates, else from ``assets/sites.json`` (the
UCalgary observatory tables, with provenance). Magnetic latitude is a centred-dipole estimate
(IGRF-13 dipole pole for 2020), good to a degree or two at auroral latitudes: enough to order rows,
not for science.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from . import config
from .errors import QueryValidationError
from .models import DataSource

EARTH_RADIUS_KM: Final = 6371.2
DEFAULT_EMISSION_ALTITUDE_KM: Final = 110.0
# IGRF-13 geomagnetic (dipole) north pole, epoch 2020.
DIPOLE_POLE_LATITUDE: Final = 80.65
DIPOLE_POLE_LONGITUDE: Final = -72.68

_LAT_KEYS: Final = ("latitude", "lat", "geodetic_latitude", "site_latitude", "geographic_latitude")
_LON_KEYS: Final = ("longitude", "lon", "geodetic_longitude", "site_longitude", "geographic_longitude")


@dataclass(frozen=True, slots=True)
class SiteLocation:
    """Where one data source's instrument stands."""

    code: str
    name: str
    latitude: float
    longitude: float

    @property
    def magnetic_latitude(self) -> float:
        return dipole_latitude(self.latitude, self.longitude)


def _float(meta: Any, keys: tuple[str, ...]) -> float | None:
    if not isinstance(meta, dict):
        return None
    for key in keys:
        value = meta.get(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            return number
    return None


@lru_cache(maxsize=1)
def _asset_sites() -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
    path = Path(config.assets_dir()) / "sites.json"
    try:
        sites = json.loads(path.read_text(encoding="utf-8"))["sites"]
    except (OSError, ValueError, KeyError):
        return {}, {}
    by_id = {int(s["source_identifier"]): s for s in sites if s.get("source_identifier") is not None}
    by_code: dict[str, dict[str, Any]] = {}
    for site in sites:
        by_code.setdefault(str(site["site_uid"]).lower(), site)
    return by_id, by_code


def site_code(source: DataSource) -> str:
    """The four-letter site code ('GILL') from the display name ('THEMIS-ASI GILL'), else the platform."""
    words = (source.display_name or "").split()
    if words and words[-1].isalpha() and words[-1].isupper() and 3 <= len(words[-1]) <= 5:
        return words[-1]
    return source.platform.upper()


def site_location(source: DataSource) -> SiteLocation | None:
    """Where ``source`` stands, or None when neither its metadata nor the bundled table says."""
    code = site_code(source)
    lat, lon = _float(source.metadata, _LAT_KEYS), _float(source.metadata, _LON_KEYS)
    name = source.platform.title() if source.platform.islower() else source.platform
    if lat is not None and lon is not None:
        return SiteLocation(code, name, lat, lon)
    by_id, by_code = _asset_sites()
    site = by_id.get(source.identifier) if source.identifier is not None else None
    if site is None:
        site = by_code.get(code.lower())
    if site is None:
        return None
    full = str(site.get("full_name") or name)
    return SiteLocation(code, full, float(site["latitude"]), float(site["longitude"]))


def dipole_latitude(latitude: float, longitude: float) -> float:
    """Magnetic latitude (degrees) in a centred dipole field with the 2020 IGRF pole."""
    lat, lon = math.radians(latitude), math.radians(longitude)
    plat, plon = math.radians(DIPOLE_POLE_LATITUDE), math.radians(DIPOLE_POLE_LONGITUDE)
    s = math.sin(lat) * math.sin(plat) + math.cos(lat) * math.cos(plat) * math.cos(lon - plon)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def fov_radius_deg(min_elevation: float, altitude_km: float = DEFAULT_EMISSION_ALTITUDE_KM) -> float:
    """Great-circle radius (degrees of arc) of the ground area under an imager's view at ``altitude_km``.

    A ray leaving the imager at elevation ``e`` meets the emission shell (radius R + h) at an Earth-
    centred angle ``acos(R cos e / (R + h)) - e``. At e = 0 and 110 km that is 10.6° (~1,180 km).

    Raises:
        QueryValidationError: the elevation is not in [0, 90) or the altitude is not positive.
    """
    if not (0.0 <= min_elevation < 90.0) or not math.isfinite(min_elevation):
        raise QueryValidationError(f"minimum elevation must be between 0 and 90 degrees, got {min_elevation!r}")
    if not (altitude_km > 0.0) or not math.isfinite(altitude_km):
        raise QueryValidationError(f"emission altitude must be a positive number of km, got {altitude_km!r}")
    e = math.radians(min_elevation)
    return math.degrees(math.acos(EARTH_RADIUS_KM * math.cos(e) / (EARTH_RADIUS_KM + altitude_km)) - e)


def solar_offset(longitude: float) -> timedelta:
    """Mean local solar time minus UT at ``longitude`` (15° per hour, to the whole minute)."""
    return timedelta(minutes=round(longitude * 4.0))


def local_night_window(night: date, longitude: float) -> tuple[datetime, datetime]:
    """18:00 .. 18:00 mean local solar time around the local midnight that starts ``night``, in UT.

    The night of 2020-01-14 at 100°W runs from 18:00 LST on the 13th (00:40 UT on the 14th) to
    18:00 LST on the 14th (00:40 UT on the 15th): it holds the whole dark period of that night.
    """
    midnight_lst = datetime(night.year, night.month, night.day, tzinfo=UTC)
    start = midnight_lst - timedelta(hours=6) - solar_offset(longitude)
    return start, start + timedelta(hours=24)


@lru_cache(maxsize=1)
def coastlines() -> dict[str, list[list[float]]]:
    """Coastlines and borders north of 40°N (Natural Earth 1:50m via world-atlas, public domain).

    ``{"coast": [[lon, lat, lon, lat, ...], ...], "borders": [...]}`` in degrees; empty lists when
    the asset is missing (the map then shows only the sites).
    """
    path = Path(config.assets_dir()) / "coastlines_north_50m.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"coast": [], "borders": []}
    return {key: [[v / 10.0 for v in line] for line in data.get(key, [])] for key in ("coast", "borders")}
