"""Which UCalgary dataset a data product belongs to, and the ACKNOWLEDGEMENTS.md a user must keep.

The facts live in ``assets/datasets.json`` (provenance in ``assets/README.md``): every dataset's
name, level, description and DOI, and per instrument family (an AuroraX program/instrument_type
pair) the dataset-name prefix and the required acknowledgement text where one was found.

A product maps to a dataset by the UCalgary naming rule ``<FAMILY>_<DAILY|HOURLY>_<TYPE>[_<FORMAT>]``
(``TREX_RGB_DAILY_KEOGRAM``, ``REGO_HOURLY_MONTAGE_JPG``) only when a dataset of exactly that name
exists; anything else (movies, footprints, unknown programs) is reported as *unknown* and given no
DOI or acknowledgement text: those are never made up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

from . import config
from .models import DataProduct, format_time

__all__ = ["Dataset", "DatasetUse", "acknowledgements_markdown", "dataset_for", "datasets", "summarize_datasets"]

UNKNOWN: Final = "unknown"
RULES_OF_THE_ROAD: Final = "https://data.phys.ucalgary.ca"
_FORMATS: Final = {"jpg": "JPG", "jpeg": "JPG", "png": "PNG", "pgm": "PGM", "h5": "H5"}
_TYPES: Final = {"keogram": "KEOGRAM", "montage": "MONTAGE", "average": "AVERAGE"}


@dataclass(frozen=True, slots=True)
class Dataset:
    """A UCalgary dataset, with its family's acknowledgement text when one is known."""

    name: str
    description: str
    level: str | None
    dois: tuple[str, ...]
    acknowledgement: str | None
    family_title: str | None

    @property
    def doi_urls(self) -> tuple[str, ...]:
        return tuple(f"https://doi.org/{doi}" for doi in self.dois)


@dataclass(frozen=True, slots=True)
class _Family:
    prefix: str
    program: str
    instrument_type: str
    title: str
    acknowledgement: str | None


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Dataset], dict[tuple[str, str], _Family]]:
    raw = json.loads((config.assets_dir() / "datasets.json").read_text(encoding="utf-8"))
    families = {
        (f["program"], f["instrument_type"]): _Family(
            f["family"], f["program"], f["instrument_type"], f["title"], f.get("acknowledgement")
        )
        for f in raw["families"]
    }
    by_prefix = {f.prefix: f for f in families.values()}
    out: dict[str, Dataset] = {}
    for entry in raw["datasets"]:
        family = next((f for p, f in by_prefix.items() if entry["name"].startswith(p + "_")), None)
        out[entry["name"]] = Dataset(
            name=entry["name"],
            description=entry.get("short_description") or "",
            level=entry.get("level"),
            dois=tuple(entry.get("dois") or ()),
            acknowledgement=family.acknowledgement if family else None,
            family_title=family.title if family else None,
        )
    return out, families


def datasets() -> dict[str, Dataset]:
    """Every known dataset by name."""
    return dict(_load()[0])


def _cadence(product: DataProduct) -> str | None:
    sub = (product.sub_type or "").lower()
    if sub.startswith("daily"):
        return "DAILY"
    if sub.startswith("hourly"):
        return "HOURLY"
    return None


def _file_format(url: str) -> str | None:
    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return _FORMATS.get(ext)


def dataset_for(product: DataProduct) -> Dataset | None:
    """The dataset this product belongs to, or None when no dataset of that exact name is known."""
    known, families = _load()
    source = product.data_source
    family = families.get((source.program, source.instrument_type))
    kind = _TYPES.get(product.data_product_type)
    cadence = _cadence(product)
    if family is None or kind is None or cadence is None:
        return None
    base = f"{family.prefix}_{cadence}_{kind}"
    fmt = _file_format(product.url)
    for name in ([f"{base}_{fmt}"] if fmt else []) + [base]:
        if name in known:
            return known[name]
    return None


