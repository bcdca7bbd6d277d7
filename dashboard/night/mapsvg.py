"""The map of the stack's sites as SVG: coastlines and borders, fields of view, site markers.

Orthographic projection centred on the sites, fitted to their fields of view. Coastlines come from
``aurorax_core.coastlines()`` (Natural Earth 1:50m, shipped with the project; no tiles, no network).
Every piece of record text (site code, name) is escaped here, the only place the SVG is made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from aurorax_core import coastlines, fov_radius_deg

from ..media import esc

WIDTH, HEIGHT = 400, 300


@dataclass(frozen=True, slots=True)
class MapSite:
    code: str
    name: str
    latitude: float
    longitude: float
    has_data: bool = True


class _Ortho:
    def __init__(self, lat0: float, lon0: float) -> None:
        self.phi0, self.lam0 = math.radians(lat0), math.radians(lon0)
        self.sin0, self.cos0 = math.sin(self.phi0), math.cos(self.phi0)

    def __call__(self, lat: float, lon: float) -> tuple[float, float] | None:
        phi, lam = math.radians(lat), math.radians(lon) - self.lam0
        cosc = self.sin0 * math.sin(phi) + self.cos0 * math.cos(phi) * math.cos(lam)
        if cosc < 0.05:
            return None  # the far side of the globe
        x = math.cos(phi) * math.sin(lam)
        y = self.cos0 * math.sin(phi) - self.sin0 * math.cos(phi) * math.cos(lam)
        return x, -y


def _circle(lat: float, lon: float, radius: float, steps: int = 48) -> list[tuple[float, float]]:
    out = []
    phi1, lam1, d = math.radians(lat), math.radians(lon), math.radians(radius)
    for i in range(steps):
        b = 2 * math.pi * i / steps
        phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(b))
        lam2 = lam1 + math.atan2(
            math.sin(b) * math.sin(d) * math.cos(phi1), math.cos(d) - math.sin(phi1) * math.sin(phi2)
        )
        out.append((math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0))
    return out


def _centre(sites: Sequence[MapSite]) -> tuple[float, float]:
    if not sites:
        return 60.0, -100.0
    lat = sum(s.latitude for s in sites) / len(sites)
    x = sum(math.cos(math.radians(s.longitude)) for s in sites)
    y = sum(math.sin(math.radians(s.longitude)) for s in sites)
    return lat, math.degrees(math.atan2(y, x))


@lru_cache(maxsize=32)
def _base(lat0: float, lon0: float, scale: float, ox: float, oy: float) -> str:
    """Coastlines, borders and a graticule for one projection (shared by every night and session)."""
    project = _Ortho(lat0, lon0)
    parts = []
    data = coastlines()
    for cls, lines in (("nv-coast", data["coast"]), ("nv-border", data["borders"])):
        d = []
        for line in lines:
            pen = False
            for i in range(0, len(line) - 1, 2):
                p = project(line[i + 1], line[i])
                if p is None:
                    pen = False
                    continue
                x, y = ox + p[0] * scale, oy + p[1] * scale
                if not (-50 < x < WIDTH + 50 and -50 < y < HEIGHT + 50):
                    pen = False
                    continue
                d.append(f"{'L' if pen else 'M'}{x:.1f} {y:.1f}")
                pen = True
        if d:
            parts.append(f'<path class="{cls}" d="{"".join(d)}"/>')
    grat = []
    for lat in range(40, 90, 10):
        pts = [project(lat, lon) for lon in range(-180, 181, 5)]
        grat.append(_polyline(pts, scale, ox, oy))
    for lon in range(-180, 180, 15):
        pts = [project(lat, lon) for lat in range(30, 91, 5)]
        grat.append(_polyline(pts, scale, ox, oy))
    parts.insert(0, f'<path class="nv-graticule" d="{"".join(grat)}"/>')
    return "".join(parts)


def _polyline(points: Sequence[tuple[float, float] | None], scale: float, ox: float, oy: float) -> str:
    d, pen = [], False
    for p in points:
        if p is None:
            pen = False
            continue
        d.append(f"{'L' if pen else 'M'}{ox + p[0] * scale:.1f} {oy + p[1] * scale:.1f}")
        pen = True
    return "".join(d)


def map_svg(sites: Sequence[MapSite], min_elevation: float, altitude_km: float = 110.0, title: str = "") -> str:
    """The SVG map of ``sites`` with field-of-view circles for ``min_elevation`` at ``altitude_km``.

    Raises:
        QueryValidationError: the elevation or altitude is out of range (from ``fov_radius_deg``).
    """
    radius = fov_radius_deg(min_elevation, altitude_km)
    lat0, lon0 = _centre(sites)
    lat0, lon0 = round(lat0, 1), round(lon0, 1)
    project = _Ortho(lat0, lon0)
    circles = {s.code: _circle(s.latitude, s.longitude, radius) for s in sites}
    xs, ys = [], []
    for s in sites:
        for lat, lon in [*circles[s.code], (s.latitude, s.longitude)]:
            p = project(lat, lon)
            if p is not None:
                xs.append(p[0])
                ys.append(p[1])
    if not xs:
        xs, ys = [-0.3, 0.3], [-0.2, 0.2]
    pad = 12
    span_x, span_y = max(1e-6, max(xs) - min(xs)), max(1e-6, max(ys) - min(ys))
    scale = round(min((WIDTH - 2 * pad) / span_x, (HEIGHT - 2 * pad) / span_y), 1)
    ox = round(WIDTH / 2 - (max(xs) + min(xs)) / 2 * scale, 1)
    oy = round(HEIGHT / 2 - (max(ys) + min(ys)) / 2 * scale, 1)
    body = [_base(lat0, lon0, scale, ox, oy)]
    for s in sites:
        p = project(s.latitude, s.longitude)
        if p is None:
            continue
        x, y = ox + p[0] * scale, oy + p[1] * scale
        ring = _polyline([*[project(a, b) for a, b in circles[s.code]], project(*circles[s.code][0])], scale, ox, oy)
        label = f"{s.code} {s.name}, {s.latitude:.1f}° N, {s.longitude:.1f}° E: add or remove its movie"
        cls = "nv-site" if s.has_data else "nv-site nv-empty"
        body.append(
            f'<g class="{cls}" data-night-site="{esc(s.code)}" role="button" tabindex="0" aria-label="{esc(label)}">'
            f'<path class="nv-fov" d="{ring}Z"/><circle class="nv-dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>'
            f'<text x="{x + 5:.1f}" y="{y - 4:.1f}">{esc(s.code)}</text><title>{esc(s.name)}</title></g>'
        )
    caption = title or f"Sites and fields of view ({min_elevation:g}° elevation at {altitude_km:g} km)"
    body.append(
        f'<text class="nv-caption" x="6" y="{HEIGHT - 6}">Fields of view: {min_elevation:g}° elevation, '
        f"{altitude_km:g} km · coastlines: Natural Earth</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{esc(caption)}" class="nv-mapsvg"><title>{esc(caption)}</title>{"".join(body)}</svg>'
    )
