"""All dashboard state in one ``param.Parameterized`` class (no Panel here, by design).

Views read and write these parameters; work off the Bokeh event loop goes through ``runner``
(a :class:`~dashboard.runner.BackgroundRunner`, synchronous by default, which is what the tests use).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import param

from aurorax_core import (
    DATA_PRODUCT_TYPES,
    METADATA_OPERATORS,
    AuroraXCoreError,
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    CancelToken,
    CatalogError,
    DataProduct,
    DataProductQuery,
    DataSource,
    Maintenance,
    MalformedResponse,
    MetadataFilterExpression,
    QueryValidationError,
    SearchCancelled,
    SearchEvent,
    SearchFailed,
    SearchResult,
    SearchTimeout,
    Unauthorized,
    format_time,
    parse_time,
    products_to_dataframe,
)

from .runner import BackgroundRunner

# The day the AuroraX documentation uses in its examples (TREx RGB at Fort Smith, 2020-01-01).
EXAMPLE_DAY = date(2020, 1, 1)
MAX_SPAN = timedelta(days=366 * 25)
# A search over everything would scan the whole archive; one constraint is the least we ask for.
SOURCE_FIELDS = ("programs", "platforms", "instrument_types")
_STAGE_ORDER = ("created", "submitted", "request_id", "waiting", "available", "retrieving", "retrieved")


def day_range(day: date) -> tuple[datetime, datetime]:
    """One UTC day as an inclusive AuroraX range: 00:00:00 .. 23:59:59."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(seconds=1)


def program_label(program: str, sources: Iterable[DataSource]) -> str:
    """'trex' -> 'TREx': the spelling the sources' display names use, else the identifier."""
    for source in sources:
        if source.program == program and source.display_name:
            first = source.display_name.split()[0]
            if first.lower().replace("-", "") == program.lower().replace("-", ""):
                return first
    return program


def platform_label(platform: str, sources: Iterable[DataSource]) -> str:
    """'fort smith' -> 'Fort Smith (FSMI)': the site name plus the code in its display names."""
    codes: list[str] = []
    for source in sources:
        if source.platform == platform and source.display_name:
            last = source.display_name.split()[-1]
            if last.isupper() and last.isalpha() and 3 <= len(last) <= 5 and last not in codes:
                codes.append(last)
    name = platform.title() if platform.islower() else platform
    return f"{name} ({'/'.join(codes)})" if codes else name


def _labelled(values: Iterable[str], label: Callable[[str], str]) -> dict[str, str]:
    items = sorted(set(values), key=lambda v: label(v).lower())
    labels: dict[str, str] = {}
    for value in items:
        text = label(value)
        # Two values with the same label would collapse in a dict; keep both visible.
        labels[text if text not in labels else f"{text} [{value}]"] = value
    return labels


