"""The real AuroraX data sources, sites and product layouts, loaded from ``assets/`` (with provenance).

``assets/data_sources.json``: every data source (101 observed production rows plus guessed,
placeholder and invented ones, each marked). ``assets/sites.json``: coordinates, device ids with
their dates, operating periods. ``assets/url_patterns.json``: the products each network gets and
their URL templates. ``assets/data_product_vocabulary.json``: metadata vocabulary, the one real
metadata-schema entry, the real record counts and the source-nights known to have real records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from .. import config
from ..errors import CatalogError
from ..models import SYNTHETIC_METADATA_KEY, DataSource

IMAGING_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%f"


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One product a network makes per imaging hour (``cadence='hourly'``) or per night (``'daily'``)."""

    data_product_type: str
    sub_type: str
    cadence: str
    url_template: str
    status: str

    @property
    def metadata_key(self) -> str:
        """``keogram_type``, ``montage_type``, ``movie_type`` or ``summary_plot_type``."""
        return f"{self.data_product_type}_type"


@dataclass(frozen=True, slots=True)
class Device:
    device: str
    start: date | None
    end: date | None


@dataclass(frozen=True, slots=True)
class Site:
    """One ground imager: a data source at a site, with what it makes and when it ran."""

    network: str
    source: DataSource
    site_uid: str
    full_name: str
    latitude: float
    longitude: float
    devices: tuple[Device, ...]
    operating_from: date
    operating_to: date | None
    products: tuple[ProductSpec, ...]

    def operating(self, day: date) -> bool:
        return self.operating_from <= day and (self.operating_to is None or day <= self.operating_to)

    def device_on(self, day: date) -> str:
        """The device id (``rgb-04``) in use on ``day`` (the last one whose period covers it)."""
        chosen = self.devices[0].device
        for dev in self.devices:
            if (dev.start is None or dev.start <= day) and (dev.end is None or day <= dev.end):
                chosen = dev.device
        return chosen


def _asset(name: str) -> Any:
    path = Path(config.assets_dir()) / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(
            f"bundled asset {path} is missing; reinstall aurorax-core (the assets/ folder ships with it)"
        ) from None
    except (OSError, ValueError) as exc:
        raise CatalogError(f"bundled asset {path} cannot be read ({exc}); reinstall aurorax-core") from None


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _schema_entry(field: str, description: str, allowed: list[str], data_type: str = "string") -> dict[str, Any]:
    return {
        "additional_description": "",
        "allowed_values": allowed,
        "data_type": data_type,
        "description": description,
        "field_name": field,
        "searchable": None,
    }


_TYPE_DESCRIPTIONS: Final = {
    "keogram_type": "Type of keogram",
    "montage_type": "Type of montage",
    "movie_type": "Type of movie",
    "summary_plot_type": "Type of summary plot",
}


def _product_schema(
    network: str, products: tuple[ProductSpec, ...], real_entry: dict[str, Any]
) -> list[dict[str, Any]]:
    """The data_product_metadata_schema of a ground imager.

    The keogram_type entry of TREx RGB is the real one (verbatim, inconsistencies included); the
    other entries are shaped like it (guesses), plus the demo marker so that clients can see it.
    """
    entries: list[dict[str, Any]] = []
    keys: dict[str, list[str]] = {}
    for spec in products:
        keys.setdefault(spec.metadata_key, [])
        if spec.sub_type not in keys[spec.metadata_key]:
            keys[spec.metadata_key].append(spec.sub_type)
    for key, values in keys.items():
        if network == "trex_rgb" and key == "keogram_type":
            entries.append(dict(real_entry))
        else:
            entries.append(_schema_entry(key, _TYPE_DESCRIPTIONS[key], values))
    entries.append(_schema_entry("imaging_start_time", "Time of the first image (UTC, YYYY-MM-DDTHH:MM:SS.ffffff)", []))
    entries.append(_schema_entry("imaging_end_time", "Time of the last image (UTC, YYYY-MM-DDTHH:MM:SS.ffffff)", []))
    marker = _schema_entry(
        SYNTHETIC_METADATA_KEY,
        "True for records of the aurorax-core demo archive: generated, not real AuroraX records",
        ["true", "false"],
        "bool",
    )
    marker["searchable"] = True
    entries.append(marker)
    return entries


