"""Search progress (the stages the AuroraX tools print), Cancel, errors and notices."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from ..media import esc
from ..state import DashboardState
from .style import html


class SearchStatus(pn.viewable.Viewer):
    """Stage list with a spinner and a Cancel button while searching; an alert when something failed."""

    state = param.ClassSelector(class_=DashboardState, instantiate=False)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        state = self.state
        self._spinner = pn.indicators.LoadingSpinner(value=False, size=24, visible=False)
        self._cancel = pn.widgets.Button(
            label="Cancel", color="warning", visible=False, width=90, description="Cancel the running search"
        )
        self._cancel.on_click(lambda _e: state.param.trigger("cancel"))
        self._stages = html("", sizing_mode="stretch_width", margin=(0, 10))
        self._alert = html("", sizing_mode="stretch_width", visible=False, margin=(5, 10))
        state.param.watch(self._render, ["stages", "is_searching", "status", "error", "error_title", "notice"])
        self._render()

    def _render(self, *_: Any) -> None:
        state = self.state
        self._spinner.value = state.is_searching
        self._spinner.visible = state.is_searching
        self._cancel.visible = state.is_searching
        items = []
        for line in state.stages:
            elapsed = line.get("elapsed")
            at = f' <span class="ax-dim">{elapsed * 1000:.0f} ms</span>' if isinstance(elapsed, float) else ""
            items.append(f'<li data-stage="{esc(line.get("stage"))}">{esc(line.get("message"))}{at}</li>')
        status = f'<p class="ax-status" role="status" aria-live="polite">{esc(state.status)}</p>'
        stages = f'<ol class="ax-stages" aria-label="Search progress">{"".join(items)}</ol>' if items else ""
        self._stages.object = status + stages
        if state.error:
            self._alert.object = (
                '<div class="ax-alert ax-alert-error" role="alert">'
                f"<strong>{esc(state.error_title or 'Error')}</strong><p>{esc(state.error)}</p></div>"
            )
            self._alert.visible = True
        elif state.notice:
            self._alert.object = f'<div class="ax-alert ax-alert-info" role="status"><p>{esc(state.notice)}</p></div>'
            self._alert.visible = True
        else:
            self._alert.object = ""
            self._alert.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._spinner, self._cancel, self._stages, sizing_mode="stretch_width"),
            self._alert,
            sizing_mode="stretch_width",
        )
