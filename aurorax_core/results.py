"""Search results: typed records plus what the search reported (request id, logs, sizes, timings)."""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .models import DataProduct, DataSource
from .query import DataProductQuery

if TYPE_CHECKING:
    import pandas as pd

# The columns of SearchResult.to_dataframe(), in order. Times are pandas datetime64[ns, UTC].
DATAFRAME_COLUMNS: Final[tuple[str, ...]] = (
    "identifier",
    "display_name",
    "program",
    "platform",
    "instrument_type",
    "source_type",
    "data_product_type",
    "sub_type",
    "start",
    "end",
    "imaging_start_time",
    "imaging_end_time",
    "url",
    "metadata",
)


_SOURCE_KEY: Final = b'{"data_source": '
_BODY_HEAD: Final = b'{"result": ['


@dataclass(frozen=True, slots=True)
class SourceLayout:
    """Where each record's ``data_source`` JSON sits in a search body, so that a data-source format
    other than basic_info (e.g. ``identifier_only``) can be served by splicing, without decoding it.
    """

    record_offsets: array  # byte offset of each record's '{"data_source": ' in the body
    record_sources: array  # the identifier of each record's data source
    source_texts: Mapping[int, bytes]  # the data_source JSON each identifier was written with

    @property
    def nbytes(self) -> int:
        return (
            self.record_offsets.itemsize * len(self.record_offsets)
            + self.record_sources.itemsize * len(self.record_sources)
            + sum(len(text) for text in self.source_texts.values())
        )

    def replace_sources(self, body: bytes, texts: Mapping[int, bytes]) -> bytes:
        """``body`` with each record's data_source JSON replaced by ``texts[identifier]``."""
        offsets = self.record_offsets
        if not offsets:
            return body
        view = memoryview(body)
        skips = {sid: len(_SOURCE_KEY) + len(text) for sid, text in self.source_texts.items()}
        heads = {sid: _SOURCE_KEY + texts[sid] for sid in self.source_texts}
        parts: list[bytes | memoryview] = [view[: offsets[0]]]
        append = parts.append
        # record i runs from offsets[i] to offsets[i + 1] (its ", " included), the last to the end
        for offset, sid, end in zip(offsets, self.record_sources, [*offsets[1:], len(body)], strict=True):
            append(heads[sid])
            append(view[offset + skips[sid] : end])
        return b"".join(parts)


class SearchBody(NamedTuple):
    """A search's result as the AuroraX data endpoint's JSON body, ``{"result": [...]}`` (what the
    AuroraX-compatible server keeps and sends), with the time its two steps took."""

    body: bytes
    count: int
    query_seconds: float
    encode_seconds: float
    layout: SourceLayout | None = None

    @classmethod
    def concat(cls, parts: Sequence[SearchBody]) -> SearchBody | None:
        """One body with the records of ``parts`` in their order (the parts of one search split by
        start time); the slower part's timings. None when the parts wrote a data source
        differently (the catalog changed between them): search again in one piece."""
        full = [part for part in parts if part.count]
        if len(full) <= 1:
            return full[0] if full else (parts[0] if parts else None)
        if any(part.layout is None for part in full):
            return None
        texts: dict[int, bytes] = {}
        for part in full:
            assert part.layout is not None
            for identifier, text in part.layout.source_texts.items():
                if texts.setdefault(identifier, text) != text:
                    return None
        pieces: list[bytes | memoryview] = []
        offsets = array("Q")
        sources = array("q")
        size = len(_BODY_HEAD)
        for index, part in enumerate(full):
            assert part.layout is not None
            view = memoryview(part.body)
            # each body is {"result": [R, ...]}: keep its records, join them with ", "
            records = view[len(_BODY_HEAD) : len(view) - 2]
            pieces.append(records)
            shift = size - len(_BODY_HEAD)
            offsets.extend(offset + shift for offset in part.layout.record_offsets)
            sources.extend(part.layout.record_sources)
            size += len(records) + 2
            if index < len(full) - 1:
                pieces.append(b", ")
        body = b"".join([_BODY_HEAD, *pieces, b"]}"])
        return cls(
            body,
            sum(part.count for part in full),
            max(part.query_seconds for part in parts),
            max(part.encode_seconds for part in parts),
            SourceLayout(offsets, sources, texts),
        )


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a search request's log, as AuroraX reports it."""

    level: str  # debug | info | warn | error
    summary: str
    timestamp: datetime

    def to_api_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "summary": self.summary,
            "timestamp": self.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        }


@dataclass(frozen=True, slots=True)
class SearchResult(Sequence[DataProduct]):
    """The outcome of a data-product search.

    Attributes:
        query: the query that was run.
        data: the matching records, sorted by start time then URL.
        request_id: the AuroraX request id (a UUID), or a local id for the embedded catalog.
        logs: the request's log lines.
        file_size: size in bytes of the result as AuroraX JSON.
        query_duration_ms: how long the backend took to run the query.
        elapsed_s: wall-clock time of the whole search, as seen by the caller.
        backend: a short description of the backend that answered.
    """

    query: DataProductQuery
    data: list[DataProduct]
    request_id: str
    logs: list[LogEntry] = field(default_factory=list)
    file_size: int = 0
    query_duration_ms: float = 0.0
    elapsed_s: float = 0.0
    backend: str = ""

    @property
    def result_count(self) -> int:
        return len(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[DataProduct]:
        return iter(self.data)

    def __getitem__(self, index: Any) -> Any:
        return self.data[index]

    def to_api_records(self, data_source_format: str = "basic_info") -> list[dict[str, Any]]:
        """The records as AuroraX JSON dicts (the ``result`` list of the data endpoint)."""
        return [p.to_api_dict(data_source_format) for p in self.data]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per product with the columns in :data:`DATAFRAME_COLUMNS`."""
        return products_to_dataframe(self.data)


def products_to_dataframe(products: Sequence[DataProduct]) -> pd.DataFrame:
    """A DataFrame with the fixed columns of :data:`DATAFRAME_COLUMNS` (empty but typed when no rows)."""
    import pandas as pd

    columns: dict[str, list[Any]] = {name: [] for name in DATAFRAME_COLUMNS}
    for p in products:
        source: DataSource = p.data_source
        meta = p.metadata
        columns["identifier"].append(source.identifier)
        columns["display_name"].append(source.display_name)
        columns["program"].append(source.program)
        columns["platform"].append(source.platform)
        columns["instrument_type"].append(source.instrument_type)
        columns["source_type"].append(source.source_type)
        columns["data_product_type"].append(p.data_product_type)
        columns["sub_type"].append(p.sub_type)
        columns["start"].append(p.start)
        columns["end"].append(p.end)
        columns["imaging_start_time"].append(meta.get("imaging_start_time"))
        columns["imaging_end_time"].append(meta.get("imaging_end_time"))
        columns["url"].append(p.url)
        columns["metadata"].append(json.dumps(meta, sort_keys=True))
    frame = pd.DataFrame(columns)
    for name in ("start", "end", "imaging_start_time", "imaging_end_time"):
        frame[name] = pd.to_datetime(frame[name], utc=True, errors="coerce", format="ISO8601")
    frame["identifier"] = frame["identifier"].astype("Int64")
    return frame
