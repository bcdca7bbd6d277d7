"""Moved to :mod:`aurorax_core.sky` (the core owns when a site is dark enough to image); these names
stay importable from here for code written against the demo module."""

from __future__ import annotations

from ..sky import (
    IMAGING_SUN_ELEVATION,
    DarkInterval,
    dark_interval,
    dark_minutes,
    declination,
    equation_of_time,
    julian_day,
    solar_elevation,
    solar_midnight,
)

__all__ = [
    "IMAGING_SUN_ELEVATION",
    "DarkInterval",
    "dark_interval",
    "dark_minutes",
    "declination",
    "equation_of_time",
    "julian_day",
    "solar_elevation",
    "solar_midnight",
]
