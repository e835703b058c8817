"""The placement funnel and the what-if, pure, on fixed data with counts worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from placement import engine
from reports.funnel import (
    OFFICER_CHOICE,
    Change,
    Entry,
    Event,
    Replay,
    RequestTrail,
    StayRecord,
    deciding_term,
    shelter_funnel,
    what_if,
)

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
MEN = ("sex", {"sex": "male", "minor": False})
INTERPRETATION = ("service", {"service": "interpretation"})
FAR = ("trafficker_region", {})


def _terms(distance: int = 0, language: int = 0, services: int = 0, utilisation: int = 0) -> dict[str, int]:
    return {"distance": distance, "language": language, "services": services, "utilisation": utilisation}


def _entry(code: str, **terms: int) -> Entry:
    t = _terms(**terms)
    return Entry(code, sum(t.values()), t)


def _events(*steps: tuple[str, str | None, str | None]) -> tuple[Event, ...]:
    out, previous = [], "open"
    for to, shelter, reason in steps:
        out.append(Event(to, previous, shelter, reason))
        previous = to
    return tuple(out)


def _trails() -> list[RequestTrail]:
    """Twenty requests at shelter S, each line's fate stated beside it."""
    trails: list[RequestTrail] = []
    n = 0

    def add(**kwargs):
        nonlocal n
        n += 1
        trails.append(RequestTrail(request_id=n, created_at=T0 + timedelta(days=n), **kwargs))

    # 6 excluded for men only; 2 for men and interpretation; 1 for interpretation only; 1 trafficker region.
    for _ in range(6):
        add(reasons=(MEN,))
    for _ in range(2):
        add(reasons=(MEN, INTERPRETATION))
    add(reasons=(INTERPRETATION,))
    add(reasons=(FAR,))
    # A request whose ranking did not name S (registered later): not counted at all.
    add()
    # 2 eligible at rank 5, lower on distance than the third; nothing reserved anywhere.
    third = _entry("C", distance=30, language=25, utilisation=10)
    for _ in range(2):
        add(rank=4, entry=_entry("S", distance=5, language=25, utilisation=35), third=third)
    # 1 eligible at rank 2, passed over for A which led on language.
    a = _entry("A", distance=20, language=25, utilisation=20)
    add(rank=1, entry=_entry("S", distance=28, utilisation=35), third=third, others={"A": a},
        events=_events(("reserved", "A", None), ("accepted", "A", None), ("admitted", "A", None)))
    # 1 eligible first, yet the officer chose B which scored less.
    b = _entry("B", distance=10)
    add(rank=0, entry=_entry("S", distance=30, language=25), third=third, others={"B": b},
        events=_events(("reserved", "B", None)))
    # Chosen: 1 rejected by S (cannot meet the needs), then reserved at A.
    add(rank=0, entry=_entry("S", distance=30), third=third, others={"A": a},
        events=_events(("reserved", "S", None), ("rejected", "S", "cannot_meet_needs"), ("reserved", "A", None)))
    # Chosen: 1 declined by the victim while S held the bed (fear of traffickers).
    add(rank=0, entry=_entry("S", distance=30), third=third, decline_reason="fear_of_traffickers",
        events=_events(("reserved", "S", None), ("declined", "S", "fear_of_traffickers")))
    # Chosen: 1 hold expired.
    add(rank=1, entry=_entry("S", distance=30), third=third,
        events=_events(("reserved", "S", None), ("expired", "S", None)))
    # Chosen, accepted, admitted: one left after 3 days (left voluntarily), one stayed 20 days, one admitted
    # 2 days ago and still there.
    admitted = _events(("reserved", "S", None), ("accepted", "S", None), ("admitted", "S", None))
    add(rank=0, entry=_entry("S", distance=30), third=third, events=admitted,
        stay=StayRecord(T0, T0 + timedelta(days=3), "left_voluntarily"))
    add(rank=2, entry=_entry("S", distance=30), third=third, events=admitted,
        stay=StayRecord(T0, T0 + timedelta(days=20), "reintegrated"))
    add(rank=0, entry=_entry("S", distance=30), third=third, events=admitted,
        stay=StayRecord(NOW - timedelta(days=2), None, None))
    return trails


def test_every_step_of_the_funnel_and_what_stopped_the_rest():
    funnel = shelter_funnel("S", _trails(), NOW)
    # 21 requests, one whose ranking did not name S: 10 excluded + 10 eligible (2 of them at rank 5).
    assert funnel.steps() == [("made", 20), ("eligible", 10), ("top3", 8), ("chosen", 6), ("accepted", 3),
                              ("admitted", 3), ("stayed", 1)]
    tallies = [(t.code, dict(t.values), t.requests, t.only_reason) for t in funnel.exclusions]
    assert tallies == [
        ("sex", {"sex": "male", "minor": False}, 8, 6),
        ("service", {"service": "interpretation"}, 3, 1),
        ("trafficker_region", {}, 1, 1),
    ]
    assert dict(funnel.excluded_by_code) == {"sex": 8, "service": 3, "trafficker_region": 1}
    assert dict(funnel.ranked_lower) == {"distance": 2}
    assert dict(funnel.passed_over) == {"language": 1, OFFICER_CHOICE: 1}
    assert funnel.never_placed == 2
    assert dict(funnel.rejected) == {"cannot_meet_needs": 1}
    assert dict(funnel.declined) == {"fear_of_traffickers": 1}
    assert (funnel.expired, funnel.cancelled, funnel.too_recent) == (1, 0, 1)
    assert dict(funnel.left_early) == {"left_voluntarily": 1}


