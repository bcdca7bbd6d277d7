"""The grid in the browser: one JSON text in, click/drag messages out (``grid.js``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import param
from panel.custom import JSComponent

_CSS = """
:host { display: block; width: 100%; }
.av-wrap { position: relative; font: inherit; color: inherit; }
.av-caption { font-weight: 600; margin: 2px 0; }
.av-hint { font-size: 0.85em; opacity: 0.8; margin: 0 0 6px 0; }
.av-legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 0 0 8px 0; padding: 0;
  font-size: 0.82em; }
.av-key { display: flex; align-items: center; gap: 5px; }
.av-note { font-size: 0.82em; margin: 0 0 6px 0; opacity: 0.85; }
.av-body { display: flex; align-items: flex-start; }
.av-labels { flex: 0 0 210px; width: 210px; font-size: 12px; }
.av-corner { height: 34px; line-height: 46px; font-size: 11px; opacity: 0.75; }
.av-group { height: 24px; line-height: 30px; font-weight: 600; font-size: 12px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.av-label { height: 18px; line-height: 18px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  padding-left: 8px; }
.av-scroll { flex: 1 1 auto; overflow-x: auto; min-width: 0; }
.av-stage { position: relative; }
.av-stage canvas { position: absolute; left: 0; top: 0; }
.av-over { cursor: pointer; outline: none; touch-action: none; }
.av-over:focus-visible { outline: 3px solid #e69f00; outline-offset: 1px; }
.av-tip { position: absolute; z-index: 5; pointer-events: none; max-width: 300px; font-size: 12px; line-height: 1.35;
  padding: 6px 8px; border-radius: 4px; background: rgba(20,20,20,0.92); color: #fff;
  border: 1px solid rgba(255,255,255,0.45); box-shadow: 0 2px 8px rgba(0,0,0,0.35); }
.av-tip div:first-child { font-weight: 600; }
.av-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
"""


class AvailabilityCanvas(JSComponent):
    """The legend, the row labels and the cells; record text reaches the page as text only."""

    payload = param.String(default="", doc="The grid as JSON (grid.payload); empty: nothing drawn.")

    _esm = Path(__file__).with_name("grid.js")
    _stylesheets = [_CSS]  # noqa: RUF012  (Panel reads this class attribute)

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._on_message = on_message

    def _handle_msg(self, msg: Any) -> None:
        if self._on_message is not None and isinstance(msg, dict):
            self._on_message(msg)