@dataclass(slots=True)
class DatasetUse:
    """How a set of products uses one dataset (or one unknown product family)."""

    key: str  # dataset name, or "program / instrument_type / data_product_type" for unknown ones
    dataset: Dataset | None
    products: int = 0
    synthetic: int = 0
    first_start: datetime | None = None
    last_end: datetime | None = None
    total_bytes: int | None = 0

    def add(self, product: DataProduct, size: int | None = None) -> None:
        self.products += 1
        self.synthetic += product.is_synthetic
        if self.first_start is None or product.start < self.first_start:
            self.first_start = product.start
        if self.last_end is None or product.end > self.last_end:
            self.last_end = product.end
        if size is None:
            self.total_bytes = None
        elif self.total_bytes is not None:
            self.total_bytes += size


def unknown_key(product: DataProduct) -> str:
    source = product.data_source
    return f"{source.program} / {source.instrument_type} / {product.data_product_type}"


def summarize_datasets(products: Iterable[DataProduct]) -> tuple[list[DatasetUse], list[DatasetUse]]:
    """(known dataset uses sorted by name, unknown families sorted by key)."""
    known: dict[str, DatasetUse] = {}
    unknown: dict[str, DatasetUse] = {}
    for product in products:
        dataset = dataset_for(product)
        if dataset is not None:
            known.setdefault(dataset.name, DatasetUse(dataset.name, dataset)).add(product)
        else:
            key = unknown_key(product)
            unknown.setdefault(key, DatasetUse(key, None)).add(product)
    return [known[k] for k in sorted(known)], [unknown[k] for k in sorted(unknown)]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|&~])")


def md_text(value: Any) -> str:
    """Record text made inert in Markdown (and in any HTML it is rendered to)."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return _MD_SPECIAL.sub(r"\\\1", text)


def _range(use: DatasetUse) -> str:
    if use.first_start is None or use.last_end is None:
        return "-"
    return f"{format_time(use.first_start)}Z .. {format_time(use.last_end)}Z"


def acknowledgements_markdown(products: Iterable[DataProduct], *, generated: datetime | None = None) -> str:
    """The ACKNOWLEDGEMENTS.md text for these products: per dataset its name, DOI, required
    acknowledgement and the date range used; products of no known dataset are listed as unknown."""
    items = list(products)
    known, unknown = summarize_datasets(items)
    when = (generated or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Acknowledgements",
        "",
        f"Generated by aurorax-core on {when} for {len(items)} data product(s).",
        "Each dataset below asks to be acknowledged and cited (its DOI) wherever its data is shown or",
        f"published; see the rules of the road at {RULES_OF_THE_ROAD}.",
        "",
    ]
    synthetic = sum(p.is_synthetic for p in items)
    if synthetic:
        lines += [
            f"**{synthetic} of these products are SYNTHETIC demo records** (metadata `demo_synthetic`): their",
            "pictures were generated by aurorax-core, they are not real observations and must not be",
            "published as data.",
            "",
        ]
    for use in known:
        dataset = use.dataset
        assert dataset is not None
        lines.append(f"## {dataset.name}")
        lines.append("")
        if dataset.description:
            lines.append(f"- Dataset: {md_text(dataset.description)}")
        lines.append(f"- Products used: {use.products}" + (f" ({use.synthetic} synthetic)" if use.synthetic else ""))
        lines.append(f"- Date range used: {_range(use)}")
        if dataset.dois:
            lines.append(
                "- DOI: "
                + ", ".join(f"{doi} (<{url}>)" for doi, url in zip(dataset.dois, dataset.doi_urls, strict=True))
            )
        else:
            lines.append("- DOI: unknown (none is recorded for this dataset)")
        if dataset.acknowledgement:
            lines.append("- Required acknowledgement:")
            lines.append("")
            lines += [f"  > {line}" if line else "  >" for line in dataset.acknowledgement.split("\n")]
        else:
            lines.append(f"- Required acknowledgement: unknown (not recorded by aurorax-core; see {RULES_OF_THE_ROAD})")
        lines.append("")
    if unknown:
        lines += ["## Products of unknown datasets", ""]
        lines.append("No UCalgary dataset is known for these products, so no DOI or acknowledgement is given;")
        lines.append("ask the data provider how to acknowledge them.")
        lines.append("")
        for use in unknown:
            extra = f" ({use.synthetic} synthetic)" if use.synthetic else ""
            lines.append(f"- {md_text(use.key)}: {use.products} product(s){extra}, {_range(use)}")
        lines.append("")
    return "\n".join(lines)
