"""Availability: every selected source on every day (week, month) of the range, with a status.

``grid.py`` lays out the core's ``aurorax_core.availability(..., expected=True)`` answer (no
Panel); ``component.py`` + ``grid.js`` draw it in the browser; ``view.py`` is the tab.
"""

from __future__ import annotations

from .grid import AvailabilityGrid, GridCell, GridColumn, GridRow, availability_grid
from .view import AvailabilityView

__all__ = ["AvailabilityGrid", "AvailabilityView", "GridCell", "GridColumn", "GridRow", "availability_grid"]
