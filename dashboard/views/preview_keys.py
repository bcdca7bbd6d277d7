"""The preview's keyboard: j/k or ↓/↑ through the results, Esc closes, ? lists the keys.

One window-level listener per page (keys typed into a field are left alone). The browser sends
the key's meaning to the server; ←/→ and space belong to the movie player (``player.py``).
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

KEYS: tuple[tuple[str, str], ...] = (
    ("j or ↓", "next product (in the results' order)"),
    ("k or ↑", "previous product"),
    ("← / →", "previous / next movie frame"),
    ("space", "play / pause the movie"),
    ("Esc", "close the preview (or this list)"),
    ("?", "show / hide these keys"),
)

_ESM = r"""
const EDITABLE = new Set(["INPUT", "TEXTAREA", "SELECT"]);
function typing(e) {
  const t = e.composedPath ? e.composedPath()[0] : e.target;
  return !!t && (EDITABLE.has(t.tagName) || t.isContentEditable);
}
export function render({ model, el }) {
  const help = document.createElement("div");
  help.className = "ax-keys";
  help.setAttribute("role", "dialog");
  help.setAttribute("aria-label", "Keyboard shortcuts");
  help.hidden = true;
  const h = document.createElement("h2");
  h.textContent = "Keyboard shortcuts";
  const dl = document.createElement("dl");
  for (const [k, what] of model.keys) {
    const dt = document.createElement("dt"); const kbd = document.createElement("kbd");
    kbd.textContent = k; dt.appendChild(kbd);
    const dd = document.createElement("dd"); dd.textContent = what;
    dl.append(dt, dd);
  }
  const close = document.createElement("button");
  close.type = "button"; close.textContent = "Close";
  close.addEventListener("click", () => { help.hidden = true; });
  help.append(h, dl, close);
  el.appendChild(help);
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    let action = null;
    if (e.key === "?") { help.hidden = !help.hidden; e.preventDefault(); return; }
    if (e.key === "Escape" && !help.hidden) { help.hidden = true; e.preventDefault(); return; }
    if (e.key === "j" || (e.key === "ArrowDown" && model.open)) action = "next";
    else if (e.key === "k" || (e.key === "ArrowUp" && model.open)) action = "previous";
    else if (e.key === "Escape" && model.open) action = "close";
    if (action) {
      e.preventDefault();
      window.__axKeyAt = performance.now();
      model.send_msg({ action });
    }
  }
  window.addEventListener("keydown", onKey);
  model.on("remove", () => window.removeEventListener("keydown", onKey));
}
"""


class PreviewKeys(JSComponent):
    """Sends ``{"action": "next" | "previous" | "close"}`` for the keys; shows the key list on ``?``."""

    open = param.Boolean(default=False, doc="A preview is open (the arrow keys and Esc act only then).")
    keys = param.List(default=[list(k) for k in KEYS], constant=True)

    _esm = _ESM

    _stylesheets = [  # noqa: RUF012  (Panel reads this class attribute)
        """
        .ax-keys { position: fixed; right: 24px; bottom: 24px; z-index: 1000; max-width: 360px;
                   padding: 12px 16px; border-radius: 8px; border: 1px solid #8a8a8a;
                   background: var(--panel-background-color, #fff); color: var(--panel-on-background-color, #222);
                   box-shadow: 0 4px 16px #0006; }
        .ax-keys h2 { font-size: 1em; margin: 0 0 6px 0; }
        .ax-keys dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0 0 8px 0; }
        .ax-keys dd { margin: 0; }
        .ax-keys kbd { font-family: monospace; border: 1px solid #8a8a8a; border-radius: 3px; padding: 0 4px; }
        """
    ]
