"""No record text, however hostile, yields a path outside the destination (property-based)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from aurorax_core.bundle import plan_entries, relative_path, resolve_within
from aurorax_core.models import DataSource

from .helpers import product

SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$")
hostile = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        ["..", ".", "/", "../../etc/passwd", "/etc/shadow", "a/../../b", "C:\\Windows", "~", "$HOME", "\x00"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(program=hostile, platform=hostile, tail=hostile)
def test_every_component_is_safe_and_stays_inside(program: str, platform: str, tail: str) -> None:
    source = DataSource(1, program or "p", platform or "s", "RGB ASI")
    item = product("https://data.phys.ucalgary.ca/x/" + tail, source=source)
    rel = relative_path(item)
    parts = rel.split("/")
    assert len(parts) == 4
    assert all(SAFE.match(part) for part in parts), rel
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "dest"
        assert dest.resolve() in resolve_within(dest, rel).parents


@settings(max_examples=50, deadline=None)
@given(tails=st.lists(st.text(max_size=40), min_size=2, max_size=20))
def test_distinct_urls_never_share_a_path(tails: list[str]) -> None:
    items = [product(f"https://data.phys.ucalgary.ca/{i}/{tail}") for i, tail in enumerate(tails)]
    entries = plan_entries(items)
    paths = [e.path for e in entries]
    assert len(set(paths)) == len(paths) == len({p.url for p in items})
