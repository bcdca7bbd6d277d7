"""Small pure helpers of the server: error documents, query-string parsing, response formats."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Final

from ..models import DATA_SOURCE_FORMATS

# The ErrorDocument codes of the AuroraX API (PROTOCOL §1.3), by HTTP status.
ERROR_CODES: Final[dict[int, str]] = {
    400: "AssertionError",
    401: "NotAuthenticated",
    403: "NotPermitted",
    404: "NotFound",
    405: "NotImplemented",
    409: "Conflict",
    411: "AssertionError",
    413: "AssertionError",
    415: "AssertionError",
    429: "ToManyRequests",
    500: "ApplicationError",
    501: "NotImplemented",
    503: "Unavailable",
}

BASIC_SOURCE_KEYS: Final = frozenset(
    {"identifier", "program", "platform", "instrument_type", "source_type", "display_name"}
)
MAX_AVAILABILITY_SPAN: Final = timedelta(days=366 * 25)

_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})


class ApiError(Exception):
    """An answer other than success: an HTTP status plus the AuroraX error document."""

    def __init__(self, status: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code or ERROR_CODES.get(status, "Other")

    def document(self) -> dict[str, str]:
        return {"error_code": self.error_code, "error_message": self.message}


def error_document(status: int, message: str, error_code: str | None = None) -> bytes:
    """The encoded ``{"error_code", "error_message"}`` body for a status."""
    return json.dumps(ApiError(status, message, error_code).document()).encode()


def parse_bool(name: str, value: str | None, default: bool = False) -> bool:
    """A query-string boolean: ``True``/``False`` as pyaurorax sends them, any case, or 1/0/yes/no.

    Raises:
        ApiError: 400 for anything else.
    """
    if value is None:
        return default
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ApiError(400, f"query parameter {name}={value!r} is not a boolean; use true or false")


def parse_source_format(value: str | None, default: str = "basic_info") -> str:
    """A data-source record format (``identifier_only``, ``basic_info``, ``with_metadata``, ``full_record``).

    Raises:
        ApiError: 400 for an unknown format.
    """
    if value is None or not value.strip():
        return default
    text = value.strip().lower()
    if text not in DATA_SOURCE_FORMATS:
        raise ApiError(400, f"unknown data source format {value!r}; use one of {', '.join(DATA_SOURCE_FORMATS)}")
    return text


def parse_date(name: str, value: str | None, default: date) -> date:
    """A ``YYYY-MM-DD`` query parameter (``YYYY-MM-DDTHH:MM:SS`` is accepted and cut to the day).

    Raises:
        ApiError: 400 when it is not a date.
    """
    if value is None or not value.strip():
        return default
    text = value.strip()[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, f"query parameter {name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2020-01-01"
        ) from None


def parse_identifier(value: str) -> int:
    """A data-source identifier from the URL path.

    Raises:
        ApiError: 400 when it is not an integer.
    """
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"data source identifier {value!r} is not an integer, e.g. 103") from None


def validate_response_format(tree: Any, path: str = "response_format") -> dict[str, Any]:
    """Check a response-format tree: an object whose values are booleans or nested trees.

    Raises:
        ApiError: 400 naming the first bad entry.
    """
    if not isinstance(tree, Mapping):
        raise ApiError(
            400,
            f"{path} must be an object of booleans, e.g. "
            '{"start": true, "url": true, "data_source": {"identifier": true}}, '
            f"got {type(tree).__name__}",
        )
    for key, value in tree.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, Mapping):
            validate_response_format(value, f"{path}.{key}")
            continue
        raise ApiError(400, f"{path}.{key} must be true, false or an object, got {value!r}")
    return dict(tree)


def needs_full_source(tree: Mapping[str, Any]) -> bool:
    """True when a response format asks for data-source keys beyond basic_info."""
    sub = tree.get("data_source")
    if not isinstance(sub, Mapping):
        return False
    return any(v for k, v in sub.items() if k not in BASIC_SOURCE_KEYS)


def apply_response_format(value: Any, tree: Mapping[str, Any]) -> Any:
    """Keep only the keys a response format sets to true, recursing into objects and lists of objects."""
    if isinstance(value, list):
        return [apply_response_format(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, wanted in tree.items():
        if key not in value or not wanted:
            continue
        if wanted is True:
            out[key] = value[key]
        else:
            inner = value[key]
            out[key] = None if inner is None else apply_response_format(inner, wanted)
    return out