@dataclass(frozen=True, slots=True)
class DemoFacts:
    sources: tuple[DataSource, ...]
    sites: tuple[Site, ...]
    known_operating: frozenset[tuple[int, date]]
    vocabulary: dict[str, Any]


@lru_cache(maxsize=1)
def load_facts() -> DemoFacts:
    """Every data source (with schemas for the imagers) and every site, from the bundled assets.

    Raises:
        CatalogError: an asset file is missing or unreadable.
    """
    raw_sources = _asset("data_sources.json")["records"]
    raw_sites = _asset("sites.json")["sites"]
    networks = _asset("url_patterns.json")["networks"]
    vocabulary = _asset("data_product_vocabulary.json")
    real_entry = vocabulary["real_schema_entry_trex_rgb_fsmi"]

    products_by_network: dict[str, tuple[ProductSpec, ...]] = {
        name: tuple(
            ProductSpec(p["data_product_type"], p["sub_type"], p["cadence"], p["url"], p["status"])
            for p in spec["products"]
        )
        for name, spec in networks.items()
    }
    site_by_id = {s["source_identifier"]: s for s in raw_sites}

    sources: list[DataSource] = []
    by_id: dict[int, DataSource] = {}
    for rec in raw_sources:
        ident = rec["identifier"]
        site = site_by_id.get(ident)
        schema = rec.get("data_product_metadata_schema")
        if site is not None:
            schema = _product_schema(site["network"], products_by_network[site["network"]], real_entry)
        source = DataSource(
            identifier=ident,
            program=rec["program"],
            platform=rec["platform"],
            instrument_type=rec["instrument_type"],
            source_type=rec["source_type"],
            display_name=rec["display_name"],
            metadata=rec.get("metadata", {}),
            owner=rec.get("owner"),
            maintainers=rec.get("maintainers", []),
            ephemeris_metadata_schema=rec.get("ephemeris_metadata_schema", []),
            data_product_metadata_schema=schema if schema is not None else [],
        )
        sources.append(source)
        by_id[ident] = source

    sites: list[Site] = []
    for raw in raw_sites:
        source = by_id[raw["source_identifier"]]
        network = networks[raw["network"]]
        if (source.program, source.instrument_type) != (network["program"], network["instrument_type"]):
            raise CatalogError(f"assets disagree: site {raw['site_uid']} of {raw['network']} has source {source.key}")
        sites.append(
            Site(
                network=raw["network"],
                source=source,
                site_uid=raw["site_uid"],
                full_name=raw["full_name"],
                latitude=float(raw["latitude"]),
                longitude=float(raw["longitude"]),
                devices=tuple(Device(d["device"], _date(d["from"]), _date(d["to"])) for d in raw["devices"]),
                operating_from=date.fromisoformat(raw["operating"]["from"]),
                operating_to=_date(raw["operating"]["to"]),
                products=products_by_network[raw["network"]],
            )
        )
    # A fixed order (network as listed in url_patterns, then identifier) keeps generation deterministic.
    order = {name: i for i, name in enumerate(networks)}
    sites.sort(key=lambda s: (order[s.network], s.source.identifier or 0))

    known: set[tuple[int, date]] = set()
    for entry in vocabulary["known_operating_days"]["days"]:
        day, last = date.fromisoformat(entry["from"]), date.fromisoformat(entry["to"])
        while day <= last:
            known.update((ident, day) for ident in entry["identifiers"])
            day += timedelta(days=1)
    return DemoFacts(tuple(sources), tuple(sites), frozenset(known), vocabulary)


def demo_sources() -> tuple[DataSource, ...]:
    """Every data source of the demo catalog, ordered by identifier."""
    return load_facts().sources


def demo_sites() -> tuple[Site, ...]:
    """Every ground imager the demo archive generates records for."""
    return load_facts().sites
