"""The base of every dashboard view: a ``pn.viewable.Viewer`` constructed with the session."""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn
import param

from ..state import DashboardSession


class SessionView(pn.viewable.Viewer):
    """A view of one session. Subclasses read the parts they need (``session.form``, ``.job``,
    ``.results``, ``.runner``, ``.images``) and bind to their parameters with
    ``param.depends("session.results.selected_index", watch=True)``, ``from_param`` or ``pn.bind``.

    A view shown as a tab also declares (see ``views/registry.py``):

    - ``name = param.String(default="availability", constant=True)``: its name in ``?view=``;
    - ``title``: its tab title;
    - ``needs``: the session parts it reads (checked when it is registered);
    - ``permalink``: names of its own parameters kept in the page URL (optional).
    """

    session = param.ClassSelector(class_=DashboardSession, instantiate=False)

    title: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    permalink: ClassVar[tuple[str, ...]] = ()
    # True: a served page gets this view right after it has loaded (unless a link shows it), which
    # keeps it out of the first document. Not for views whose widgets a quick first click would
    # change before the browser built them (the Night tab), nor for those that must be there at once.
    deferred: ClassVar[bool] = False

    def __init__(self, session: DashboardSession | None = None, **params: Any) -> None:
        if session is not None:
            params["session"] = session
        super().__init__(**params)
