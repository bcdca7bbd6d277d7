"""A "Copy link" button: puts the page's permalink (the URL, kept in step with the session) on the clipboard."""

from __future__ import annotations

from panel.custom import JSComponent

_ESM = r"""
export function render({ el }) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "ax-copy";
  b.textContent = "Copy link";
  b.title = "Copy a link to this search, its filters and the open product";
  const said = document.createElement("span");
  said.className = "ax-said";
  said.setAttribute("role", "status");
  el.append(b, said);
  b.addEventListener("click", async () => {
    const url = window.location.href;
    try {
      await navigator.clipboard.writeText(url);
      said.textContent = "Link copied";
    } catch (e) {
      // No clipboard permission (e.g. plain http on another host): show the link to copy by hand.
      window.prompt("Copy this link:", url);
      said.textContent = "";
    }
    setTimeout(() => { said.textContent = ""; }, 2500);
  });
}
"""


class CopyLink(JSComponent):
    _esm = _ESM

    _stylesheets = [  # noqa: RUF012  (Panel reads this class attribute)
        """
        :host { display: flex; align-items: center; }
        .ax-copy { font: inherit; padding: 4px 12px; border-radius: 4px; cursor: pointer; color: #fff;
                   background: transparent; border: 1px solid #fff; }
        .ax-copy:focus-visible { outline: 3px solid #fff; outline-offset: 2px; }
        .ax-said { margin-left: 8px; color: #fff; font-size: 0.9em; }
        """
    ]
