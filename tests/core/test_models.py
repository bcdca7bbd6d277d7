"""Records and times: what the AuroraX wire format requires of DataSource, DataProduct and the time helpers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core.errors import AuroraXCoreError, RecordValidationError
from aurorax_core.models import (
    DATA_PRODUCT_TYPES,
    DATA_SOURCE_FORMATS,
    SYNTHETIC_METADATA_KEY,
    DataProduct,
    DataSource,
    format_time,
    parse_time,
)

# No per-example deadline: on a loaded shared machine a slow example is not a failure.
relaxed = settings(deadline=None)

# A real record of the AuroraX data endpoint (PROTOCOL §3.3).
REAL_RECORD: dict[str, Any] = {
    "data_source": {
        "identifier": 103,
        "program": "trex",
        "platform": "gillam",
        "instrument_type": "RGB ASI",
        "source_type": "ground",
        "display_name": "TREx RGB GILL",
    },
    "data_product_type": "keogram",
    "start": "2020-01-01T00:00:00",
    "end": "2020-01-01T23:59:00",
    "url": "https://data.phys.ucalgary.ca/sort_by_project/TREx/RGB/stream2/2020/01/01/gill_rgb-04/"
    "20200101__gill_rgb-04_full-keogram.jpg",
    "metadata": {
        "imaging_end_time": "2020-01-01T13:16:00.000000",
        "imaging_start_time": "2019-12-31T23:30:00.000000",
        "keogram_type": "daily",
    },
}

FULL_SOURCE: dict[str, Any] = {
    "identifier": 3,
    "program": "swarm",
    "platform": "swarma",
    "instrument_type": "footprint",
    "source_type": "leo",
    "display_name": "Swarm A",
    "metadata": {},
    "owner": "dchaddoc@ucalgary.ca",
    "maintainers": [],
    "ephemeris_metadata_schema": [{"field_name": "nbtrace_region", "data_type": "string"}],
    "data_product_metadata_schema": [],
}


def _record(**changes: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(REAL_RECORD))
    for key, value in changes.items():
        if value is _DROP:
            record.pop(key)
        else:
            record[key] = value
    return record


_DROP = object()


# --- DataProduct ---------------------------------------------------------------------------------


def test_real_record_parses_and_serialises_back_identically():
    """A record from the AuroraX data endpoint survives from_api_dict -> to_api_dict unchanged."""
    product = DataProduct.from_api_dict(REAL_RECORD)
    assert product.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert product.end == datetime(2020, 1, 1, 23, 59, tzinfo=UTC)
    assert product.start.tzinfo is not None
    assert product.sub_type == "daily"
    assert product.data_source.key == ("trex", "gillam", "RGB ASI")
    assert product.to_api_dict() == REAL_RECORD
    # The data endpoint's record keys are exactly these (pyaurorax does DataProductData(**record)).
    assert set(product.to_api_dict()) == {"data_source", "data_product_type", "start", "end", "url", "metadata"}


BAD_RECORDS = [
    pytest.param(_record(url=_DROP), "has no 'url'", id="missing-url"),
    pytest.param(_record(url=""), "has no 'url'", id="empty-url"),
    pytest.param(_record(url=42), "has no 'url'", id="non-string-url"),
    pytest.param(_record(data_source=_DROP), "has no 'data_source'", id="missing-data-source"),
    pytest.param(_record(data_source={"program": "trex"}), "missing platform, instrument_type", id="partial-source"),
    pytest.param(_record(data_source="trex"), "must be a JSON object", id="source-not-object"),
    pytest.param(_record(data_product_type="picture"), "unknown data_product_type 'picture'", id="unknown-type"),
    pytest.param(_record(data_product_type=_DROP), "unknown data_product_type None", id="missing-type"),
    pytest.param(_record(start=_DROP), "has no 'start'", id="missing-start"),
    pytest.param(_record(end=_DROP), "has no 'end'", id="missing-end"),
    pytest.param(_record(start="yesterday"), "cannot parse 'yesterday'", id="unparseable-start"),
    pytest.param(_record(end="2020-02-30T00:00:00"), "not a valid date/time", id="impossible-date"),
    pytest.param(_record(start=20200101), "expected a date/time string", id="numeric-start"),
    pytest.param(_record(end="2019-12-31T00:00:00"), "is before start", id="end-before-start"),
    pytest.param(_record(metadata=["daily"]), "metadata must be a JSON object", id="metadata-list"),
    pytest.param(
        _record(data_source={**REAL_RECORD["data_source"], "identifier": "abc"}),
        "identifier 'abc' is not an integer",
        id="bad-identifier",
    ),
    pytest.param(["not", "a", "record"], "must be a JSON object", id="not-an-object"),
]


@pytest.mark.parametrize(("record", "fragment"), BAD_RECORDS)
def test_malformed_records_are_rejected_with_a_message_naming_the_problem(record, fragment):
    """Every malformed record raises RecordValidationError (an AuroraXCoreError) that says what is wrong."""
    with pytest.raises(RecordValidationError) as info:
        DataProduct.from_api_dict(record)
    assert fragment in str(info.value)
    assert isinstance(info.value, AuroraXCoreError)


GOOD_VARIANTS = [
    pytest.param(_record(metadata=None), {}, id="null-metadata-is-empty"),
    pytest.param(_record(metadata=_DROP), {}, id="missing-metadata-is-empty"),
    pytest.param(_record(start="2020-01-01T00:00:00Z"), None, id="z-suffix"),
    pytest.param(_record(start="2020-01-01T00:00:00.000000"), None, id="fractional-seconds"),
    pytest.param(_record(end="2020-01-01T00:00:00"), None, id="end-equals-start"),
]


@pytest.mark.parametrize(("record", "metadata"), GOOD_VARIANTS)
def test_tolerated_record_variants_parse(record, metadata):
    """Z suffixes, fractional seconds, null metadata and zero-length products are accepted."""
    product = DataProduct.from_api_dict(record)
    assert product.start <= product.end
    if metadata is not None:
        assert product.metadata == metadata


def test_every_data_product_type_is_accepted():
    """All seven AuroraX data product types parse."""
    for kind in DATA_PRODUCT_TYPES:
        assert DataProduct.from_api_dict(_record(data_product_type=kind)).data_product_type == kind


def test_synthetic_marker_and_sub_type():
    """is_synthetic is true only for metadata demo_synthetic == True; sub_type reads '<type>_type'."""
    assert not DataProduct.from_api_dict(REAL_RECORD).is_synthetic
    synthetic = DataProduct.from_api_dict(_record(metadata={SYNTHETIC_METADATA_KEY: True, "keogram_type": "hourly"}))
    assert synthetic.is_synthetic
    assert synthetic.sub_type == "hourly"
    assert not DataProduct.from_api_dict(_record(metadata={SYNTHETIC_METADATA_KEY: "yes"})).is_synthetic
    movie = DataProduct.from_api_dict(_record(data_product_type="movie", metadata={"movie_type": "real-time daily"}))
    assert movie.sub_type == "real-time daily"
    assert DataProduct.from_api_dict(_record(metadata={})).sub_type is None


def test_shared_data_source_instance_is_used():
    """from_api_dict(data_source=...) uses the given source (no per-record parsing of the source)."""
    source = DataSource.from_api_dict(REAL_RECORD["data_source"])
    product = DataProduct.from_api_dict(_record(data_source=_DROP), data_source=source)
    assert product.data_source is source


# --- DataSource ----------------------------------------------------------------------------------

FORMAT_KEYS = {
    "identifier_only": {"identifier"},
    "basic_info": {"identifier", "program", "platform", "instrument_type", "source_type", "display_name"},
    "with_metadata": {
        "identifier",
        "program",
        "platform",
        "instrument_type",
        "source_type",
        "display_name",
        "metadata",
    },
    "full_record": {
        "identifier",
        "program",
        "platform",
        "instrument_type",
        "source_type",
        "display_name",
        "metadata",
        "owner",
        "maintainers",
        "ephemeris_metadata_schema",
        "data_product_metadata_schema",
    },
}


@pytest.mark.parametrize("fmt", DATA_SOURCE_FORMATS)
def test_data_source_formats_carry_exactly_the_documented_keys(fmt):
    """Each FORMAT_* returns the key set of PROTOCOL §5.2 (pyaurorax rejects unknown keys)."""
    source = DataSource.from_api_dict(FULL_SOURCE)
    assert set(source.to_api_dict(fmt)) == FORMAT_KEYS[fmt]
    with_stats = source.to_api_dict(fmt, include_stats=True)
    assert set(with_stats) == FORMAT_KEYS[fmt] | {"stats"}


def test_full_record_round_trip_and_defaults():
    """A full record survives the round trip; absent optional fields come back as empty lists/objects, not null."""
    source = DataSource.from_api_dict(FULL_SOURCE)
    assert source.to_api_dict("full_record") == FULL_SOURCE
    bare = DataSource.from_api_dict({"program": "trex", "platform": "gillam", "instrument_type": "RGB ASI"})
    full = bare.to_api_dict("full_record")
    assert full["identifier"] is None
    assert full["source_type"] == "ground"
    assert full["metadata"] == {}
    assert full["maintainers"] == []
    assert full["ephemeris_metadata_schema"] == []
    assert full["data_product_metadata_schema"] == []


BAD_SOURCES = [
    pytest.param({"platform": "gillam", "instrument_type": "RGB ASI"}, "missing program", id="no-program"),
    pytest.param({"program": "trex", "platform": "", "instrument_type": "RGB ASI"}, "missing platform", id="empty"),
    pytest.param(
        {"identifier": [1], "program": "a", "platform": "b", "instrument_type": "c"}, "not an integer", id="bad-id"
    ),
    pytest.param("trex", "must be a JSON object", id="string"),
]


@pytest.mark.parametrize(("data", "fragment"), BAD_SOURCES)
def test_malformed_sources_are_rejected(data, fragment):
    """A data source without program/platform/instrument_type or with a bad identifier is rejected."""
    with pytest.raises(RecordValidationError, match=fragment):
        DataSource.from_api_dict(data)


def test_unknown_format_is_rejected():
    """An unknown data_source_format is a clear error, listing the valid ones."""
    source = DataSource.from_api_dict(FULL_SOURCE)
    with pytest.raises(RecordValidationError, match="basic_info"):
        source.to_api_dict("everything")
    with pytest.raises(RecordValidationError, match="unknown data source format"):
        DataProduct.from_api_dict(REAL_RECORD).to_api_dict("everything")


# --- times ---------------------------------------------------------------------------------------

aware_datetimes = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@relaxed
@given(aware_datetimes)
def test_format_then_parse_is_identity(value):
    """format_time gives the exact wire form YYYY-MM-DDTHH:MM:SS and parse_time reads it back."""
    text = format_time(value)
    assert len(text) == 19 and text[10] == "T"
    assert datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) == value
    assert parse_time(text) == value


@relaxed
@given(aware_datetimes)
def test_z_suffix_and_naive_mean_utc(value):
    """'...Z', '...+00:00' and no zone at all are the same UTC instant (AuroraX: naive = UTC)."""
    text = format_time(value)
    assert parse_time(text + "Z") == value
    assert parse_time(text + "+00:00") == value
    assert parse_time(value.replace(tzinfo=None)) == value
    assert parse_time(value.replace(tzinfo=None)).tzinfo is not None


@relaxed
@given(aware_datetimes, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_offsets_are_converted_to_utc(value, offset_minutes):
    """A timestamp with any UTC offset is converted to the same instant in UTC."""
    zone = timezone(timedelta(minutes=offset_minutes))
    local = value.astimezone(zone)
    parsed = parse_time(local.isoformat())
    assert parsed == value
    assert parsed.utcoffset() == timedelta(0)
    assert parse_time(local) == value


@relaxed
@given(aware_datetimes, st.text(alphabet="0123456789", min_size=1, max_size=9))
def test_fractional_seconds(value, digits):
    """Fractional seconds of 1 to 9 digits are read (to the microsecond)."""
    micro = int(digits[:6].ljust(6, "0"))
    assert parse_time(f"{format_time(value)}.{digits}") == value.replace(microsecond=micro)
    assert parse_time(f"{format_time(value)}.{digits}Z") == value.replace(microsecond=micro)


@relaxed
@given(st.integers(min_value=1000, max_value=9999))
def test_leap_days(year):
    """February 29 parses in leap years only; other years give a clear error, never a wrong date."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    text = f"{year:04d}-02-29T12:00:00"
    if leap:
        assert parse_time(text) == datetime(year, 2, 29, 12, tzinfo=UTC)
        assert format_time(parse_time(text)) == text
    else:
        with pytest.raises(RecordValidationError, match="not a valid date/time"):
            parse_time(text)


