"""The night view's one custom component: stack, cursor, movies in step, map highlights and keys.

Python sends plain data (rows with data: URI images and escaped alt text, the axis, the movies with
their imaging span in seconds from the window's start, the map as escaped SVG); the browser sends
back the cursor (``cursor``, seconds from the window's start), ``playing``, ``speed`` and messages
for a site toggled (``{"type": "toggle", "code": ...}``) or a night step (``{"type": "nav", ...}``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import param
from panel.custom import JSComponent

_CSS = """
:host { display: block; width: 100%; }
.nv { font: inherit; color: inherit; }
.nv-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 0 0 8px 0; }
.nv-bar button, .nv-bar select { font: inherit; padding: 3px 10px; }
.nv-time { font-variant-numeric: tabular-nums; font-weight: 600; font-size: 1.1em; min-width: 9ch; }
.nv-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.nv-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.nv-stack { flex: 1 1 640px; min-width: 0; }
.nv-side { flex: 0 1 400px; min-width: 280px; display: flex; flex-direction: column; gap: 10px; }
.nv-track-area { position: relative; outline: none; }
.nv-track-area:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
.nv-axis { position: relative; height: 18px; margin-left: 210px; font-size: 11px; opacity: 0.85; }
.nv-tick { position: absolute; transform: translateX(-50%); font-variant-numeric: tabular-nums; }
.nv-axis-top .nv-tick { bottom: 1px; } .nv-axis-bottom .nv-tick { top: 1px; }
.nv-axis-title { position: absolute; right: 100%; margin-right: 8px; white-space: nowrap; opacity: 0.8; }
.nv-axis-top { border-bottom: 1px solid rgba(128,128,128,0.6); }
.nv-axis-bottom { border-top: 1px solid rgba(128,128,128,0.6); }
.nv-row { display: flex; align-items: stretch; height: 34px; border-bottom: 1px solid rgba(128,128,128,0.25); }
.nv-row.nv-none { height: 16px; }
.nv-row.nv-lit .nv-label { background: rgba(230,159,0,0.35); }
.nv-label { flex: 0 0 210px; width: 210px; box-sizing: border-box; text-align: left; font: inherit; font-size: 12px;
  background: none; color: inherit; border: none; border-left: 4px solid transparent; padding: 0 6px; cursor: pointer;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.nv-label[aria-pressed="true"] { border-left-color: #0072b2; font-weight: 600; }
.nv-label:focus-visible { outline: 2px solid #0072b2; outline-offset: -2px; }
.nv-none .nv-label { font-size: 10px; opacity: 0.75; }
.nv-label { display: flex; flex-direction: column; justify-content: center; line-height: 1.15; }
.nv-l1, .nv-lat { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.nv-lat { opacity: 0.75; font-variant-numeric: tabular-nums; font-size: 11px; }
.nv-none .nv-label { flex-direction: row; justify-content: flex-start; align-items: center; }
.nv-lane { position: relative; flex: 1 1 auto; overflow: hidden; background: #fff;
  box-shadow: inset 0 0 0 1px rgba(128,128,128,0.5); cursor: crosshair; }
.nv-none .nv-lane { background: repeating-linear-gradient(45deg, rgba(128,128,128,0.15) 0 4px, transparent 4px 8px); }
.nv-keo, .nv-missing { position: absolute; top: 0; height: 100%; display: block; }
.nv-keo { object-fit: fill; image-rendering: auto; }
.nv-missing { box-sizing: border-box; border: 1px dashed #d55e00; color: #d55e00; font-size: 11px; padding: 2px 6px;
  background: rgba(213,94,0,0.08); overflow: hidden; white-space: nowrap; }
.nv-loading { border: none; background: linear-gradient(90deg, rgba(128,128,128,0.10), rgba(128,128,128,0.25),
  rgba(128,128,128,0.10)); }
.nv-nodata { position: absolute; left: 6px; top: 0; font-size: 10px; line-height: 16px; opacity: 0.85; color: inherit; }
.nv-overlay { position: absolute; inset: 0; pointer-events: none; }
.nv-cursor { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px solid #d55e00; }
.nv-hover { position: absolute; top: 18px; bottom: 18px; width: 0; display: none;
  border-left: 1px dashed rgba(128,128,128,0.9); }
.nv-tip { position: absolute; display: none; font-size: 11px; padding: 1px 4px; border-radius: 3px;
  background: rgba(20,20,20,0.85); color: #fff; white-space: nowrap; font-variant-numeric: tabular-nums; }
.nv-map svg { width: 100%; height: auto; display: block; }
.nv-map .nv-coast { fill: none; stroke: currentColor; stroke-opacity: 0.55; stroke-width: 0.7; }
.nv-map .nv-border { fill: none; stroke: currentColor; stroke-opacity: 0.3; stroke-width: 0.5; stroke-dasharray: 2 2; }
.nv-map .nv-graticule { fill: none; stroke: currentColor; stroke-opacity: 0.12; stroke-width: 0.5; }
.nv-map .nv-fov { fill: #56b4e9; fill-opacity: 0.10; stroke: #56b4e9; stroke-opacity: 0.7; stroke-width: 0.8; }
.nv-map .nv-site { cursor: pointer; outline: none; }
.nv-map .nv-site circle.nv-dot { fill: #009e73; stroke: currentColor; stroke-width: 0.6; }
.nv-map .nv-site.nv-empty circle.nv-dot { fill: none; stroke-dasharray: 1.5 1.5; }
.nv-map .nv-site text { font-size: 9px; fill: currentColor; }
.nv-map .nv-site.nv-chosen circle.nv-dot { fill: #0072b2; r: 5; }
.nv-map .nv-site.nv-lit circle.nv-dot, .nv-map .nv-site:focus-visible circle.nv-dot { fill: #e69f00; r: 6; }
.nv-map .nv-site.nv-lit .nv-fov { fill: #e69f00; fill-opacity: 0.25; stroke: #e69f00; }
.nv-map .nv-site.nv-lit text { font-weight: 700; }
.nv-movies { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 8px; }
.nv-movie { margin: 0; font-size: 11px; }
.nv-movie video { width: 100%; aspect-ratio: 1; background: #000; display: block; }
.nv-movie input[type=range] { width: 100%; margin: 2px 0 0 0; }
.nv-movie-title { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.nv-movie-time { font-variant-numeric: tabular-nums; }
.nv-badge { font-size: 9px; font-weight: 400; color: #e69f00; display: block; }
.nv-map .nv-caption { font-size: 9px; fill: currentColor; opacity: 0.75; }
.nv-movie-missing { aspect-ratio: 1; display: flex; align-items: center; justify-content: center; text-align: center;
  border: 1px dashed #d55e00; color: #d55e00; padding: 6px; box-sizing: border-box; }
.nv-keys { position: fixed; right: 24px; top: 80px; z-index: 50; padding: 12px 18px; border-radius: 6px;
  background: rgba(25,25,25,0.95); color: #fff; box-shadow: 0 4px 16px rgba(0,0,0,0.4); }
.nv-keys[hidden] { display: none; }
.nv-keys h3 { margin: 0 0 6px 0; font-size: 14px; }
.nv-keys dl { display: grid; grid-template-columns: auto auto; gap: 2px 14px; margin: 0; font-size: 12px; }
.nv-keys dt { font-weight: 700; } .nv-keys dd { margin: 0; }
"""


class NightCanvas(JSComponent):
    """The stack with its cursor, the movie grid and the map, drawn and driven in the browser."""

    axis = param.Dict(default={}, doc="{start_ms, seconds, ticks: [{f, top, bottom}], top_title, bottom_title}")
    rows = param.List(default=[], doc="[{code, name, lat, status, note, images: [{src, left, width, alt, hourly}]}]")
    movies = param.List(default=[], doc="[{code, title, src, t0, t1, frames, reason}] (t0/t1: s from window start)")
    chosen = param.List(default=[], doc="Site codes whose movies are shown.")
    map_svg = param.String(default="", doc="The map as SVG markup (escaped in Python).")
    cursor = param.Number(default=0.0, doc="Seconds from the window's start; set by both sides.")
    playing = param.Boolean(default=False)
    speed = param.Number(default=1.0)

    _esm = Path(__file__).with_name("canvas.js")
    _stylesheets = [_CSS]  # noqa: RUF012  (Panel reads this class attribute)

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._on_message = on_message

    def _handle_msg(self, msg: Any) -> None:
        if self._on_message is not None and isinstance(msg, dict):
            self._on_message(msg)
