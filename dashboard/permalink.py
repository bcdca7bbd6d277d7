"""Keep the page URL and the session in step: restore a shared link, then follow every change.

The keys come from their owners: the query fields' table (``state/fields.py``), the results
(``table``, ``product``), the session (``view``) and each view's own ``permalink`` parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import panel as pn

from .state import FIELD_NAMES, DashboardSession
from .state.fields import QUERY_FIELDS, QUERY_LINK_KEYS
from .views.base import SessionView

# Keys of a link that are not query fields or view parameters: theme (Panel's), results, view.
_OTHER_KEYS = frozenset({"theme", "table", "product", "view"})

# What changes the URL besides the query fields (``result``: a finished search makes a pending
# product selection concrete).
_RESULTS_KEYS = ("table_filters", "selected_index", "result")


def view_permalink(views: Sequence[SessionView]) -> dict[str, str]:
    """The URL parameters the views own (left out while at their defaults)."""
    out: dict[str, str] = {}
    for view in views:
        for name in view.permalink:
            value = getattr(view, name)
            if value != view.param[name].default:
                out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


def apply_view_permalink(views: Sequence[SessionView], params: Mapping[str, str]) -> list[str]:
    """Set the views' own parameters from a link; readable problems (may be empty)."""
    problems = []
    for view in views:
        for name in view.permalink:
            if name not in params:
                continue
            text = str(params[name])
            try:
                value: Any = text if isinstance(view.param[name].default, str) else json.loads(text)
                setattr(view, name, value)
            except ValueError as exc:
                problems.append(f"link parameter {name}: {exc}")
    return problems


class PermalinkSync:
    """Once the backend is known: apply the page URL's query, then keep the URL in sync."""

    def __init__(self, session: DashboardSession, views: Sequence[SessionView]) -> None:
        self._session = session
        self._views = list(views)
        self._started = False

    def start(self) -> None:
        location = pn.state.location
        if location is None or self._started:
            return
        self._started = True
        session = self._session
        params = dict(parse_qsl((location.search or "").lstrip("?")))
        theme = params.get("theme")
        first_visit = not any(params.get(k) for k in QUERY_LINK_KEYS)
        if first_visit:
            # A first visit starts from the documentation's example, already searched: the first
            # screen shows aurora, not an empty table.
            session.form.preset_example_day()
        problems = session.apply_permalink(params) + apply_view_permalink(self._views, params)
        known = {f.link for f in QUERY_FIELDS} | _OTHER_KEYS | {n for v in self._views for n in v.permalink}
        unknown = sorted(k for k in params if k not in known)
        searching = False
        if problems:
            session.job.problem("Part of the link could not be used", "; ".join(problems))
        elif (first_visit or params.get("start")) and session.backend is not None and not session.form.check():
            searching = True
            session.param.trigger("search")
        if unknown:
            self._report_unknown(unknown, sorted(known), after_search=searching)

        def update(*_: Any) -> None:
            if session.job.is_searching and session.results.result is None:
                return
            query = {**session.to_permalink(), **view_permalink(self._views)}
            if theme:
                query["theme"] = theme
            search = "?" + urlencode(query)
            if location.search != search:
                location.search = search

        session.form.param.watch(update, list(FIELD_NAMES))
        session.results.param.watch(update, list(_RESULTS_KEYS))
        session.param.watch(update, ["view"])
        for view in self._views:
            if view.permalink:
                view.param.watch(update, list(view.permalink))
        update()

    def _report_unknown(self, unknown: list[str], known: list[str], *, after_search: bool) -> None:
        """Say which link parameters were not understood: now, or once the link's search has
        finished (its start clears remarks; it may start later, when the backend is ready)."""
        job = self._session.job
        note = (
            f"The link's parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"{'were' if len(unknown) > 1 else 'was'} not understood and ignored (known: {', '.join(known)})."
        )

        def add() -> None:
            job.notice = f"{job.notice} {note}".strip()

        if not after_search:
            add()
            return

        def once(event: Any) -> None:
            if event.old and not event.new:
                job.param.unwatch(watcher)
                add()

        watcher = job.param.watch(once, "is_searching")
