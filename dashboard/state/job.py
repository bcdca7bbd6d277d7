"""The search job of a session: is it running, its stages, and how it ended (status, error, notice)."""

from __future__ import annotations

from typing import Any

import param

from aurorax_core import CancelToken

from .errors import friendly_error


class SearchJob(param.Parameterized):
    """Progress and outcome of the running (or last) search; the page's status line and alerts."""

    is_searching = param.Boolean(default=False)
    stages = param.List(default=[], doc="Progress lines of the running/last search: dicts stage/message/elapsed.")
    status = param.String(default="")
    error_title = param.String(default="")
    error = param.String(default="")
    notice = param.String(default="", doc="A non-error remark, e.g. how to widen a search with no results.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._token: CancelToken | None = None

    def start(self, backend_name: str) -> CancelToken:
        """A new search begins (an earlier one still running is cancelled); its cancel token."""
        if self._token is not None:
            self._token.cancel()
        self._token = CancelToken()
        self.param.update(
            is_searching=True,
            error="",
            error_title="",
            notice="",
            status=f"Searching {backend_name} ...",
            stages=[{"stage": "created", "message": "Search object created", "elapsed": 0.0}],
        )
        return self._token

    def add_stage(self, line: dict[str, Any]) -> None:
        # The page already shows "Search object created" from the moment Search was pressed.
        if line["stage"] == "created" and any(s["stage"] == "created" for s in self.stages):
            return
        self.stages = [*self.stages, line]

    def succeeded(self, status: str, notice: str) -> None:
        self._token = None
        self.param.update(is_searching=False, notice=notice, status=status)

    def failed(self, exc: BaseException) -> None:
        self._token = None
        title, message = friendly_error(exc)
        self.param.update(
            is_searching=False,
            error_title=title,
            error=message,
            status=title + ".",
            stages=[*self.stages, {"stage": "error", "message": title, "elapsed": None}],
        )

    def cancel(self) -> bool:
        """Cancel the running search now; False when none was running."""
        token, self._token = self._token, None
        if token is None:
            return False
        token.cancel()
        self.param.update(
            is_searching=False,
            status="Search cancelled.",
            stages=[*self.stages, {"stage": "cancelled", "message": "Search cancelled", "elapsed": None}],
        )
        return True

    def problem(self, title: str, message: str) -> None:
        """Show an alert that is not a search failure (an invalid query, a bad link)."""
        self.param.update(error_title=title, error=message, notice="")

    def remark(self, notice: str) -> None:
        """Show a non-error remark (and clear an old alert)."""
        self.param.update(error="", error_title="", notice=notice)