def test_dates_and_short_forms():
    """A date, a date string and HH:MM without seconds are accepted as midnight/whole minutes UTC."""
    assert parse_time(date(2020, 1, 1)) == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_time("2020-01-01") == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_time("2020-01-01T06:30") == datetime(2020, 1, 1, 6, 30, tzinfo=UTC)
    assert parse_time("2020-01-01 06:30:05") == datetime(2020, 1, 1, 6, 30, 5, tzinfo=UTC)
    assert parse_time(" 2020-01-01T00:00:00 ") == datetime(2020, 1, 1, tzinfo=UTC)


def test_years_before_1000_keep_four_digits():
    """format_time zero-pads the year, so the result is still the fixed 19-character wire form."""
    assert format_time(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05"
    assert format_time(datetime(2020, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)) == "2020-01-01T00:00:00"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2020",
        "2020-1-1",
        "01/01/2020",
        "2020-13-01",
        "2020-01-01T25:00:00",
        "2020-01-01T00:00:60",
        "now",
        "20200101",
    ],
)
def test_unparseable_times_give_a_fix_it_message(value):
    """Garbage and impossible times raise RecordValidationError naming the field and the expected format."""
    with pytest.raises(RecordValidationError) as info:
        parse_time(value, field_name="start")
    message = str(info.value)
    assert message.startswith("start:")
    assert "YYYY-MM-DD" in message or "not a valid date/time" in message