def test_the_deciding_term_is_the_largest_lead_of_the_shelter_preferred():
    mine, theirs = _terms(distance=30, language=0), _terms(distance=20, language=25, utilisation=10)
    assert deciding_term(mine, theirs, 30, 55) == "language"
    assert deciding_term(theirs, mine, 55, 30) == OFFICER_CHOICE
    assert deciding_term(mine, mine, 30, 30) == OFFICER_CHOICE


# --- what-if against a direct engine run --------------------------------------------------------------------


def _candidate(code: str, **overrides) -> engine.Candidate:
    values = {"code": code, "name": code, "status": "open", "region": "Prishtinë", "lat": 42.66, "lon": 21.16,
              "sexes": frozenset({"female"}), "ages": "adults", "children_capacity": 2,
              "services": frozenset({"medical"}), "languages": frozenset({"sq"}), "security": "standard",
              "usable": 6, "occupied": 0, "held": 0, "utilisation": 0.2}
    return engine.Candidate(**{**values, **overrides})


def _profile(**overrides) -> engine.Profile:
    values = {"sex": "female", "minor": False, "children": 0, "needs": frozenset(), "languages": frozenset({"sq"}),
              "risk": "low", "trafficker_regions": frozenset(), "location": (42.2, 20.7)}
    return engine.Profile(**{**values, **overrides})


PROFILES = [
    _profile(),
    _profile(sex="male"),
    _profile(sex="male", needs=frozenset({"interpretation"}), languages=frozenset({"ro"})),
    _profile(needs=frozenset({"interpretation"})),
    _profile(risk="high", trafficker_regions=frozenset({"Prizren"})),
    _profile(minor=True),
    _profile(children=1),
    _profile(sex="male", risk="high"),
    _profile(location=(42.65, 21.15)),
    _profile(sex="male", trafficker_regions=frozenset({"Pejë"})),
]
CENTRES = {"Prizren": (42.21, 20.74), "Pejë": (42.66, 20.29), "Prishtinë": (42.66, 21.16)}


def _others() -> list[engine.Candidate]:
    return [
        _candidate("A", lat=42.21, lon=20.74, sexes=frozenset({"female", "male"}), region="Prizren",
                   services=frozenset({"medical", "interpretation"}), utilisation=0.9),
        _candidate("B", lat=42.38, lon=20.43, sexes=frozenset({"male"}), region="Gjakovë", security="high",
                   utilisation=0.5),
        _candidate("C", lat=42.66, lon=20.29, region="Pejë", usable=2, occupied=1, utilisation=0.1,
                   ages="all"),
    ]


def _replays(shelter: engine.Candidate, weights: engine.Weights) -> list[Replay]:
    """The stored rankings, as the requests would have stored them, read back as replays."""
    replays = []
    for profile in PROFILES:
        suggestions, excluded = engine.rank_shelters(profile, [shelter, *_others()], weights, CENTRES).as_json()
        mine = next((e for e in excluded if e["shelter"] == shelter.code), None)
        rank = next((i for i, s in enumerate(suggestions) if s["shelter"] == shelter.code), None)
        best = next((Entry(s["shelter"], s["score"], s["terms"]) for s in suggestions
                     if s["shelter"] != shelter.code), None)
        reasons = tuple(zip(mine["codes"], mine["values"])) if mine else None
        entry = next((Entry(s["shelter"], s["score"], s["terms"]) for s in suggestions
                      if s["shelter"] == shelter.code), None)
        replays.append(Replay(profile, reasons, rank, best, entry))
    return replays


def _direct(shelter: engine.Candidate, weights: engine.Weights) -> tuple[int, int]:
    eligible = first = 0
    for profile in PROFILES:
        ranking = engine.rank_shelters(profile, [shelter, *_others()], weights, CENTRES)
        codes = [s.shelter for s in ranking.suggestions]
        eligible += shelter.code in codes
        first += bool(codes) and codes[0] == shelter.code
    return eligible, first


def test_what_if_equals_a_direct_engine_run_on_the_changed_shelter():
    weights = engine.Weights()
    shelter = _candidate("S", usable=3, occupied=3, lat=42.3, lon=20.9)
    replays = _replays(shelter, weights)
    for change in [Change(takes_sexes=frozenset({"male"})), Change(adds_services=frozenset({"interpretation"})),
                   Change(high_security=True), Change(extra_beds=2), Change(ages="all"),
                   Change(frozenset({"male"}), "all", frozenset({"interpretation"}), True, 2)]:
        result = what_if(shelter, change, replays, weights, CENTRES)
        assert (result.eligible_before, result.first_before) == _direct(shelter, weights)
        assert (result.eligible_after, result.first_after) == _direct(change.apply(shelter), weights), change
    everything = what_if(shelter, Change(frozenset({"male"}), "all", frozenset({"interpretation"}), True, 2),
                         replays, weights, CENTRES)
    assert everything.more_eligible > 0 and everything.requests == len(PROFILES)
