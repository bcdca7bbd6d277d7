"""The views shown as tabs, in tab order: the app, its tabs and ``?view=`` come from this list.

The contract for a view (one file in ``dashboard/views/`` plus one entry in ``VIEWS``):

1. A ``SessionView`` subclass (a ``pn.viewable.Viewer``), constructed as ``View(session=session)``.
2. It declares ``name = param.String(default="night", constant=True)`` (its name in ``?view=night``;
   lower-case, unique), ``title: ClassVar[str] = "Night"`` (the tab title) and
   ``needs: ClassVar[tuple[str, ...]]``: the session parts it reads, any of ``form``, ``job``,
   ``results``, ``runner``, ``images``, ``backend``, ``basket``, ``offline``.
3. It reads what it needs from those parts and binds to their parameters
   (``param.depends("session.form.start", watch=True)``, ``from_param``, ``pn.bind``); blocking work
   (backend calls, images) goes through a lane of ``session.runner`` (``dashboard/runner.py``).
4. Optionally ``permalink: ClassVar[tuple[str, ...]]``: names of its own parameters that the page
   URL keeps (``?<name>=<value>``; strings as they are, other values as JSON).
5. ``__panel__`` returns its layout. ``session.view == name`` while its tab is shown.

The first entry is the default view (left out of permalinks).
"""

from __future__ import annotations

from .availability import AvailabilityView
from .base import SessionView
from .basket import BasketView
from .export import ExportPanel
from .gallery import Gallery
from .night import NightTab
from .results_table import ResultsTable

VIEWS: tuple[type[SessionView], ...] = (ResultsTable, Gallery, NightTab, AvailabilityView, BasketView, ExportPanel)

SESSION_PARTS = frozenset({"form", "job", "results", "runner", "images", "backend", "basket", "offline"})


def view_names(views: tuple[type[SessionView], ...] = VIEWS) -> list[str]:
    """The views' names (``?view=``), in tab order.

    Raises:
        ValueError: two views share a name, a name is missing, or a view needs an unknown part.
    """
    names: list[str] = []
    for view in views:
        name = view.name
        if not name or name == view.__name__ or name in names:
            raise ValueError(f"view {view.__name__} needs a unique name (name = param.String(default=...))")
        unknown = set(view.needs) - SESSION_PARTS
        if unknown:
            raise ValueError(f"view {view.__name__} needs unknown session parts {sorted(unknown)}")
        names.append(name)
    return names
