"""What the night view shows, as one ``param.Parameterized`` (no Panel here), and its link.

``?view=night&night=2020-01-14&program=themis-asi&t=06:30:00`` plus the usual source parameters
(``program``, ``platform``, ``instrument_type``, comma-separated) and the view's own: ``instrument``
(the row set), ``sites`` (movie sites, up to 9), ``order=magnetic``, ``window=local``, ``elevation``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import param

from aurorax_core import QueryValidationError

from .geometry import clock

MAX_MOVIES = 9
WINDOWS = ("ut", "local")
ORDERS = ("geographic", "magnetic")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CODE = re.compile(r"^[A-Za-z0-9 _./-]{1,40}$")


class NightLinkError(QueryValidationError):
    """A night-view link (or typed value) that cannot be used; the message says what to write instead."""


def parse_night(text: str) -> date:
    """'2020-01-14' -> date.

    Raises:
        NightLinkError: not a YYYY-MM-DD calendar date.
    """
    value = str(text).strip()
    if not _DATE.match(value):
        raise NightLinkError(f"night {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2020-01-14")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise NightLinkError(
            f"night {value!r} is not a calendar date; write it as YYYY-MM-DD, e.g. 2020-01-14"
        ) from None


def parse_clock(text: str) -> int:
    """'06:30:00' (or '06:30') -> seconds of the UT day.

    Raises:
        NightLinkError: not HH:MM[:SS] between 00:00:00 and 23:59:59.
    """
    value = str(text).strip().upper().removesuffix("UT").strip()
    match = _CLOCK.match(value)
    hint = "write the UT time as HH:MM:SS between 00:00:00 and 23:59:59, e.g. t=06:30:00"
    if match is None:
        raise NightLinkError(f"time {text!r} is not a UT time; {hint}")
    h, m, s = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if h > 23 or m > 59 or s > 59:
        raise NightLinkError(f"time {text!r} does not exist; {hint}")
    return h * 3600 + m * 60 + s


def _split(raw: Any) -> list[str]:
    return [v for v in (part.strip() for part in str(raw or "").split(",")) if v]


class NightState(param.Parameterized):
    """The night, the sources, the cursor and the movie sites: everything the link carries."""

    night = param.CalendarDate(default=date(2020, 1, 1), doc="The night: the UT date of its daily keograms.")
    programs = param.List(default=[], item_type=str, doc="Source selection: AuroraX programs.")
    platforms = param.List(default=[], item_type=str, doc="Source selection: platforms (sites).")
    instrument_types = param.List(default=[], item_type=str, doc="Source selection: instrument types.")
    instrument = param.String(default="", doc="The instrument type of the row set ('' = the selection's first).")
    t = param.Integer(default=0, bounds=(0, 86399), doc="Cursor: seconds of the UT day.")
    sites = param.List(default=[], item_type=str, doc="Site codes whose movies play (at most 9).")
    order = param.Selector(default="geographic", objects=list(ORDERS))
    window = param.Selector(default="ut", objects=list(WINDOWS), doc="0-24 UT, or 18-18 local solar time.")
    min_elevation = param.Number(default=10.0, bounds=(0.0, 60.0), doc="Field-of-view circles: lowest elevation.")

    @param.depends("sites", watch=True)
    def _limit_sites(self) -> None:
        if len(self.sites) > MAX_MOVIES:
            self.sites = self.sites[:MAX_MOVIES]

    @property
    def cursor_text(self) -> str:
        return f"{clock(self.t)} UT"

    def toggle_site(self, code: str) -> bool:
        """Add the site to the movie grid or remove it; False when the grid is full (9)."""
        code = code.upper()
        if code in self.sites:
            self.sites = [s for s in self.sites if s != code]
            return True
        if len(self.sites) >= MAX_MOVIES:
            return False
        self.sites = [*self.sites, code]
        return True

    def to_params(self) -> dict[str, str]:
        """The link's query parameters (``view=night`` first)."""
        out: dict[str, str] = {"view": "night", "night": self.night.isoformat()}
        for field, key in (("programs", "program"), ("platforms", "platform"), ("instrument_types", "instrument_type")):
            if getattr(self, field):
                out[key] = ",".join(getattr(self, field))
        if self.instrument:
            out["instrument"] = self.instrument
        out["t"] = clock(self.t)
        if self.sites:
            out["sites"] = ",".join(self.sites)
        if self.order != "geographic":
            out["order"] = self.order
        if self.window != "ut":
            out["window"] = self.window
        if self.min_elevation != 10.0:
            out["elevation"] = f"{self.min_elevation:g}"
        return out

    def apply_params(self, params: Mapping[str, Any]) -> list[str]:
        """Apply a link's parameters; the parts that cannot be used are skipped and explained."""
        problems: list[str] = []
        values: dict[str, Any] = {}
        if params.get("night"):
            try:
                values["night"] = parse_night(params["night"])
            except NightLinkError as exc:
                problems.append(str(exc))
        if params.get("t"):
            try:
                values["t"] = parse_clock(params["t"])
            except NightLinkError as exc:
                problems.append(str(exc))
        if any(k in params for k in ("program", "platform", "instrument_type")):
            values["programs"] = _split(params.get("program"))
            values["platforms"] = _split(params.get("platform"))
            values["instrument_types"] = _split(params.get("instrument_type"))
        if "instrument" in params:
            values["instrument"] = str(params.get("instrument") or "").strip()
        if params.get("sites"):
            codes = [c.upper() for c in _split(params["sites"])]
            bad = [c for c in codes if not _CODE.match(c)]
            if bad:
                problems.append(f"sites: {', '.join(map(repr, bad))} are not site codes; use codes like GILL,FSMI")
            codes = list(dict.fromkeys(c for c in codes if c not in bad))
            if len(codes) > MAX_MOVIES:
                problems.append(f"sites: at most {MAX_MOVIES} movies play together; kept the first {MAX_MOVIES}")
            values["sites"] = codes[:MAX_MOVIES]
        for key, allowed in (("order", ORDERS), ("window", WINDOWS)):
            if params.get(key):
                value = str(params[key]).strip().lower()
                if value in allowed:
                    values[key] = value
                else:
                    problems.append(f"{key} {params[key]!r} is not one of {', '.join(allowed)}")
        if params.get("elevation"):
            try:
                elevation = float(params["elevation"])
                if not 0.0 <= elevation <= 60.0:
                    raise ValueError
                values["min_elevation"] = elevation
            except ValueError:
                problems.append(f"elevation {params['elevation']!r} is not a number of degrees between 0 and 60")
        self.param.update(**values)
        return problems

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> NightState:
        """A state from a link.

        Raises:
            NightLinkError: any parameter cannot be used (all problems in one message).
        """
        state = cls()
        problems = state.apply_params(params)
        if problems:
            raise NightLinkError("the night link cannot be used: " + "; ".join(problems))
        return state