def friendly_error(exc: BaseException, *, action: str = "The search") -> tuple[str, str]:
    """A (title, message) pair for an alert: what failed and what to try. Never a traceback."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, QueryValidationError):
        return "The query is not valid", f"{detail}. Fix the highlighted field and search again."
    if isinstance(exc, SearchCancelled):
        return "Search cancelled", "The search was cancelled. Change the query or press Search to run it again."
    if isinstance(exc, SearchTimeout):
        return (
            f"{action} timed out",
            f"{detail}. Narrow the time range or the data sources, or try again later.",
        )
    if isinstance(exc, SearchFailed):
        return (
            f"{action} failed on the server",
            f"The AuroraX server reported an error: {detail}. Check the metadata filters, narrow the query, "
            "or try again later.",
        )
    if isinstance(exc, Unauthorized):
        return "Not authorised", f"{detail}. Check the API key (AURORAX_API_KEY)."
    if isinstance(exc, Maintenance):
        return "AuroraX is in maintenance", f"{detail}. Try again later or switch to the embedded catalog."
    if isinstance(exc, BackendUnavailable):
        return (
            "Cannot reach the AuroraX server",
            f"{detail}. Check the API URL and your network, or switch to the embedded catalog.",
        )
    if isinstance(exc, BackendTimeout):
        return "The AuroraX server did not answer in time", f"{detail}. Try again, or switch to the embedded catalog."
    if isinstance(exc, MalformedResponse):
        return (
            "The server's answer is not AuroraX data",
            f"{detail}. Check that the URL points at an AuroraX API (e.g. https://api.aurorax.space).",
        )
    if isinstance(exc, BackendHTTPError):
        return "The AuroraX server returned an error", f"{detail}. Check the URL, or try again later."
    if isinstance(exc, BackendError):
        return "The backend could not answer", f"{detail}. Check the backend settings, or try again later."
    if isinstance(exc, CatalogError):
        return (
            "The embedded catalog cannot be read",
            f"{detail}. Rebuild it with `aurorax-core --catalog PATH catalog demo --replace` or pick another catalog.",
        )
    if isinstance(exc, AuroraXCoreError):
        return f"{action} failed", detail
    return f"{action} failed unexpectedly", f"{type(exc).__name__}: {detail}. Try again; if it persists, report it."


class DashboardState(param.Parameterized):
    """Backend, query inputs, the running search, results, table view and selection of one session."""

    # --- backend -------------------------------------------------------------------------------
    backend = param.Parameter(default=None, doc="The Backend in use (catalog or remote API).")
    backend_name = param.String(default="", doc="What the backend is (a catalog path or an API URL).")
    backend_opening = param.Boolean(
        default=False, doc="The backend is still opening (e.g. the demo archive being built on a first run)."
    )
    sources = param.List(default=[], item_type=DataSource, doc="The backend's data sources (full records).")
    metadata_vocabulary = param.Dict(default={}, doc="metadata key -> values present or allowed.")

    # --- query inputs (names equal DataProductQuery fields) ------------------------------------
    start = param.Date(default=day_range(EXAMPLE_DAY)[0], label="Start (UTC)", doc="Start of the time range, UTC.")
    end = param.Date(default=day_range(EXAMPLE_DAY)[1], label="End (UTC)", doc="End of the time range, UTC.")
    programs = param.ListSelector(default=[], objects=[], label="Program")
    platforms = param.ListSelector(default=[], objects=[], label="Platform")
    instrument_types = param.ListSelector(default=[], objects=[], label="Instrument type")
    data_product_types = param.ListSelector(
        default=[], objects=list(DATA_PRODUCT_TYPES), label="Product type", doc="Empty means all types."
    )
    metadata_filters = param.List(
        default=[], item_type=dict, doc="Metadata conditions: dicts with 'key', 'operator' and 'values'."
    )
    metadata_filters_logical_operator = param.Selector(default="AND", objects=["AND", "OR"], label="Combine filters")

    # --- actions -------------------------------------------------------------------------------
    search = param.Event(label="Search")
    cancel = param.Event(label="Cancel")

    # --- validation and progress ---------------------------------------------------------------
    field_errors = param.Dict(default={}, doc="Query field -> why the current value cannot be searched.")
    is_searching = param.Boolean(default=False)
    stages = param.List(default=[], doc="Progress lines of the running/last search: dicts stage/message/elapsed.")
    status = param.String(default="")
    error_title = param.String(default="")
    error = param.String(default="")
    notice = param.String(default="", doc="A non-error remark, e.g. how to widen a search with no results.")

    # --- results, table view, selection --------------------------------------------------------
    result = param.ClassSelector(class_=SearchResult, default=None, allow_None=True)
    results = param.DataFrame(default=None, allow_None=True, doc="One row per product (DATAFRAME_COLUMNS).")
    view_indices = param.List(default=[], doc="Row indices of the results as filtered and sorted in the table.")
    table_filters = param.Dict(default={}, doc="Table column -> header-filter text.")
    selected_index = param.Integer(default=None, allow_None=True, doc="Index into result.data of the open product.")
    pending_selection = param.String(default="", doc="URL of a product to select once results arrive (permalink).")
    view = param.Selector(default="table", objects=["table", "gallery"], doc="Which results view is shown.")

    def __init__(self, backend: Any = None, **params: Any) -> None:
        self.runner = BackgroundRunner()
        self._search_lane = self.runner.lane()
        # name -> fn(result, frame): per-result values that views need (e.g. the table's display
        # frame). A search computes them in its worker thread, so that nothing proportional to the
        # result size runs on the session's event loop (shared by all sessions of the server).
        self.result_views: dict[str, Callable[[SearchResult, Any], Any]] = {}
        self.prepared: dict[str, Any] = {}
        self._token: CancelToken | None = None
        # Search pressed while the backend was opening: run it once the backend is ready.
        self._search_when_open = False
        self._lock = threading.Lock()
        super().__init__(**params)
        if backend is not None:
            self.set_backend(backend)
        self._validate()

    # --- backend and vocabulary -----------------------------------------------------------------

    def set_backend(self, backend: Any, name: str | None = None) -> None:
        """Use ``backend`` from now on: load its sources and metadata vocabulary, keep valid inputs.

        Raises:
            AuroraXCoreError: the backend cannot list its sources (the caller shows it).
        """
        sources, vocabulary = self.load_vocabulary(backend)
        self.apply_backend(backend, sources, vocabulary, name)

    @classmethod
    def load_vocabulary(cls, backend: Any) -> tuple[list[DataSource], dict[str, list[Any]]]:
        """The backend's sources and metadata vocabulary (blocking I/O: call it off the event loop).

        Raises:
            AuroraXCoreError: the backend cannot list its sources.
        """
        sources = list(backend.list_sources())
        return sources, cls._load_metadata_vocabulary(backend, sources)

    def apply_backend(
        self, backend: Any, sources: list[DataSource], vocabulary: dict[str, list[Any]], name: str | None = None
    ) -> None:
        """Switch to a backend whose vocabulary was loaded with :meth:`load_vocabulary`."""
        self.cancel_search()
        old = self.backend
        with param.parameterized.batch_call_watchers(self):
            self.param.update(
                backend=backend,
                backend_name=name or str(getattr(backend, "name", "")),
                sources=sources,
                metadata_vocabulary=vocabulary,
            )
            self._refresh_options()
        if old is not None and old is not backend:
            # Closing a broken backend must not hide the new one.
            with contextlib.suppress(Exception):
                old.close()
        self._validate()

    @staticmethod
    def _load_metadata_vocabulary(backend: Any, sources: Sequence[DataSource]) -> dict[str, list[Any]]:
        vocab: dict[str, list[Any]] = {}
        for source in sources:
            for field in source.data_product_metadata_schema or []:
                key = field.get("field_name")
                if not key:
                    continue
                values = vocab.setdefault(str(key), [])
                for value in field.get("allowed_values") or []:
                    if value not in values:
                        values.append(value)
        # The embedded catalog also knows the values actually present; the API does not say.
        present = getattr(backend, "metadata_values", None)
        if callable(present):
            try:
                found = present()
            except Exception:
                found = {}
            for key, values in dict(found or {}).items():
                bucket = vocab.setdefault(str(key), [])
                for value in values:
                    if value not in bucket:
                        bucket.append(value)
        return {k: sorted(v, key=str) for k, v in sorted(vocab.items())}

    def _matching_sources(
        self,
        programs: Sequence[str] = (),
        platforms: Sequence[str] = (),
        instrument_types: Sequence[str] = (),
    ) -> list[DataSource]:
        return [
            s
            for s in self.sources
            if (not programs or s.program in programs)
            and (not platforms or s.platform in platforms)
            and (not instrument_types or s.instrument_type in instrument_types)
        ]

    @param.depends("programs", "platforms", watch=True)
    def _refresh_options(self) -> None:
        """Program narrows platform, and both narrow instrument type (dropping what no longer fits)."""
        sources = self.sources
        program_opts = _labelled((s.program for s in sources), lambda v: program_label(v, sources))
        by_program = self._matching_sources(self.programs)
        platform_opts = _labelled((s.platform for s in by_program), lambda v: platform_label(v, sources))
        by_platform = self._matching_sources(self.programs, [p for p in self.platforms if p in platform_opts.values()])
        instrument_opts = _labelled((s.instrument_type for s in by_platform), lambda v: v)
        self.param.programs.objects = program_opts
        self.param.platforms.objects = platform_opts
        self.param.instrument_types.objects = instrument_opts
        keep = {
            "programs": [v for v in self.programs if v in program_opts.values()],
            "platforms": [v for v in self.platforms if v in platform_opts.values()],
            "instrument_types": [v for v in self.instrument_types if v in instrument_opts.values()],
        }
        changed = {k: v for k, v in keep.items() if v != list(getattr(self, k))}
        if changed:
            self.param.update(**changed)

    def label_for(self, field: str, value: str) -> str:
        """The display name of a program/platform/instrument type value."""
        for label, v in self.param[field].names.items():
            if v == value:
                return label
        return value

    def metadata_keys(self) -> list[str]:
        """Metadata keys of the currently selected sources (all sources when none is selected)."""
        chosen = self._matching_sources(self.programs, self.platforms, self.instrument_types) or self.sources
        keys = {
            str(f.get("field_name"))
            for s in chosen
            for f in (s.data_product_metadata_schema or [])
            if f.get("field_name")
        }
        # Keys known only from the records themselves (embedded catalog).
        if not keys:
            keys = set(self.metadata_vocabulary)
        return sorted(keys)

    # --- time presets ----------------------------------------------------------------------------

    def newest_day(self) -> date | None:
        """The newest UTC day with data in the backend for the selected sources, if it can tell."""
        backend = self.backend
        if backend is None:
            return None
        span = getattr(backend, "time_span", None)
        if callable(span) and not (self.programs or self.platforms or self.instrument_types):
            try:
                found = span()
            except Exception:
                found = None
            if found and found[1] is not None:
                return parse_time(found[1]).date()
        today = datetime.now(UTC).date()
        try:
            kwargs = {}
            if len(self.programs) == 1:
                kwargs["program"] = self.programs[0]
            if len(self.platforms) == 1:
                kwargs["platform"] = self.platforms[0]
            if len(self.instrument_types) == 1:
                kwargs["instrument_type"] = self.instrument_types[0]
            availability = backend.availability(today - timedelta(days=365 * 25), today, **kwargs)
        except Exception:
            return None
        days = [d for a in availability for d, n in a.available_data_products.items() if n]
        return date.fromisoformat(max(days)) if days else None

    def preset_newest_night(self) -> bool:
        """Set the range to the newest day with data; False (with a notice) when none is known."""
        return self.apply_nights(self.newest_day(), 1)

    def preset_last_nights(self, nights: int = 7) -> bool:
        """The ``nights`` days ending with the newest day with data."""
        return self.apply_nights(self.newest_day(), nights)

    def apply_nights(self, day: date | None, nights: int) -> bool:
        """The ``nights`` UTC days ending with ``day`` (found by :meth:`newest_day`, maybe off the loop)."""
        if day is None:
            self.notice = "The backend did not report any day with data for the selected sources."
            return False
        self.param.update(start=day_range(day - timedelta(days=nights - 1))[0], end=day_range(day)[1])
        return True

    def preset_example_day(self) -> None:
        """The documentation's example: 2020-01-01 (TREx RGB at Fort Smith, when those exist)."""
        updates: dict[str, Any] = dict(zip(("start", "end"), day_range(EXAMPLE_DAY), strict=True))
        if not (self.programs or self.platforms or self.instrument_types):
            example = [
                s
                for s in self.sources
                if s.program == "trex" and s.platform == "fort smith" and s.instrument_type == "RGB ASI"
            ]
            if example:
                updates.update(programs=["trex"])
                self.param.update(**updates)
                self.param.update(platforms=["fort smith"])
                self.param.update(instrument_types=["RGB ASI"])
                return
        self.param.update(**updates)

    def step_days(self, days: int) -> None:
        """Move the whole range by ``days`` (±1 day steppers)."""
        delta = timedelta(days=days)
        self.param.update(start=self.start + delta, end=self.end + delta)

    # --- validation -----------------------------------------------------------------------------

    @param.depends(
        "start",
        "end",
        "programs",
        "platforms",
        "instrument_types",
        "metadata_filters",
        "metadata_filters_logical_operator",
        watch=True,
    )
    def _validate(self) -> None:
        self.field_errors = self.check()

    def check(self) -> dict[str, str]:
        """Why the current inputs cannot be searched, per field (empty when they can)."""
        errors: dict[str, str] = {}
        start, end = self.start, self.end
        if start is None:
            errors["start"] = "Choose a start date and time (UTC)."
        if end is None:
            errors["end"] = "Choose an end date and time (UTC)."
        if start is not None and end is not None:
            start, end = _aware(start), _aware(end)
            if end < start:
                errors["end"] = (
                    f"End ({format_time(end)}) is before start ({format_time(start)}). Pick an end after the start."
                )
            elif end - start > MAX_SPAN:
                years = (end - start).days / 365.25
                errors["end"] = (
                    f"The range spans {years:.0f} years; the limit is 25 (ground-imager data start in 2004). "
                    "Narrow the range."
                )
        if not (self.programs or self.platforms or self.instrument_types):
            errors["programs"] = "Select at least one program, platform or instrument type."
        elif self.sources and not self._matching_sources(self.programs, self.platforms, self.instrument_types):
            errors["instrument_types"] = "No data source has this program, platform and instrument type together."
        for number, expression in enumerate(self.metadata_filters, start=1):
            try:
                MetadataFilterExpression.from_api_dict(expression)
            except QueryValidationError as exc:
                errors["metadata_filters"] = f"Filter {number}: {exc}"
                break
        return errors

    def to_query(self) -> DataProductQuery:
        """The query the inputs describe.

        Raises:
            QueryValidationError: the inputs are invalid (the message names the field).
        """
        errors = self.check()
        if errors:
            raise QueryValidationError("; ".join(errors.values()))
        return DataProductQuery(
            start=_aware(self.start),
            end=_aware(self.end),
            programs=tuple(self.programs),
            platforms=tuple(self.platforms),
            instrument_types=tuple(self.instrument_types),
            data_product_types=tuple(self.data_product_types),
            metadata_filters=tuple(MetadataFilterExpression.from_api_dict(e) for e in self.metadata_filters),
            metadata_filters_logical_operator=self.metadata_filters_logical_operator,
        )

    def apply_query(self, query: DataProductQuery) -> None:
        """Set every input from a query (e.g. a loaded query file or a permalink)."""
        self.param.update(programs=[p for p in query.programs if p in self.param.programs.objects])
        self.param.update(platforms=[p for p in query.platforms if p in self.param.platforms.objects])
        self.param.update(
            instrument_types=[i for i in query.instrument_types if i in self.param.instrument_types.objects]
        )
        self.param.update(
            start=query.start,
            end=query.end,
            data_product_types=list(query.data_product_types),
            metadata_filters=[f.to_api_dict() for f in query.metadata_filters],
            metadata_filters_logical_operator=query.metadata_filters_logical_operator,
        )

    # --- running a search ----------------------------------------------------------------------

    @param.depends("search", watch=True)
    def _on_search(self) -> None:
        self.run_search()

    @param.depends("cancel", watch=True)
    def _on_cancel(self) -> None:
        self.cancel_search()

    @param.depends("backend_opening", watch=True)
    def _on_backend_opened(self) -> None:
        if not self.backend_opening and self._search_when_open:
            self._search_when_open = False
            # Not when opening failed (the page says why), nor when a shared link's query is
            # already being searched.
            if self.backend is not None and not self.is_searching:
                self.run_search()

    def run_search(self) -> bool:
        """Validate, then start the search through ``executor``; False when the inputs are invalid
        (or the backend is still opening: the search then runs as soon as it is open)."""
        if self.backend is None and self.backend_opening:
            # The selectors have no data sources yet, so the query cannot be checked now.
            self._search_when_open = True
            self.param.update(
                error="", error_title="", notice="The backend is still opening: the search starts as soon as it is."
            )
            return False
        errors = self.check()
        self.field_errors = errors
        if errors:
            self.param.update(
                error_title="Fix the query first",
                error=" ".join(errors.values()),
                notice="",
            )
            return False
        if self.backend is None:
            self.param.update(error_title="No backend", error="Choose the embedded catalog or an AuroraX API URL.")
            return False
        query = self.to_query()
        if self._token is not None:
            self._token.cancel()
        token = CancelToken()
        self._token = token
        lane = self._search_lane
        generation = lane.begin()
        started = time.perf_counter()
        self.param.update(
            is_searching=True,
            error="",
            error_title="",
            notice="",
            status=f"Searching {self.backend_name} ...",
            stages=[{"stage": "created", "message": "Search object created", "elapsed": 0.0}],
        )
        backend = self.backend

        pending: list[dict[str, Any]] = []

        def flush() -> None:
            with self._lock:
                lines = pending[:]
                pending.clear()
            for line in lines:
                self._add_stage(line)

        def progress(event: SearchEvent) -> None:
            line = {"stage": event.stage, "message": event.message, "elapsed": time.perf_counter() - started}
            # Stages that arrive together reach the page in one update, not one round trip each.
            with self._lock:
                pending.append(line)
                first = len(pending) == 1
            if first:
                lane.post(generation, flush)

        def work() -> tuple[SearchResult, Any, dict[str, Any], str]:
            result = backend.search(query, progress=progress, cancel=token)
            # Built here, in the worker, so that large results do not stall the page's event loop.
            frame = products_to_dataframe(result.data)
            prepared = self.prepare_views(result, frame)
            # The advice may ask the backend for its newest day: also off the event loop.
            advice = "" if result.data else self._no_results_advice(result.query)
            return result, frame, prepared, advice

        def finish(answer: tuple[SearchResult, Any, dict[str, Any], str]) -> None:
            flush()
            result, frame, prepared, advice = answer
            self._token = None
            self.set_result(
                result, elapsed=time.perf_counter() - started, frame=frame, advice=advice, prepared=prepared
            )

        def fail(exc: BaseException) -> None:
            flush()
            self._finish_error(exc)

        lane.submit(work, finish, fail, pool="search", generation=generation)
        return True

    def cancel_search(self) -> None:
        """Cancel the running search now; its late answer is ignored."""
        token, self._token = self._token, None
        self._search_lane.reset()
        if token is None:
            return
        token.cancel()
        self.param.update(
            is_searching=False,
            status="Search cancelled.",
            stages=[*self.stages, {"stage": "cancelled", "message": "Search cancelled", "elapsed": None}],
        )

    def _add_stage(self, line: dict[str, Any]) -> None:
        # The page already shows "Search object created" from the moment Search was pressed.
        if line["stage"] == "created" and any(s["stage"] == "created" for s in self.stages):
            return
        self.stages = [*self.stages, line]

    def _finish_error(self, exc: BaseException) -> None:
        self._token = None
        title, message = friendly_error(exc)
        self.param.update(
            is_searching=False,
            error_title=title,
            error=message,
            status=title + ".",
            stages=[*self.stages, {"stage": "error", "message": title, "elapsed": None}],
        )

    def prepare_views(self, result: SearchResult, frame: Any) -> dict[str, Any]:
        """Run the registered ``result_views`` builders (meant for the worker thread).

        Raises:
            Exception: whatever a builder raises (the search then reports it as failed).
        """
        return {name: build(result, frame) for name, build in list(self.result_views.items())}

    def set_result(
        self,
        result: SearchResult,
        *,
        elapsed: float | None = None,
        frame: Any = None,
        advice: str | None = None,
        prepared: dict[str, Any] | None = None,
    ) -> None:
        """Show ``result``: the table frame, status line, and the permalink's pending selection.

        ``prepared`` holds the ``result_views`` values already built for this result (in a worker);
        without it they are built here.
        """
        if frame is None:
            frame = products_to_dataframe(result.data)
        self.prepared = prepared if prepared is not None else self.prepare_views(result, frame)
        count = len(result.data)
        took = result.elapsed_s or elapsed or 0.0
        notice = "" if count else (advice or self._no_results_advice(result.query))
        selected = None
        if self.pending_selection:
            selected = next((i for i, p in enumerate(result.data) if p.url == self.pending_selection), None)
        self.param.update(
            result=result,
            results=frame,
            view_indices=list(range(count)),
            selected_index=selected,
            pending_selection="",
            is_searching=False,
            notice=notice,
            status=f"{count} record{'s' if count != 1 else ''} in {took:.2f} s (request {result.request_id}).",
        )

    def _no_results_advice(self, query: DataProductQuery) -> str:
        tips = []
        days = (query.end - query.start).total_seconds() / 86400
        if days < 31:
            tips.append("widen the time range (e.g. the last 7 nights or a whole month)")
        if query.data_product_types:
            tips.append("clear the product-type filter")
        if query.metadata_filters:
            tips.append("remove or loosen the metadata filters")
        if query.platforms or query.instrument_types:
            tips.append("select more platforms or instrument types")
        newest = self.newest_day()
        if newest is not None:
            tips.append(f"try the newest night with data, {newest.isoformat()}")
        advice = "; ".join(tips) if tips else "change the query"
        return f"No data products match this query. To find some: {advice}."

    # --- selection ------------------------------------------------------------------------------

    @property
    def selected(self) -> DataProduct | None:
        """The product whose preview is open."""
        if self.result is None or self.selected_index is None:
            return None
        if 0 <= self.selected_index < len(self.result.data):
            return self.result.data[self.selected_index]
        return None

    def select_url(self, url: str) -> bool:
        """Open the product with this URL; False when it is not in the results."""
        if self.result is None:
            return False
        for i, p in enumerate(self.result.data):
            if p.url == url:
                self.selected_index = i
                return True
        return False

    def view_products(self) -> list[DataProduct]:
        """The results as the table currently filters and sorts them."""
        if self.result is None:
            return []
        data = self.result.data
        return [data[i] for i in self.view_indices if 0 <= i < len(data)]

    # --- permalinks -----------------------------------------------------------------------------

    def to_permalink(self) -> dict[str, str]:
        """The URL query parameters that reproduce the query, table filters and selection."""
        out: dict[str, str] = {}
        if self.start is not None:
            out["start"] = format_time(_aware(self.start))
        if self.end is not None:
            out["end"] = format_time(_aware(self.end))
        for field, key in (
            ("programs", "program"),
            ("platforms", "platform"),
            ("instrument_types", "instrument_type"),
            ("data_product_types", "type"),
        ):
            if getattr(self, field):
                out[key] = ",".join(getattr(self, field))
        if self.metadata_filters:
            out["filters"] = json.dumps(self.metadata_filters, separators=(",", ":"))
            out["op"] = self.metadata_filters_logical_operator
        if self.table_filters:
            out["table"] = json.dumps(self.table_filters, separators=(",", ":"), sort_keys=True)
        if self.view != "table":
            out["view"] = self.view
        selected = self.selected
        if selected is not None:
            out["product"] = selected.url
        elif self.pending_selection:
            out["product"] = self.pending_selection
        return out

    def apply_permalink(self, params: Mapping[str, str]) -> list[str]:
        """Restore inputs from URL parameters; returns readable problems with the link (may be empty).

        Values are validated like typed input: unknown programs etc. are dropped with a note.
        """
        problems: list[str] = []

        def split(key: str) -> list[str]:
            raw = params.get(key) or ""
            return [v for v in (part.strip() for part in str(raw).split(",")) if v]

        for key in ("start", "end"):
            if params.get(key):
                try:
                    setattr(self, key, parse_time(str(params[key]), field_name=key))
                except AuroraXCoreError as exc:
                    problems.append(f"link parameter {key}: {exc}")
        has_sources = any(k in params for k in ("program", "platform", "instrument_type", "start"))
        for field, key in (("programs", "program"), ("platforms", "platform"), ("instrument_types", "instrument_type")):
            if not has_sources:
                # A link without a query (e.g. only ?theme=dark) keeps the current inputs.
                break
            wanted = split(key)
            allowed = list(self.param[field].objects)
            unknown = [v for v in wanted if v not in allowed]
            if unknown:
                problems.append(f"link parameter {key}: unknown {', '.join(unknown)} (not in this backend)")
            setattr(self, field, [v for v in wanted if v in allowed])
        types = split("type")
        bad = [t for t in types if t not in DATA_PRODUCT_TYPES]
        if bad:
            problems.append(f"link parameter type: unknown product type {', '.join(bad)}")
        if has_sources:
            self.data_product_types = [t for t in types if t in DATA_PRODUCT_TYPES]
        if params.get("filters"):
            try:
                filters = json.loads(str(params["filters"]))
                if not isinstance(filters, list):
                    raise ValueError("not a list")
                self.metadata_filters = [MetadataFilterExpression.from_api_dict(f).to_api_dict() for f in filters]
            except (ValueError, QueryValidationError) as exc:
                problems.append(f"link parameter filters: {exc}")
        if params.get("op") in ("AND", "OR"):
            self.metadata_filters_logical_operator = str(params["op"])
        if params.get("table"):
            try:
                table = json.loads(str(params["table"]))
                if not isinstance(table, dict):
                    raise ValueError("not an object")
                self.table_filters = {str(k): str(v) for k, v in table.items() if isinstance(v, (str, int, float))}
            except ValueError as exc:
                problems.append(f"link parameter table: {exc}")
        if params.get("view") in ("table", "gallery"):
            self.view = str(params["view"])
        if params.get("product"):
            self.pending_selection = str(params["product"])
        return problems

    # --- metadata filter builder ------------------------------------------------------------------

    def add_metadata_filter(self, key: str, operator: str, values: Sequence[Any]) -> None:
        """Append a condition (validated when the query is built; errors show next to the builder)."""
        if operator not in METADATA_OPERATORS:
            raise QueryValidationError(f"unknown operator {operator!r}; use one of {', '.join(METADATA_OPERATORS)}")
        self.metadata_filters = [*self.metadata_filters, {"key": key, "operator": operator, "values": list(values)}]

    def remove_metadata_filter(self, index: int) -> None:
        self.metadata_filters = [f for i, f in enumerate(self.metadata_filters) if i != index]


def _aware(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def coerce_filter_value(text: str) -> str | int | float:
    """'5' -> 5, '2.5' -> 2.5, anything else stays text (metadata values are strings or numbers)."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return stripped
    return number if math.isfinite(number) else stripped
