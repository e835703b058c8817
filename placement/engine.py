"""Pure ranking of shelters for one victim.

Two layers (STYLE.md): `placement.services` gathers the figures with queries and
hands them here as plain values; this module decides, without Flask, a database
or any I/O, so it is tested and benchmarked on its own.

Hard constraints exclude a shelter and say why, every reason that applies, in
words a person can read. Soft terms score the shelters that remain; each term is
a non-negative integer reported on its own and the score is their sum. Same
input, same output: suggestions are ordered by score, ties broken by shelter code.

`hard_reasons` and `score_terms` state the rules for one shelter; `rank_shelters`
applies the same rules to all shelters at once, on numpy columns (`CandidateTable`),
and makes the reasons of each distinct kind of exclusion once, with `hard_reasons`
itself. At 10,000 shelters that is the difference between about 45 ms and 3 ms a
victim (docs/performance.md); the tests hold the two statements to the same answers.
`CandidateTable.of_columns` takes the shelters as columns and `Ranking.as_json_text` writes
the explanations a request stores, so neither needs an object per shelter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

import numpy as np

__all__ = [
    "CANDIDATE_FIELDS",
    "Candidate",
    "CandidateTable",
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
_DISTANCE = TERMS.index("distance")
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
    """Why a shelter is excluded: `code` for machines, `message` in plain English words (the API's), and
    `values`, the figures and words the message quotes, so a page words the reason in its own language from
    the code and the values without reading the English (`placement.wording.reason_text`).

    Values by code: status {"status"}; no_free_beds {"free", "needed"} and, when every usable bed is taken,
    {"taken", "usable"}; sex {"sex", "minor"}; age {"group": the victim's, 'minors' | 'adults'}; children
    {"capacity", "needed"}; service {"service"}; security {"level", "needed"}; trafficker_region and
    excluded {}.
    """

    code: str  # 'status' | 'no_free_beds' | 'sex' | 'age' | 'children' | 'service' | 'trafficker_region' | ...
    message: str
    values: Mapping[str, Any] = field(default_factory=dict, hash=False)


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


class Ranking:
    """Every candidate exactly once: suggested (best first) or excluded (in code order).

    `rank_shelters` decides on columns and makes the `Suggestion` and `Exclusion` objects only when
    they are read: a caller that needs the scores or the exclusion counts of 10,000 shelters
    (batch assignment, the "why is my list empty" summary) does not pay for 10,000 objects.
    Two rankings are equal when their suggestions and exclusions are.
    """

    def __init__(self, suggestions: Iterable[Suggestion] = (), excluded: Iterable[Exclusion] = ()) -> None:
        self._suggestions: tuple[Suggestion, ...] | None = tuple(suggestions)
        self._excluded: tuple[Exclusion, ...] | None = tuple(excluded)
        self._columns: _RankedColumns | None = None

    @classmethod
    def _of_columns(cls, columns: _RankedColumns) -> Ranking:
        ranking = cls()
        ranking._suggestions = ranking._excluded = None
        ranking._columns = columns
        return ranking

    @property
    def suggestions(self) -> tuple[Suggestion, ...]:
        if self._suggestions is None:
            assert self._columns is not None
            self._suggestions = self._columns.suggestions()
        return self._suggestions

    @property
    def excluded(self) -> tuple[Exclusion, ...]:
        if self._excluded is None:
            assert self._columns is not None
            self._excluded = self._columns.exclusions()
        return self._excluded

    def scores(self) -> dict[str, int]:
        """Suggested shelter code -> score, best first (the batch assignment's options)."""
        if self._columns is not None:
            return self._columns.scores()
        return {s.shelter: s.score for s in self.suggestions}

    def as_json(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The ranking as JSON values, as a request stores and shows it: the suggestions
        `[{"shelter", "score", "terms": {name: points}}]` best first, and the exclusions
        `[{"shelter", "reasons": [message, ...], "codes": [code, ...], "values": [{name: value}, ...]}]` in code
        order (one values mapping per reason, beside its code).

        Made from the columns without a `Suggestion` or `Exclusion` per shelter; exclusions whose
        reasons read the same share their two lists (thousands of shelters, a few hundred kinds of
        exclusion), so treat the result as read-only.
        """
        if self._columns is not None:
            return self._columns.as_json()
        suggestions = [{"shelter": s.shelter, "score": s.score, "terms": dict(s.terms)} for s in self.suggestions]
        excluded = [{"shelter": e.shelter, "reasons": [r.message for r in e.reasons],
                     "codes": [r.code for r in e.reasons], "values": [dict(r.values) for r in e.reasons]}
                    for e in self.excluded]
        return suggestions, excluded

    def as_json_text(self) -> tuple[str, str]:
        """`as_json` encoded: the text `json.dumps(value, sort_keys=True, separators=(",", ":"))` gives for
        each (Flask's JSON encoder), the exclusions written from one fragment per kind of exclusion
        rather than from a dictionary per shelter."""
        if self._columns is not None:
            return self._columns.as_json_text()
        suggestions, excluded = self.as_json()
        return _dumps(suggestions), _dumps(excluded)

    def banded_suggestions_text(self, weight: int) -> str:
        """`banded_suggestions` of this ranking's, encoded as `as_json_text` encodes them, without decoding them
        from the stored text: what an officer is answered."""
        if self._columns is not None:
            return self._columns.banded_suggestions_text(weight)
        return _dumps(banded_suggestions(self.as_json()[0], weight))

    def exclusion_summary(self) -> dict[str, int]:
        """Reason code -> how many shelters it excluded (a shelter counts once per code),
        most frequent first, ties by code: the answer to "why is my list empty"."""
        counts: dict[str, int] = {}
        if self._columns is not None:
            for reasons, shelters in self._columns.reason_groups():
                for code in {reason.code for reason in reasons}:
                    counts[code] = counts.get(code, 0) + shelters
        else:
            for exclusion in self.excluded:
                for code in {reason.code for reason in exclusion.reasons}:
                    counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ranking):
            return NotImplemented
        return self.suggestions == other.suggestions and self.excluded == other.excluded

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ranking(suggestions={self.suggestions!r}, excluded={self.excluded!r})"


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
        reasons.append(Reason("status", candidate.status, {"status": candidate.status}))

    needed = beds_needed(profile)
    free = candidate.free_beds
    if free < needed:
        values: dict[str, Any] = {"free": free, "needed": needed}
        if free > 0:
            message = f"not enough free beds: {free} free, {needed} needed"
        elif candidate.usable <= 0:
            message = "no free bed: no usable beds"
        else:
            message = f"no free bed: {candidate.occupied + candidate.held} of {candidate.usable} taken"
            values.update(taken=candidate.occupied + candidate.held, usable=candidate.usable)
        reasons.append(Reason("no_free_beds", message, values))

    if profile.sex not in candidate.sexes:
        people = _PEOPLE.get((profile.sex, profile.minor), profile.sex)
        reasons.append(Reason("sex", f"does not take {people}", {"sex": profile.sex, "minor": profile.minor}))

    if profile.minor and candidate.ages not in ("minors", "all"):
        reasons.append(Reason("age", "does not take minors", {"group": "minors"}))
    elif not profile.minor and candidate.ages not in ("adults", "all"):
        reasons.append(Reason("age", "does not take adults", {"group": "adults"}))

    if profile.children > candidate.children_capacity:
        capacity = max(0, candidate.children_capacity)
        beds = "no beds" if capacity == 0 else "only " + _plural(capacity, "bed")
        reasons.append(Reason("children", f"{beds} for accompanying children, {profile.children} needed",
                              {"capacity": capacity, "needed": profile.children}))

    for service in sorted(profile.needs - candidate.services):
        reasons.append(Reason("service", _missing_service_message(service), {"service": service}))

    if candidate.region in profile.trafficker_regions:
        reasons.append(Reason("trafficker_region", "in a region linked to the traffickers"))

    if profile.risk == "high" and candidate.security != "high":
        reasons.append(Reason("security", f"security {candidate.security}, high risk needs high",
                              {"level": candidate.security, "needed": "high"}))

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


DISTANCE_BANDS = 4


def distance_band(points: int, weight: int) -> tuple[int, int]:
    """A distance term as a band: (band, the band's points), band 0 (no points) to DISTANCE_BANDS (the nearest
    quarter of the distance scale; for a high-risk case, the farthest from the traffickers' regions). A band holds
    the points above its lower edge up to its upper edge: band b of weight w holds ((b-1)w/4, bw/4].

    Exact points are a distance in steps of max_distance_km / weight (5 km by default), and distances from the
    region centres, which are public, would give away a shelter's coordinates; a band is a quarter of the scale
    (37.5 km by default). The band's points are those of its lower edge, rounded down, so a banded score never
    exceeds the exact one.
    """
    if weight <= 0 or points <= 0:
        return 0, 0
    band = min(DISTANCE_BANDS, math.ceil(DISTANCE_BANDS * points / weight - _HALF_TOLERANCE))
    return band, weight * (band - 1) // DISTANCE_BANDS


def _vector_distance_bands(points: np.ndarray, weight: int) -> tuple[np.ndarray, np.ndarray]:
    """`distance_band` on a column: the same integers."""
    points = np.asarray(points, dtype=np.int64)
    if weight <= 0:
        zeros = np.zeros_like(points)
        return zeros, zeros
    band = np.minimum(DISTANCE_BANDS, np.ceil(DISTANCE_BANDS * points / weight - _HALF_TOLERANCE)).astype(np.int64)
    band = np.where(points > 0, band, 0)
    return band, np.where(band > 0, weight * (band - 1) // DISTANCE_BANDS, 0)


def banded_suggestions(suggestions: Sequence[Mapping[str, Any]], weight: int) -> list[dict[str, Any]]:
    """Suggestions as `Ranking.as_json` writes them, their distance term in bands (`distance_band`, each with its
    `distance_band`) and each score summed again from the terms: what an officer is shown. Same order."""
    exact = np.fromiter((s["terms"].get("distance", 0) for s in suggestions), dtype=np.int64, count=len(suggestions))
    bands, points = _vector_distance_bands(exact, weight)
    out = []
    for suggestion, band, distance in zip(suggestions, bands.tolist(), points.tolist()):
        terms = dict(suggestion["terms"])
        terms["distance"] = distance
        out.append({"distance_band": band, "score": sum(terms.values()), "shelter": suggestion["shelter"],
                    "terms": terms})
    return out


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


CANDIDATE_FIELDS = tuple(f.name for f in fields(Candidate))
_candidate_fields = attrgetter(*CANDIDATE_FIELDS)  # a candidate's values in `CANDIDATE_FIELDS` order


class CandidateTable:
    """The candidates as columns (numpy arrays), in code order: what `rank_shelters` decides on.

    Built once from any number of candidates, it ranks them for any number of victims (a batch
    ranks the same shelters for every waiting request). `CandidateTable.of_columns` builds it from
    one sequence per `Candidate` field, so gathering with queries need not make 10,000 objects;
    a `Candidate` is made only for the rows that are read (`candidate(row)`, `candidates`).
    Raises ValueError if two candidates share a code.
    """

    def __init__(self, candidates: Iterable[Candidate]) -> None:
        rows = list(candidates)
        values = list(zip(*map(_candidate_fields, rows))) if rows else [() for _ in CANDIDATE_FIELDS]
        self._fill(dict(zip(CANDIDATE_FIELDS, values)))
        if rows:  # already made: keep them rather than make them again
            self._candidates = tuple(sorted(rows, key=lambda c: c.code))

    @classmethod
    def of_columns(cls, **columns: Sequence[Any]) -> CandidateTable:
        """From one sequence per `Candidate` field, by the field's name; row i of every sequence is one
        shelter, in any order. Raises ValueError for a missing or unknown field, sequences of different
        lengths, or a code that appears twice."""
        table = cls.__new__(cls)
        table._fill(columns)
        return table

    def _fill(self, columns: Mapping[str, Sequence[Any]]) -> None:
        if set(columns) != set(CANDIDATE_FIELDS):
            raise ValueError(f"columns must be exactly the Candidate fields {CANDIDATE_FIELDS}")
        codes = list(columns["code"])
        n = len(codes)
        if any(len(column) != n for column in columns.values()):
            raise ValueError("every column must have one value per shelter")
        order = sorted(range(n), key=codes.__getitem__)
        if order == list(range(n)):
            raw = {name: list(column) for name, column in columns.items()}
        else:
            raw = {name: [column[row] for row in order] for name, column in columns.items()}
        self._raw = raw
        self._candidates: tuple[Candidate, ...] | None = None
        self.codes: list[str] = raw["code"]
        for before, after in zip(self.codes, self.codes[1:]):
            if before == after:
                raise ValueError(f"shelter {after} appears twice among the candidates")
        self.row_of_code = {code: row for row, code in enumerate(self.codes)}
        self.status = _labels(raw["status"])
        self.open = _label_in(self.status, ("open",))
        usable = np.array(raw["usable"], dtype=np.int64).reshape(n)
        taken = (np.array(raw["occupied"], dtype=np.int64) + np.array(raw["held"], dtype=np.int64)).reshape(n)
        self.usable, self.taken = usable, taken
        self.free = np.maximum(usable - taken, 0)
        ages = _labels(raw["ages"])
        self.takes_minors = _label_in(ages, ("minors", "all"))
        self.takes_adults = _label_in(ages, ("adults", "all"))
        self.children_capacity = np.array(raw["children_capacity"], dtype=np.int64).reshape(n)
        self.region = _labels(raw["region"])
        self.security = _labels(raw["security"])
        self.high_security = _label_in(self.security, ("high",))
        # None (no position) becomes NaN; a position needs both coordinates finite, as `_position` says.
        lat = np.array(raw["lat"], dtype=np.float64).reshape(n)
        lon = np.array(raw["lon"], dtype=np.float64).reshape(n)
        self.located = np.isfinite(lat) & np.isfinite(lon)
        self.lat = np.radians(np.where(self.located, lat, 0.0))
        self.lon = np.radians(np.where(self.located, lon, 0.0))
        self.utilisation = np.array(raw["utilisation"], dtype=np.float64).reshape(n)
        self._sexes = _Membership(raw["sexes"])
        self._services = _Membership(raw["services"])
        self._languages = _Membership(raw["languages"])
        self.service_count = self._services.sizes()

    def __len__(self) -> int:
        return len(self.codes)

    def column(self, name: str) -> list[Any]:
        """One `Candidate` field of every row, in code order, as given."""
        return self._raw[name]

    def candidate(self, row: int) -> Candidate:
        """Row `row` as a `Candidate`."""
        if self._candidates is not None:
            return self._candidates[row]
        return Candidate(**{name: column[row] for name, column in self._raw.items()})

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        """Every row as a `Candidate`, in code order (made on first use)."""
        if self._candidates is None:
            self._candidates = tuple(self.candidate(row) for row in range(len(self)))
        return self._candidates

    def takes_sex(self, sex: str) -> np.ndarray:
        return self._sexes.has(sex)

    def offers(self, service: str) -> np.ndarray:
        return self._services.has(service)

    def speaks_any(self, languages: Iterable[str]) -> np.ndarray:
        shared = np.zeros(len(self), dtype=bool)
        for language in languages:
            shared |= self._languages.has(language)
        return shared


def _labels(values: list[str]) -> tuple[list[str], np.ndarray]:
    """(distinct values, each row's index into them): a string column as small integers."""
    distinct = sorted(set(values))
    index = {value: i for i, value in enumerate(distinct)}
    return distinct, np.array([index[v] for v in values], dtype=np.int64).reshape(len(values))


def _label_in(labels: tuple[list[str], np.ndarray], wanted: tuple[str, ...]) -> np.ndarray:
    """Where a label column holds one of `wanted`."""
    distinct, rows = labels
    return np.array([value in wanted for value in distinct], dtype=bool).reshape(len(distinct))[rows]


class _Membership:
    """Which rows' sets hold a value, one boolean column per value asked about (made on first use).

    Shelters share a few hundred distinct sets among thousands of rows, so each row is numbered by
    its distinct set and a value is looked up once per distinct set.
    """

    def __init__(self, sets: list[frozenset[str]]) -> None:
        number: dict[frozenset[str], int] = {}
        self._set_of_row = np.array([number.setdefault(frozenset(s), len(number)) for s in sets],
                                    dtype=np.int64).reshape(len(sets))
        self._distinct = list(number)
        self._columns: dict[str, np.ndarray] = {}

    def sizes(self) -> np.ndarray:
        """Each row's number of values."""
        counts = np.array([len(s) for s in self._distinct], dtype=np.int64).reshape(len(self._distinct))
        return counts[self._set_of_row]

    def has(self, value: str) -> np.ndarray:
        column = self._columns.get(value)
        if column is None:
            holds = np.array([value in s for s in self._distinct], dtype=bool).reshape(len(self._distinct))
            column = self._columns[value] = holds[self._set_of_row]
        return column


class _RankedColumns:
    """A ranking before its objects are made: suggested rows best first with their terms, and the
    excluded rows in code order, grouped by what their reasons depend on."""

    def __init__(self, table: CandidateTable, suggested: np.ndarray, terms: np.ndarray, excluded: np.ndarray,
                 group_of_row: np.ndarray, group_reasons: list[tuple[Reason, ...]]) -> None:
        self._table, self._suggested, self._terms = table, suggested, terms
        self._excluded, self._group_of_row, self._group_reasons = excluded, group_of_row, group_reasons

    def scores(self) -> dict[str, int]:
        codes = self._table.codes
        return {codes[row]: score for row, score in zip(self._suggested.tolist(), self._terms.sum(axis=1).tolist())}

    def suggestions(self) -> tuple[Suggestion, ...]:
        codes = self._table.codes
        return tuple(Suggestion(codes[row], sum(points), dict(zip(TERMS, points)))
                     for row, points in zip(self._suggested.tolist(), self._terms.tolist()))

    def exclusions(self) -> tuple[Exclusion, ...]:
        codes, reasons = self._table.codes, self._group_reasons
        return tuple(Exclusion(codes[row], reasons[group])
                     for row, group in zip(self._excluded.tolist(), self._group_of_row.tolist()))

    def as_json(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        codes = self._table.codes
        suggestions = [{"shelter": codes[row], "score": sum(points), "terms": dict(zip(TERMS, points))}
                       for row, points in zip(self._suggested.tolist(), self._terms.tolist())]
        explained = [([r.message for r in reasons], [r.code for r in reasons], [dict(r.values) for r in reasons])
                     for reasons in self._group_reasons]
        excluded = [{"shelter": codes[row], "reasons": messages, "codes": reason_codes, "values": values}
                    for row, (messages, reason_codes, values) in zip(
                        self._excluded.tolist(), map(explained.__getitem__, self._group_of_row.tolist()))]
        return suggestions, excluded

    def as_json_text(self) -> tuple[str, str]:
        codes = self._table.codes
        suggestions = [{"shelter": codes[row], "score": sum(points), "terms": dict(zip(TERMS, points))}
                       for row, points in zip(self._suggested.tolist(), self._terms.tolist())]
        # {"codes":[...],"reasons":[...],"shelter":"CODE","values":[...]}: keys sorted as the encoder sorts them.
        openings = [f'{{"codes":{_dumps([r.code for r in reasons])},"reasons":{_dumps([r.message for r in reasons])},'
                    f'"shelter":' for reasons in self._group_reasons]
        closings = [f',"values":{_dumps([dict(r.values) for r in reasons])}}}' for reasons in self._group_reasons]
        groups = self._group_of_row.tolist()
        excluded = ",".join(
            [openings[group] + _encode_string(codes[row]) + closings[group]
             for row, group in zip(self._excluded.tolist(), groups)])
        return _dumps(suggestions), f"[{excluded}]"

    def banded_suggestions_text(self, weight: int) -> str:
        codes = self._table.codes
        terms = self._terms.copy()
        bands, terms[:, _DISTANCE] = _vector_distance_bands(terms[:, _DISTANCE], weight)
        return _dumps([{"distance_band": band, "score": sum(points), "shelter": codes[row],
                        "terms": dict(zip(TERMS, points))}
                       for row, band, points in zip(self._suggested.tolist(), bands.tolist(), terms.tolist())])

    def reason_groups(self) -> list[tuple[tuple[Reason, ...], int]]:
        """(reasons, how many excluded shelters have exactly them) per group."""
        counts = np.bincount(self._group_of_row, minlength=len(self._group_reasons)).tolist()
        return list(zip(self._group_reasons, counts))


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_encode_string = json.encoder.encode_basestring_ascii  # a string as JSON, as `json.dumps` writes it


def _vector_points(weight: int, fraction: np.ndarray) -> np.ndarray:
    """`_points` on a column: the same float operations, so the same integers."""
    fraction = np.where(np.isfinite(fraction), fraction, 0.0)
    return np.floor(weight * np.clip(fraction, 0.0, 1.0) + 0.5 + _HALF_TOLERANCE).astype(np.int64)


def _vector_haversine_km(table: CandidateTable, rows: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    lat1, lon1 = table.lat[rows], table.lon[rows]
    lat2, lon2 = math.radians(point[0]), math.radians(point[1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * math.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _vector_distance_points(profile: Profile, table: CandidateTable, rows: np.ndarray, weights: Weights,
                            region_centres: Mapping[str, tuple[float, float]]) -> np.ndarray:
    """`_distance_points` for the given rows."""
    points = np.zeros(len(rows), dtype=np.int64)
    has_position = table.located[rows]
    located = rows[has_position]
    if profile.risk == "high":
        dangers = [region_centres[r] for r in sorted(profile.trafficker_regions) if r in region_centres]
        dangers = [p for p in (_position(*d) for d in dangers) if p is not None]
        if dangers:
            nearest = np.min([_vector_haversine_km(table, located, d) for d in dangers], axis=0)
            points[has_position] = _vector_points(weights.distance, nearest / weights.max_distance_km)
            return points
    victim = _position(*profile.location) if profile.location is not None else None
    if victim is not None:
        distance = _vector_haversine_km(table, located, victim)
        points[has_position] = _vector_points(weights.distance, 1 - distance / weights.max_distance_km)
    return points


def rank_shelters(profile: Profile, candidates: Iterable[Candidate] | CandidateTable, weights: Weights = Weights(),
                  region_centres: Mapping[str, tuple[float, float]] | None = None) -> Ranking:
    """Rank the shelters for one victim.

    Every candidate appears exactly once: in `suggestions` if no hard constraint excludes it,
    ordered by score descending then code; otherwise in `excluded`, in code order, with all
    its reasons. The same decisions, reasons and terms as `hard_reasons` and `score_terms` give
    shelter by shelter, computed on columns (pass a `CandidateTable` to rank the same shelters
    for several victims). Deterministic: the order of `candidates` does not matter.
    Raises ValueError if two candidates share a code.
    """
    table = candidates if isinstance(candidates, CandidateTable) else CandidateTable(candidates)
    n = len(table)
    needed = beds_needed(profile)
    # One column per hard constraint, in `hard_reasons`' order: True where the shelter fails it.
    fails = [
        ~table.open,
        table.free < needed,
        ~table.takes_sex(profile.sex),
        ~(table.takes_minors if profile.minor else table.takes_adults),
        np.full(n, profile.children) > table.children_capacity,
        *(~table.offers(service) for service in sorted(profile.needs)),
        np.isin(table.region[1], [i for i, r in enumerate(table.region[0]) if r in profile.trafficker_regions]),
        np.full(n, profile.risk == "high") & ~table.high_security,
        np.zeros(n, dtype=bool),
    ]
    excluded_rows = [table.row_of_code[code] for code in profile.exclude if code in table.row_of_code]
    fails[-1][excluded_rows] = True
    failed = np.logical_or.reduce(fails) if n else np.zeros(0, dtype=bool)

    suggested = np.flatnonzero(~failed)
    centres = region_centres or {}
    extra = table.service_count[suggested] - sum(
        (table.offers(service)[suggested].astype(np.int64) for service in profile.needs), np.int64(0))
    terms = np.column_stack([
        _vector_distance_points(profile, table, suggested, weights, centres),
        np.where(table.speaks_any(profile.languages)[suggested], weights.language, 0),
        _vector_points(weights.services, np.minimum(extra, EXTRA_SERVICES_CAP) / EXTRA_SERVICES_CAP),
        _vector_points(weights.utilisation, 1 - table.utilisation[suggested]),
    ]).astype(np.int64).reshape(len(suggested), len(TERMS))
    best_first = np.lexsort((suggested, -terms.sum(axis=1)))
    suggested, terms = suggested[best_first], terms[best_first]

    # Excluded shelters whose reasons read the same share one tuple of reasons, made once by
    # `hard_reasons` itself (its messages stay the one definition): the group is keyed by which
    # constraints fail and by every figure their messages quote.
    excluded = np.flatnonzero(failed)
    free, usable = table.free[excluded], table.usable[excluded]
    # "not enough free beds: F free" quotes F; "no free bed: T of U taken" quotes T and U (U > 0).
    all_taken = fails[1][excluded] & (free == 0) & (usable > 0)
    key = np.column_stack([
        *(f[excluded] for f in fails),
        np.where(fails[0][excluded], table.status[1][excluded], -1),
        np.where(fails[1][excluded], free, -1),
        np.where(all_taken, usable, -1),
        np.where(all_taken, table.taken[excluded], -1),
        np.where(fails[4][excluded], table.children_capacity[excluded], -1),
        np.where(fails[-2][excluded], table.security[1][excluded], -1),
    ]).astype(np.int64).reshape(len(excluded), len(fails) + 6)
    first, group_of_row = _distinct_rows(key)
    group_reasons = [hard_reasons(profile, table.candidate(excluded[row])) for row in first.tolist()]
    return Ranking._of_columns(_RankedColumns(table, suggested, terms, excluded, group_of_row, group_reasons))


def _distinct_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the first row of each distinct row of the integer matrix `key`, each row's group number).

    The rows are numbered as one integer each (mixed radix) where that fits in 64 bits, because
    `np.unique(axis=0)` sorts rows as opaque records, several times slower at 10,000 rows.
    """
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    shifted = key - key.min(axis=0)
    spans = (shifted.max(axis=0) + 1).tolist()
    if math.prod(spans) >= 2**62:
        _, first, group = np.unique(key, axis=0, return_index=True, return_inverse=True)
        return first, group.reshape(-1)
    radix = np.cumprod([1, *spans[:-1]], dtype=np.int64)
    _, first, group = np.unique(shifted @ radix, return_index=True, return_inverse=True)
    return first, group.reshape(-1)
