"""Build ``assets/coastlines_north_50m.json`` from Natural Earth's 1:50m countries (world-atlas).

The map of the night view draws coastlines and borders from data shipped with the project, never
fetched at run time. Source: the npm package ``world-atlas`` 2.0.2 (``countries-50m.json``,
TopoJSON of Natural Earth 1:50m Admin 0 countries, public domain; the package itself is ISC).
Run once, offline, on the unpacked package::

    npm pack world-atlas && tar xzf world-atlas-2.0.2.tgz
    python -m dashboard.night.make_coastlines package/countries-50m.json assets/coastlines_north_50m.json

An arc used by one country is coastline; an arc shared by two is a border. Only arcs reaching north
of 40°N are kept (the ground imagers are in North America, Greenland and Svalbard), with points
rounded to 0.1° (stored as integer tenths) and consecutive duplicates dropped: ~200 kB instead of 750 kB.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

MIN_LATITUDE = 40.0
STEP = 0.1


def _decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:  # quantized, delta-encoded (TopoJSON spec)
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _arc_uses(geometries: list[dict[str, Any]]) -> Counter[int]:
    uses: Counter[int] = Counter()

    def walk(node: Any) -> None:
        if isinstance(node, int):
            uses[node if node >= 0 else ~node] += 1
        else:
            for item in node:
                walk(item)

    for geometry in geometries:
        walk(geometry.get("arcs", []))
    return uses


def _compact(points: list[tuple[float, float]]) -> list[int]:
    out: list[int] = []
    last: tuple[int, int] | None = None
    for lon, lat in points:
        q = (round(lon / STEP), round(lat / STEP))
        if q != last:
            out.extend(q)
            last = q
    return out


def build(topology: dict[str, Any]) -> dict[str, Any]:
    arcs = _decode_arcs(topology)
    uses = _arc_uses(topology["objects"]["countries"]["geometries"])
    coast: list[list[int]] = []
    borders: list[list[int]] = []
    for index, points in enumerate(arcs):
        if max(lat for _, lat in points) < MIN_LATITUDE:
            continue
        flat = _compact(points)
        if len(flat) < 4:
            continue
        (borders if uses[index] > 1 else coast).append(flat)
    return {
        "_about": "Coastlines and country borders north of 30°N for the night view's map: flat "
        "[lon, lat, lon, lat, ...] lists in degrees, rounded to 0.1° (stored as integer tenths).",
        "_provenance": {
            "source": "Natural Earth 1:50m Admin 0 countries, via the npm package world-atlas 2.0.2 "
            "(countries-50m.json, TopoJSON), https://github.com/topojson/world-atlas",
            "licence": "Natural Earth data is in the public domain "
            "(https://www.naturalearthdata.com/about/terms-of-use/); "
            "world-atlas is ISC-licensed (Copyright 2013-2019 Michael Bostock)",
            "made_by": "python -m dashboard.night.make_coastlines package/countries-50m.json "
            "assets/coastlines_north_50m.json",
        },
        "coast": coast,
        "borders": borders,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m dashboard.night.make_coastlines COUNTRIES_50M_JSON OUTPUT_JSON\n")
        return 2
    topology = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[1]).write_text(json.dumps(build(topology), separators=(",", ":")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
