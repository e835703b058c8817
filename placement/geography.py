"""Where regions are: the centre used for a victim's location and for the traffickers' regions.

Kosovo's seven regions, by their main town (approximate coordinates). A region
without a known centre falls back to the mean position of its shelters; with
neither, distance terms score 0 and say so.
"""

from __future__ import annotations

from collections.abc import Iterable

KOSOVO_REGION_CENTRES: dict[str, tuple[float, float]] = {
    "Prishtinë": (42.663, 21.165),
    "Prizren": (42.213, 20.740),
    "Pejë": (42.659, 20.288),
    "Mitrovicë": (42.891, 20.866),
    "Gjilan": (42.464, 21.469),
    "Ferizaj": (42.370, 21.155),
    "Gjakovë": (42.380, 20.431),
}


def region_centres(shelter_positions: Iterable[tuple[str, float | None, float | None]]) -> dict[str, tuple[float, float]]:
    """Known centres, completed by the mean position of each other region's shelters."""
    sums: dict[str, list[float]] = {}
    for region, lat, lon in shelter_positions:
        if region in KOSOVO_REGION_CENTRES or lat is None or lon is None:
            continue
        acc = sums.setdefault(region, [0.0, 0.0, 0.0])
        acc[0] += lat
        acc[1] += lon
        acc[2] += 1
    centres = dict(KOSOVO_REGION_CENTRES)
    centres.update({region: (a[0] / a[2], a[1] / a[2]) for region, a in sums.items()})
    return centres
