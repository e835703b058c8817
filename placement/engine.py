"""Pure ranking of shelters for one victim.

Two layers (STYLE.md): `placement.services` gathers the figures with queries and
hands them here as plain values; this module decides, without Flask, a database
or any I/O, so it is tested and benchmarked on its own.

Hard constraints exclude a shelter and say why, every reason that applies, in
words a person can read. Soft terms score the shelters that remain; each term is
a non-negative integer reported on its own and the score is their sum. Same
input, same output: suggestions are ordered by score, ties broken by shelter code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "Candidate",
    "Exclusion",
    "Profile",
    "Ranking",
    "Reason",
    "Suggestion",
    "Weights",
    "beds_needed",
    "hard_reasons",
    "haversine_km",
    "rank_shelters",
    "score_terms",
]

EARTH_RADIUS_KM = 6371.0
TERMS = ("distance", "language", "services", "utilisation")
# Extra services beyond the needs earn points up to this many; a shelter offering everything
# should not outscore a nearer one merely for breadth.
EXTRA_SERVICES_CAP = 4
_HALF_TOLERANCE = 1e-9

# How a missing service reads: "no psychological care", "no legal aid".
_MISSING_SERVICE = {
    "psychological": "no psychological care",
    "medical": "no medical care",
    "legal": "no legal aid",
    "interpretation": "no interpretation",
    "vocational": "no vocational training",
    "disability_access": "no disability access",
}
_PEOPLE = {("female", False): "women", ("male", False): "men", ("female", True): "girls", ("male", True): "boys"}


@dataclass(frozen=True)
class Profile:
    """The victim as the engine sees them: pseudonymous, only what placement needs."""

    sex: str  # 'female' | 'male'
    minor: bool
    children: int  # accompanying children, each needs a bed
    needs: frozenset[str]  # required services
    languages: frozenset[str]  # ISO 639-1
    risk: str  # 'low' | 'medium' | 'high'
    trafficker_regions: frozenset[str]
    location: tuple[float, float] | None  # (lat, lon) where the victim is now, may be unknown
    exclude: frozenset[str] = frozenset()  # shelter codes the requester excludes


@dataclass(frozen=True)
class Candidate:
    """One shelter with its current figures."""

    code: str
    name: str
    status: str  # 'open' | 'suspended' | 'closed'
    region: str
    lat: float | None
    lon: float | None
    sexes: frozenset[str]  # subset of {'female', 'male'}
    ages: str  # 'adults' | 'minors' | 'all'
    children_capacity: int
    services: frozenset[str]
    languages: frozenset[str]
    security: str  # 'standard' | 'high'
    usable: int  # capacity - out of service
    occupied: int  # beds taken by open stays
    held: int  # beds held by live reservations
    utilisation: float  # 0..1+ over the last 30 days (bed-nights)

    @property
    def free_beds(self) -> int:
        """Beds that can be offered now: usable minus occupied minus held, never below 0."""
        return max(0, self.usable - self.occupied - self.held)


@dataclass(frozen=True)
class Weights:
    """Points for each soft term, from configuration.

    distance: points at 0 km, falling linearly to 0 at `max_distance_km` (or, for a
    high-risk case, rising from 0 at a trafficker region to full at `max_distance_km`).
    language: full points when the victim and the shelter share a language.
    services: full points for `EXTRA_SERVICES_CAP` or more services beyond the needs.
    utilisation: full points for an empty shelter (low utilisation first).

    Raises ValueError for a negative weight or a non-positive distance scale.
    """

    distance: int = 30
    max_distance_km: float = 150.0
    language: int = 25
    services: int = 10
    utilisation: int = 35

    def __post_init__(self) -> None:
        for name in TERMS:
            if getattr(self, name) < 0:
                raise ValueError(f"weight {name} must not be negative")
        if not (self.max_distance_km > 0 and math.isfinite(self.max_distance_km)):
            raise ValueError("max_distance_km must be a positive number")


@dataclass(frozen=True)
class Reason:
    """Why a shelter is excluded: `code` for machines, `message` in plain words."""

    code: str  # 'status' | 'no_free_beds' | 'sex' | 'age' | 'children' | 'service' | 'trafficker_region' | ...
    message: str


@dataclass(frozen=True)
class Suggestion:
    """An eligible shelter with its score and every term of it; score == sum(terms.values())."""

    shelter: str
    score: int
    terms: dict[str, int] = field(hash=False)


@dataclass(frozen=True)
class Exclusion:
    """An ineligible shelter with all the reasons that apply, not just the first."""

    shelter: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Ranking:
    """Every candidate exactly once: suggested (best first) or excluded (in code order)."""

    suggestions: tuple[Suggestion, ...]
    excluded: tuple[Exclusion, ...]

    def exclusion_summary(self) -> dict[str, int]:
        """Reason code -> how many shelters it excluded (a shelter counts once per code),
        most frequent first, ties by code: the answer to "why is my list empty"."""
        counts: dict[str, int] = {}
        for exclusion in self.excluded:
            for code in {reason.code for reason in exclusion.reasons}:
                counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def beds_needed(profile: Profile) -> int:
    """Beds a placement takes: one for the victim and one for each accompanying child."""
    return 1 + max(0, profile.children)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lat, lon) points in degrees, on a sphere of
    radius `EARTH_RADIUS_KM`. Symmetric, non-negative, 0 for the same point."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def _missing_service_message(service: str) -> str:
    return _MISSING_SERVICE.get(service, f"no {service.replace('_', ' ')} service")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def hard_reasons(profile: Profile, candidate: Candidate) -> tuple[Reason, ...]:
    """Every hard constraint the shelter fails for this victim, in a fixed order; empty means eligible.

    The shelter must be open; have free beds (after stays, held reservations and beds out of
    service) for the victim and each child; take the victim's sex and age group; have a bed for
    each accompanying child; offer every needed service (one reason per missing service); lie
    outside the traffickers' regions; have high security for a high-risk case; and not be
    excluded by the requester.
    """
    reasons: list[Reason] = []
    if candidate.status != "open":
        reasons.append(Reason("status", candidate.status))

    needed = beds_needed(profile)
    free = candidate.free_beds
    if free < needed:
        if free > 0:
            message = f"not enough free beds: {free} free, {needed} needed"
        elif candidate.usable <= 0:
            message = "no free bed: no usable beds"
        else:
            message = f"no free bed: {candidate.occupied + candidate.held} of {candidate.usable} taken"
        reasons.append(Reason("no_free_beds", message))

    if profile.sex not in candidate.sexes:
        people = _PEOPLE.get((profile.sex, profile.minor), profile.sex)
        reasons.append(Reason("sex", f"does not take {people}"))

    if profile.minor and candidate.ages not in ("minors", "all"):
        reasons.append(Reason("age", "does not take minors"))
    elif not profile.minor and candidate.ages not in ("adults", "all"):
        reasons.append(Reason("age", "does not take adults"))

    if profile.children > candidate.children_capacity:
        capacity = max(0, candidate.children_capacity)
        beds = "no beds" if capacity == 0 else "only " + _plural(capacity, "bed")
        reasons.append(Reason("children", f"{beds} for accompanying children, {profile.children} needed"))

    for service in sorted(profile.needs - candidate.services):
        reasons.append(Reason("service", _missing_service_message(service)))

    if candidate.region in profile.trafficker_regions:
        reasons.append(Reason("trafficker_region", "in a region linked to the traffickers"))

    if profile.risk == "high" and candidate.security != "high":
        reasons.append(Reason("security", f"security {candidate.security}, high risk needs high"))

    if candidate.code in profile.exclude:
        reasons.append(Reason("excluded", "excluded by the requester"))
    return tuple(reasons)


def _points(weight: int, fraction: float) -> int:
    """weight * fraction, fraction clamped to [0, 1], rounded half up (never half to even).

    The tiny tolerance lets a decimal half that binary floating point stores just below it
    (35 * (1 - 0.9) = 3.4999...) round up as a person would expect.
    """
    if not math.isfinite(fraction):
        fraction = 0.0
    return int(weight * min(1.0, max(0.0, fraction)) + 0.5 + _HALF_TOLERANCE)


def _position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return (lat, lon)


def _distance_points(profile: Profile, candidate: Candidate, weights: Weights,
                     region_centres: Mapping[str, tuple[float, float]]) -> int:
    shelter = _position(candidate.lat, candidate.lon)
    if shelter is None:
        return 0
    if profile.risk == "high":
        dangers = [region_centres[r] for r in sorted(profile.trafficker_regions) if r in region_centres]
        dangers = [p for p in (_position(*d) for d in dangers) if p is not None]
        if dangers:
            nearest = min(haversine_km(shelter, d) for d in dangers)
            return _points(weights.distance, nearest / weights.max_distance_km)
    victim = _position(*profile.location) if profile.location is not None else None
    if victim is None:
        return 0
    return _points(weights.distance, 1 - haversine_km(shelter, victim) / weights.max_distance_km)


def score_terms(profile: Profile, candidate: Candidate, weights: Weights,
                region_centres: Mapping[str, tuple[float, float]] | None) -> dict[str, int]:
    """The soft terms for one shelter, each an integer in [0, its weight], keyed in `TERMS` order.

    distance: for a high-risk case whose trafficker regions have known centres, points grow
    with the distance from the nearest such centre (full at >= max_distance_km); otherwise
    points fall with the distance from the victim's location (full at 0 km, none at >=
    max_distance_km). A missing position on either side scores 0.
    language: full points if the victim and shelter share a language, else 0.
    services: services offered beyond the needs, weights.services * min(extra, 4) / 4.
    utilisation: weights.utilisation * (1 - utilisation clamped to [0, 1]); unknown (NaN) scores 0.
    Every term is rounded half up. Does not check hard constraints.
    """
    centres = region_centres or {}
    extra = len(candidate.services - profile.needs)
    return {
        "distance": _distance_points(profile, candidate, weights, centres),
        "language": weights.language if profile.languages & candidate.languages else 0,
        "services": _points(weights.services, min(extra, EXTRA_SERVICES_CAP) / EXTRA_SERVICES_CAP),
        "utilisation": _points(weights.utilisation, 1 - candidate.utilisation),
    }


def rank_shelters(profile: Profile, candidates: Iterable[Candidate], weights: Weights = Weights(),
                  region_centres: Mapping[str, tuple[float, float]] | None = None) -> Ranking:
    """Rank the shelters for one victim.

    Every candidate appears exactly once: in `suggestions` if no hard constraint excludes it,
    ordered by score descending then code; otherwise in `excluded`, in code order, with all
    its reasons. Deterministic: the order of `candidates` does not matter.
    Raises ValueError if two candidates share a code.
    """
    suggestions: list[Suggestion] = []
    excluded: list[Exclusion] = []
    seen: set[str] = set()
    for candidate in sorted(candidates, key=lambda c: c.code):
        if candidate.code in seen:
            raise ValueError(f"shelter {candidate.code} appears twice among the candidates")
        seen.add(candidate.code)
        reasons = hard_reasons(profile, candidate)
        if reasons:
            excluded.append(Exclusion(candidate.code, reasons))
            continue
        terms = score_terms(profile, candidate, weights, region_centres)
        suggestions.append(Suggestion(candidate.code, sum(terms.values()), terms))
    suggestions.sort(key=lambda s: (-s.score, s.shelter))
    return Ranking(tuple(suggestions), tuple(excluded))
