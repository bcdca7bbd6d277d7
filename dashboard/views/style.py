"""Page styles. Panel renders every component in its own shadow root, where page-level CSS does
not reach, so HTML panes get these rules through their ``stylesheets``; colours follow the
session's theme (``?theme=dark``) with contrast of at least 4.5:1 for text."""

from __future__ import annotations

from typing import Any

import panel as pn

ACCENT = "#0072b2"  # Okabe-Ito blue: readable on white and on the dark theme's background


def css(dark: bool) -> str:
    error_bg, error_fg = ("#4a1010", "#ffd9d6") if dark else ("#fdecea", "#611a15")
    info_bg, info_fg = ("#0d2b45", "#d6ecff") if dark else ("#e8f2fb", "#0b3556")
    warn_bg, warn_fg = ("#3f3000", "#ffe9a8") if dark else ("#fff4d6", "#5a4300")
    error_text = "#ff9e96" if dark else "#b00020"
    return f"""
    :host {{ --ax-error: {error_text}; }}
    .ax-alert {{ border-radius: 6px; padding: 8px 12px; margin: 4px 0; }}
    .ax-alert p {{ margin: 4px 0 0 0; }}
    .ax-alert-error {{ background: {error_bg}; color: {error_fg}; border-left: 5px solid {error_text}; }}
    .ax-alert-info {{ background: {info_bg}; color: {info_fg}; border-left: 5px solid {ACCENT}; }}
    .ax-alert-warn {{ background: {warn_bg}; color: {warn_fg}; border-left: 5px solid #e69f00; }}
    .ax-field-error {{ color: {error_text}; }}
    .ax-badge {{ background: {warn_bg}; color: {warn_fg}; padding: 4px 8px; border-radius: 4px; }}
    .ax-dim {{ opacity: 0.85; }}
    .ax-h {{ font-size: 1.05em; margin: 10px 0 4px 0; }}
    .ax-stages {{ margin: 4px 0; padding-left: 1.4em; font-size: 0.9em; }}
    .ax-status {{ margin: 4px 0; font-weight: 600; }}
    .ax-progress summary {{ cursor: pointer; }}
    .ax-progress summary::marker {{ color: {ACCENT}; }}
    .ax-stale {{ margin: 2px 0; padding: 4px 8px; border-left: 5px solid #e69f00; background: {warn_bg};
                color: {warn_fg}; }}
    .ax-meta {{ border-collapse: collapse; font-size: 0.9em; margin: 0; }}
    .ax-meta caption {{ text-align: left; font-weight: 600; padding: 4px 0; }}
    .ax-meta th, .ax-meta td {{ text-align: left; padding: 2px 8px; border-bottom: 1px solid #8884;
                               overflow-wrap: anywhere; }}
    /* Previews fill the preview column, keep their aspect ratio, and sit in a visible frame on a
       neutral backdrop (white no-data columns of keograms would vanish into a white page). */
    .ax-full {{ display: block; width: 100%; height: auto; box-sizing: border-box;
               border: 1px solid #8a8a8a; background: #2b2b2b; padding: 2px; }}
    .ax-inert-url {{ font-family: monospace; overflow-wrap: anywhere; }}
    .ax-original {{ overflow-wrap: anywhere; }}
    /* A keogram's UT axis: ticks at the hours' positions under the image (inset by its frame). */
    .ax-keogram {{ margin: 0; }}
    .ax-axis {{ position: relative; height: 24px; margin: 0 3px; border-top: 1px solid #8a8a8a; }}
    .ax-tick {{ position: absolute; top: 0; height: 6px; border-left: 1px solid currentColor; }}
    .ax-tick-label {{ position: absolute; top: 6px; transform: translateX(-50%); font-size: 0.8em; }}
    .ax-axis-title {{ font-size: 0.85em; margin: 2px 0 6px 0; }}
    .ax-nodata-key {{ display: inline-block; width: 12px; height: 12px; background: #fff; vertical-align: -2px;
                     border: 1px solid #8a8a8a; outline: 1px solid #2b2b2b; margin-left: 6px; }}
    a {{ color: {"#8cc8ff" if dark else "#0a58a6"}; }}
    """


def html(text: str = "", **params: Any) -> pn.pane.HTML:
    """An HTML pane that carries the dashboard's styles (for the current session's theme)."""
    sheets = [css(pn.config.theme == "dark"), *params.pop("stylesheets", [])]
    return pn.pane.HTML(text, stylesheets=sheets, **params)
