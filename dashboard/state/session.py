"""One browser session: the backend, and the parts that views read (form, job, results).

``DashboardSession`` owns the backend and runs searches: it reads the query from ``form``,
reports progress in ``job``, puts what was found in ``results``, and does the blocking work
through ``runner``. No Panel here: the app plugs a thread pool and the document into the runner.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import param

from aurorax_core import (
    AvailabilityCounts,
    DataProductQuery,
    DataSource,
    MetadataValues,
    SearchEvent,
    SearchResult,
    TimeSpan,
    parse_time,
    products_to_dataframe,
)

from ..runner import BackgroundRunner
from .advice import no_results_advice
from .basket import BasketState, KeepOffline
from .fields import aware
from .form import QueryForm
from .job import SearchJob
from .labels import has_data_products
from .results import Results

_log = logging.getLogger(__name__)
SearchAnswer = tuple[SearchResult, Any, dict[str, Any], str]
# Counting every source's products per day costs more as the range grows; beyond a year the
# option labels go without counts.
MAX_COUNT_DAYS = 366


class DashboardSession(param.Parameterized):
    """The backend of one session and the parts that views read and write."""

    backend = param.Parameter(default=None, doc="The Backend in use (catalog or remote API).")
    backend_name = param.String(default="", doc="What the backend is (a catalog path or an API URL).")
    backend_opening = param.Boolean(
        default=False, doc="The backend is still opening (e.g. the demo archive being built on a first run)."
    )
    form = param.ClassSelector(class_=QueryForm, instantiate=False, doc="The query inputs.")
    job = param.ClassSelector(class_=SearchJob, instantiate=False, doc="The running/last search.")
    results = param.ClassSelector(class_=Results, instantiate=False, doc="What the last search found.")
    basket = param.ClassSelector(class_=BasketState, instantiate=False, doc="Products collected across searches.")
    offline = param.ClassSelector(class_=KeepOffline, instantiate=False, doc="'Keep these results offline'.")
    view = param.Selector(default="table", objects=["table"], doc="The name of the view shown (a tab).")
    images = param.Parameter(default=None, doc="Where thumbnails and previews come from (an ImageSource), or None.")

    search = param.Event(label="Search")
    cancel = param.Event(label="Cancel")

    def __init__(self, backend: Any = None, *, view_names: Sequence[str] = ("table",), **params: Any) -> None:
        params.setdefault("form", QueryForm())
        params.setdefault("job", SearchJob())
        params.setdefault("results", Results())
        params.setdefault("basket", BasketState())
        params.setdefault("offline", KeepOffline())
        super().__init__(**params)
        self.param.view.objects = list(view_names)
        self.view = view_names[0]
        self.runner = BackgroundRunner()
        # The tab views by name (the app fills it), so that one view can hand over to another
        # (an Availability cell opens its night in the Night tab).
        self.tabs: dict[str, Any] = {}
        self._search_lane = self.runner.lane()
        self._lock = threading.Lock()
        # Search pressed while the backend was opening: run it once the backend is ready.
        self._search_when_open = False
        self.param.watch(lambda _e: self.run_search(), "search")
        self.param.watch(lambda _e: self.cancel_search(), "cancel")
        self.param.watch(self._on_backend_opened, "backend_opening")
        self._counts_lane = self.runner.lane()
        self.form.param.watch(self.count_sources, ["start", "end"])
        if backend is not None:
            self.set_backend(backend)

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
        # Only sources with data products are offered (not e.g. the THEMIS spacecraft, whose
        # records are ephemeris): the stats say which.
        sources = [s for s in backend.list_sources(include_stats=True) if has_data_products(s)]
        return sources, _metadata_vocabulary(backend, sources)

    def apply_backend(
        self, backend: Any, sources: list[DataSource], vocabulary: dict[str, list[Any]], name: str | None = None
    ) -> None:
        """Switch to a backend whose vocabulary was loaded with :meth:`load_vocabulary`."""
        self.cancel_search()
        old = self.backend
        with param.parameterized.batch_call_watchers(self):
            self.param.update(backend=backend, backend_name=name or str(getattr(backend, "name", "")))
            self.form.set_sources(sources, vocabulary)
        if old is not None and old is not backend:
            # Closing a broken backend must not hide the new one.
            with contextlib.suppress(Exception):
                old.close()
        self.count_sources()

    def count_sources(self, *_: Any) -> None:
        """Count each source's products in the form's days (off the event loop), for the option labels."""
        backend, form = self.backend, self.form
        if backend is None or not isinstance(backend, AvailabilityCounts) or form.check_times():
            self._counts_lane.reset()
            form.source_counts = {}
            return
        first, last = aware(form.start).date(), aware(form.end).date()
        if (last - first).days > MAX_COUNT_DAYS:
            self._counts_lane.reset()
            form.source_counts = {}
            return

        def work() -> dict[tuple[str, str, str], int]:
            counts: dict[tuple[str, str, str], int] = {}
            for answer in backend.availability(first, last):
                key = answer.data_source.key
                counts[key] = counts.get(key, 0) + sum(int(n) for n in answer.available_data_products.values())
            return counts

        def failed(exc: BaseException) -> None:
            _log.warning("counting products per source failed: %s", exc)
            form.source_counts = {}  # the labels go without counts; searching still works

        self._counts_lane.submit(work, lambda counts: setattr(form, "source_counts", counts), failed)

    def close(self) -> None:
        """The session is over: stop its search and close its backend."""
        self.cancel_search()
        if self.backend is not None:
            # Nobody is left to report a failing close to.
            with contextlib.suppress(Exception):
                self.backend.close()

    # --- time presets that ask the backend ------------------------------------------------------

    def newest_day(self) -> date | None:
        """The newest UTC day with data in the backend for the selected sources, if it can tell."""
        backend = self.backend
        form = self.form
        if backend is None:
            return None
        if isinstance(backend, TimeSpan) and not form.has_source_constraint():
            try:
                found = backend.time_span()
            except Exception:
                found = None
            if found and found[1] is not None:
                return parse_time(found[1]).date()
        if not isinstance(backend, AvailabilityCounts):
            return None
        today = datetime.now(UTC).date()
        kwargs = {}
        for name, key in (("programs", "program"), ("platforms", "platform"), ("instrument_types", "instrument_type")):
            chosen = getattr(form, name)
            if len(chosen) == 1:
                kwargs[key] = chosen[0]
        try:
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
            self.job.notice = "The backend did not report any day with data for the selected sources."
            return False
        self.form.set_days(day - timedelta(days=nights - 1), day)
        return True

    # --- running a search ----------------------------------------------------------------------

    def _on_backend_opened(self, *_: Any) -> None:
        if not self.backend_opening and self._search_when_open:
            self._search_when_open = False
            # Not when opening failed (the page says why), nor when a shared link's query is
            # already being searched.
            if self.backend is not None and not self.job.is_searching:
                self.run_search()

    def run_search(self) -> bool:
        """Validate, then start the search off the event loop; False when the inputs are invalid
        (or the backend is still opening: the search then runs as soon as it is open)."""
        job = self.job
        if self.backend is None and self.backend_opening:
            # The selectors have no data sources yet, so the query cannot be checked now.
            self._search_when_open = True
            job.remark("The backend is still opening: the search starts as soon as it is.")
            return False
        errors = self.form.check()
        self.form.field_errors = errors
        if errors:
            job.problem("Fix the query first", " ".join(errors.values()))
            return False
        if self.backend is None:
            job.problem("No backend", "Choose the embedded catalog or an AuroraX API URL.")
            return False
        query = self.form.to_query()
        token = job.start(self.backend_name)
        lane = self._search_lane
        generation = lane.begin()
        started = time.perf_counter()
        backend = self.backend
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            with self._lock:
                lines = pending[:]
                pending.clear()
            for line in lines:
                job.add_stage(line)

        def progress(event: SearchEvent) -> None:
            line = {"stage": event.stage, "message": event.message, "elapsed": time.perf_counter() - started}
            # Stages that arrive together reach the page in one update, not one round trip each.
            with self._lock:
                pending.append(line)
                first = len(pending) == 1
            if first:
                lane.post(generation, flush)

        def work() -> SearchAnswer:
            result = backend.search(query, progress=progress, cancel=token)
            # Built here, in the worker, so that large results do not stall the page's event loop.
            frame = products_to_dataframe(result.data)
            prepared = self.results.prepare_views(result, frame)
            # The advice may ask the backend for its newest day: also off the event loop.
            advice = "" if result.data else self._no_results_advice(result.query)
            return result, frame, prepared, advice

        def finish(answer: SearchAnswer) -> None:
            flush()
            result, frame, prepared, advice = answer
            elapsed = time.perf_counter() - started
            self.set_result(result, elapsed=elapsed, frame=frame, advice=advice, prepared=prepared)

        def fail(exc: BaseException) -> None:
            flush()
            job.failed(exc)

        lane.submit(work, finish, fail, pool="search", generation=generation)
        return True

    def cancel_search(self) -> None:
        """Cancel the running search now; its late answer is ignored."""
        self._search_lane.reset()
        self.job.cancel()

    def set_result(
        self,
        result: SearchResult,
        *,
        elapsed: float | None = None,
        frame: Any = None,
        advice: str | None = None,
        prepared: dict[str, Any] | None = None,
    ) -> None:
        """Show ``result``: its rows, the status line, and the permalink's pending selection."""
        count = len(result.data)
        took = result.elapsed_s or elapsed or 0.0
        notice = "" if count else (advice or self._no_results_advice(result.query))
        try:
            self.results.show(result, frame=frame, prepared=prepared)
        except Exception as exc:
            # A view that cannot show the rows must not leave the page "Searching…" for good.
            _log.exception("showing the search result failed")
            self.job.failed(exc)
            return
        self.job.succeeded(
            f"{count:,} product{'s' if count != 1 else ''} · {took:.2f} s · request {result.request_id}", notice
        )

    def results_match_form(self) -> bool:
        """Whether the results shown are those of the query the form describes now."""
        result = self.results.result
        if result is None or self.form.check():
            return False
        return self.form.to_query() == result.query

    def _no_results_advice(self, query: DataProductQuery) -> str:
        sources = self.form.matching_sources(query.programs, query.platforms, query.instrument_types)
        return no_results_advice(query, sources, self.backend, self.newest_day)

    # --- permalinks -----------------------------------------------------------------------------

    def to_permalink(self) -> dict[str, str]:
        """The URL query parameters that reproduce the query, table filters, view and selection."""
        out = {**self.form.to_permalink(), **self.results.to_permalink()}
        if self.view != self.param.view.objects[0]:
            out["view"] = self.view
        return out

    def apply_permalink(self, params: Mapping[str, str]) -> list[str]:
        """Restore the session from URL parameters; readable problems with the link (may be empty)."""
        problems = self.form.apply_permalink(params) + self.results.apply_permalink(params)
        if params.get("view") in self.param.view.objects:
            self.view = str(params["view"])
        return problems


def _metadata_vocabulary(backend: Any, sources: Sequence[DataSource]) -> dict[str, list[Any]]:
    """metadata key -> values: allowed ones from the sources' schemas, plus those the backend has."""
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
    if isinstance(backend, MetadataValues):
        try:
            found = backend.metadata_values()
        except Exception:
            found = {}
        for key, values in dict(found or {}).items():
            bucket = vocab.setdefault(str(key), [])
            for value in values:
                if value not in bucket:
                    bucket.append(value)
    return {k: sorted(v, key=str) for k, v in sorted(vocab.items())}
