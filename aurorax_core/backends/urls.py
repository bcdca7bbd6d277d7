"""Which record URLs a catalog accepts (every engine): http and https only.

A data product's URL reaches pages (the dashboard's links and previews, API clients that render
records), so a URL that names any other scheme (``javascript:``, ``data:``, ``vbscript:``,
``file:``, ...) is refused at ingest and upload. Browsers drop leading spaces and control
characters and ignore tabs and newlines inside a URL before reading its scheme
(``"java\\tscript:"`` is ``javascript:`` to them), and so does this check. A reference without a
scheme (``test.jpg``, as in AuroraX's own upload example, PROTOCOL §4) names no scheme to run
and is accepted: a page resolves it against its own http(s) address.
"""

from __future__ import annotations

import re
from typing import Final

ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_IGNORED_INSIDE: Final = str.maketrans("", "", "\t\n\r")
_LEADING: Final = "".join(chr(c) for c in range(0x21))


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a record's URL, or None when it can."""
    if url.startswith(("https://", "http://")):  # almost every record: nothing more to look at
        return None
    cleaned = url.lstrip(_LEADING).translate(_IGNORED_INSIDE)
    match = _SCHEME_RE.match(cleaned)
    if match is None or match.group(1).lower() in ALLOWED_SCHEMES:
        return None
    return (
        f"URL scheme {match.group(1).lower()!r} is not allowed; a data product's URL must be an http:// or "
        "https:// address"
    )