@pytest.mark.parametrize("value", [None, 20200101, 1.5, ["2020-01-01"]])
def test_non_string_times_are_rejected(value):
    """Non-string, non-date values are rejected with the type named."""
    with pytest.raises(RecordValidationError, match="expected a date/time string"):
        parse_time(value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
words = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")


@st.composite
def api_records(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(aware_datetimes)
    end = start + timedelta(seconds=draw(st.integers(min_value=0, max_value=10 * 86400)))
    return {
        "data_source": {
            "identifier": draw(st.integers(min_value=-5, max_value=10**6)),
            "program": draw(words),
            "platform": draw(words),
            "instrument_type": draw(words),
            "source_type": draw(st.sampled_from(["ground", "leo", "heo", "lunar", "event_list"])),
            "display_name": draw(st.text(max_size=20)),
        },
        "data_product_type": draw(st.sampled_from(DATA_PRODUCT_TYPES)),
        "start": format_time(start),
        "end": format_time(min(end, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))),
        "url": "https://example.org/" + draw(st.text(min_size=1, max_size=30)),
        "metadata": draw(st.dictionaries(st.text(max_size=10), json_values, max_size=4)),
    }


@relaxed
@given(api_records())
def test_record_json_round_trip(record):
    """Any valid AuroraX record -> DataProduct -> AuroraX JSON (through json text) is the same record."""
    product = DataProduct.from_api_dict(json.loads(json.dumps(record)))
    assert json.loads(json.dumps(product.to_api_dict())) == json.loads(json.dumps(record))
    assert product.start.tzinfo is not None and product.start <= product.end
