"""Typed records: data sources and data products, and the AuroraX time format.

Inside the library every datetime is timezone-aware UTC. On the wire (AuroraX JSON) times are
``YYYY-MM-DDTHH:MM:SS`` with no zone, which is what pyaurorax's ``strptime`` requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

from .errors import RecordValidationError

# The five types in the AuroraX API enum, plus the two extra ones its documentation lists.
DATA_PRODUCT_TYPES: Final[tuple[str, ...]] = (
    "keogram",
    "montage",
    "movie",
    "summary_plot",
    "data_availability",
    "average",
    "gridded_data",
)
DataProductType = Literal["keogram", "montage", "movie", "summary_plot", "data_availability", "average", "gridded_data"]

SOURCE_TYPES: Final[tuple[str, ...]] = ("ground", "leo", "heo", "lunar", "event_list", "not_applicable")

DATA_SOURCE_FORMATS: Final[tuple[str, ...]] = (
    "identifier_only",
    "basic_info",
    "with_metadata",
    "full_record",
)

AURORAX_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"

# Metadata key carried by every record of the generated demo archive, so that its previews are
# rendered (not fetched) and labelled as synthetic wherever they are shown, even after the record
# travelled through the AuroraX-compatible server, pyaurorax or an export file.
SYNTHETIC_METADATA_KEY: Final = "demo_synthetic"

_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def parse_time(value: str | datetime | date, *, field_name: str = "time") -> datetime:
    """Parse an AuroraX timestamp (or a datetime/date) into an aware UTC datetime.

    Accepts ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` with an optional ``Z`` or
    ``+HH:MM`` offset. Naive values are taken as UTC, as AuroraX does.

    Raises:
        RecordValidationError: the value is not a recognisable date/time.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise RecordValidationError(
            f"{field_name}: expected a date/time string like '2020-01-01T00:00:00', "
            f"got {type(value).__name__} {value!r}"
        )
    text = value.strip()
    match = _TIME_RE.match(text)
    if match is None:
        raise RecordValidationError(
            f"{field_name}: cannot parse {value!r}; use 'YYYY-MM-DDTHH:MM:SS' (UTC), e.g. '2020-01-01T00:00:00'"
        )
    try:
        parsed = datetime.fromisoformat(
            text.replace(" ", "T").upper().replace("Z", "+00:00") if match.group(8) else text.replace(" ", "T")
        )
    except ValueError as exc:
        raise RecordValidationError(f"{field_name}: {value!r} is not a valid date/time ({exc})") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Format a datetime the way AuroraX records carry it: ``YYYY-MM-DDTHH:MM:SS`` in UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000 ("999-01-01"),
    # which parse_time (and pyaurorax's strptime) then reject.
    return value.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class DataSource:
    """An AuroraX data source: one instrument at one platform within a program."""

    identifier: int | None
    program: str
    platform: str
    instrument_type: str
    source_type: str = "ground"
    display_name: str = ""
    metadata: dict[str, Any] | None = None
    owner: str | None = None
    maintainers: list[str] | None = None
    ephemeris_metadata_schema: list[dict[str, Any]] | None = None
    data_product_metadata_schema: list[dict[str, Any]] | None = None
    stats: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The (program, platform, instrument_type) triple that names the source."""
        return (self.program, self.platform, self.instrument_type)

    def to_api_dict(self, data_source_format: str = "basic_info", *, include_stats: bool = False) -> dict[str, Any]:
        """The AuroraX JSON for this source, with only the keys the format defines."""
        if data_source_format not in DATA_SOURCE_FORMATS:
            raise RecordValidationError(
                f"unknown data source format {data_source_format!r}; use one of {', '.join(DATA_SOURCE_FORMATS)}"
            )
        out: dict[str, Any] = {"identifier": self.identifier}
        if data_source_format != "identifier_only":
            out.update(
                program=self.program,
                platform=self.platform,
                instrument_type=self.instrument_type,
                source_type=self.source_type,
                display_name=self.display_name,
            )
        if data_source_format in ("with_metadata", "full_record"):
            out["metadata"] = self.metadata if self.metadata is not None else {}
        if data_source_format == "full_record":
            out.update(
                owner=self.owner,
                maintainers=self.maintainers if self.maintainers is not None else [],
                ephemeris_metadata_schema=self.ephemeris_metadata_schema or [],
                data_product_metadata_schema=self.data_product_metadata_schema or [],
            )
        if include_stats:
            out["stats"] = self.stats
        return out

    @classmethod
    def from_api_dict(cls, data: dict[str, Any]) -> DataSource:
        """Build a source from AuroraX JSON (any format); unknown keys are ignored.

        Raises:
            RecordValidationError: program, platform or instrument_type is missing.
        """
        if not isinstance(data, dict):
            raise RecordValidationError(f"a data source must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("program", "platform", "instrument_type") if not data.get(k)]
        if missing:
            raise RecordValidationError(f"data source {data.get('identifier', '?')} is missing {', '.join(missing)}")
        identifier = data.get("identifier")
        if identifier is not None:
            try:
                identifier = int(identifier)
            except (TypeError, ValueError):
                raise RecordValidationError(f"data source identifier {identifier!r} is not an integer") from None
        return cls(
            identifier=identifier,
            program=str(data["program"]),
            platform=str(data["platform"]),
            instrument_type=str(data["instrument_type"]),
            source_type=str(data.get("source_type") or "ground"),
            display_name=str(data.get("display_name") or ""),
            metadata=data.get("metadata"),
            owner=data.get("owner"),
            maintainers=data.get("maintainers"),
            ephemeris_metadata_schema=data.get("ephemeris_metadata_schema"),
            data_product_metadata_schema=data.get("data_product_metadata_schema"),
            stats=data.get("stats"),
        )


# Every field of an AuroraX data-source record (what writes may set, what formats select from).
DATA_SOURCE_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(DataSource))


@dataclass(frozen=True, slots=True)
class DataProduct:
    """One AuroraX data-product record: a keogram, montage, movie, summary plot ... at a URL.

    ``start`` and ``end`` are aware UTC datetimes; the URL is the record's identity.
    """

    data_source: DataSource
    data_product_type: str
    start: datetime
    end: datetime
    url: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def sub_type(self) -> str | None:
        """The product's ``keogram_type`` / ``montage_type`` / ``movie_type`` (or similar), if any."""
        value = self.metadata.get(f"{self.data_product_type}_type")
        return None if value is None else str(value)

    @property
    def is_synthetic(self) -> bool:
        """True for records of the generated demo archive (their previews are synthetic)."""
        return self.metadata.get(SYNTHETIC_METADATA_KEY) is True

    def to_api_dict(self, data_source_format: str = "basic_info") -> dict[str, Any]:
        """The record exactly as the AuroraX data endpoint returns it."""
        return {
            "data_source": self.data_source.to_api_dict(data_source_format),
            "data_product_type": self.data_product_type,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "url": self.url,
            "metadata": self.metadata,
        }

    @classmethod
    def from_api_dict(cls, data: dict[str, Any], *, data_source: DataSource | None = None) -> DataProduct:
        """Build a record from AuroraX JSON; ``data_source`` may be supplied to share one instance.

        Raises:
            RecordValidationError: a required field is missing or malformed.
        """
        if not isinstance(data, dict):
            raise RecordValidationError(f"a data product must be a JSON object, got {type(data).__name__}")
        url = data.get("url")
        if not url or not isinstance(url, str):
            raise RecordValidationError(f"data product record has no 'url': {_short(data)}")
        if data_source is None:
            if "data_source" not in data:
                raise RecordValidationError(f"data product {url!r} has no 'data_source'")
            data_source = DataSource.from_api_dict(data["data_source"])
        product_type = data.get("data_product_type")
        if product_type not in DATA_PRODUCT_TYPES:
            raise RecordValidationError(
                f"data product {url!r}: unknown data_product_type {product_type!r}; "
                f"use one of {', '.join(DATA_PRODUCT_TYPES)}"
            )
        for key in ("start", "end"):
            if key not in data:
                raise RecordValidationError(f"data product {url!r} has no '{key}'")
        start = parse_time(data["start"], field_name=f"{url}: start")
        end = parse_time(data["end"], field_name=f"{url}: end")
        if end < start:
            raise RecordValidationError(f"data product {url!r}: end {data['end']} is before start {data['start']}")
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise RecordValidationError(f"data product {url!r}: metadata must be a JSON object")
        return cls(data_source, str(product_type), start, end, url, metadata)


def _short(data: Any, limit: int = 120) -> str:
    text = repr(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."
