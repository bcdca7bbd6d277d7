"""Search progress (the stages the AuroraX tools print), Cancel, errors and notices."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from ..media import esc
from ..state import FIELD_NAMES
from .base import SessionView
from .style import html


class SearchStatus(SessionView):
    """Stage list with a spinner and a Cancel button while searching; an alert when something failed."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        job = self.session.job
        searching = job.param.is_searching
        self._spinner = pn.indicators.LoadingSpinner(value=searching, size=24, visible=searching)
        self._cancel = pn.widgets.Button(
            label="Cancel", color="warning", visible=searching, width=90, description="Cancel the running search"
        )
        self._cancel.on_click(lambda _e: self.session.param.trigger("cancel"))
        self._stages = html("", sizing_mode="stretch_width", margin=(0, 10))
        self._alert = html("", sizing_mode="stretch_width", visible=False, margin=(5, 10))
        self._stale = html("", sizing_mode="stretch_width", visible=False, margin=(0, 10))
        self.session.form.param.watch(self._render_stale, [*FIELD_NAMES, "field_errors"])
        self._render()
        self._render_stale()

    @param.depends("session.results.result", "session.job.is_searching", watch=True)
    def _render_stale(self, *_: Any) -> None:
        """Say when the rows shown are not what the form now asks for (e.g. after a bad typed date)."""
        session = self.session
        stale = session.results.result is not None and not session.job.is_searching and not session.results_match_form()
        self._stale.object = (
            '<p class="ax-stale" role="status">The results below are from the last search; they do not match '
            "the form any more. Fix the form if needed, then press Search.</p>"
            if stale
            else ""
        )
        self._stale.visible = stale

    @param.depends(
        "session.job.stages",
        "session.job.is_searching",
        "session.job.status",
        "session.job.error",
        "session.job.error_title",
        "session.job.notice",
        watch=True,
    )
    def _render(self) -> None:
        job = self.session.job
        items = []
        for line in job.stages:
            elapsed = line.get("elapsed")
            at = f' <span class="ax-dim">{elapsed * 1000:.0f} ms</span>' if isinstance(elapsed, float) else ""
            items.append(f'<li data-stage="{esc(line.get("stage"))}">{esc(line.get("message"))}{at}</li>')
        summary = esc(job.status)
        if job.is_searching and job.stages:
            summary += f' <span class="ax-dim">· {esc(job.stages[-1].get("message"))}</span>'
        if items:
            # One quiet line; the stages (what the AuroraX tools print) one click away.
            self._stages.object = (
                '<details class="ax-progress"><summary class="ax-status" role="status" aria-live="polite">'
                f"{summary}</summary>"
                f'<ol class="ax-stages" aria-label="Search progress">{"".join(items)}</ol></details>'
            )
        else:
            self._stages.object = f'<p class="ax-status" role="status" aria-live="polite">{summary}</p>'
        if job.error:
            self._alert.object = (
                '<div class="ax-alert ax-alert-error" role="alert">'
                f"<strong>{esc(job.error_title or 'Error')}</strong><p>{esc(job.error)}</p></div>"
            )
            self._alert.visible = True
        elif job.notice:
            self._alert.object = f'<div class="ax-alert ax-alert-info" role="status"><p>{esc(job.notice)}</p></div>'
            self._alert.visible = True
        else:
            self._alert.object = ""
            self._alert.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._spinner, self._cancel, self._stages, sizing_mode="stretch_width"),
            self._alert,
            self._stale,
            sizing_mode="stretch_width",
        )
