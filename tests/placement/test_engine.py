"""The ranking engine on plain values: each hard constraint with its reason, each soft term,
determinism, and a property test against an independent statement of the hard constraints."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement.engine import (
    CANDIDATE_FIELDS,
    Candidate,
    CandidateTable,
    Profile,
    Ranking,
    Reason,
    Weights,
    banded_suggestions,
    beds_needed,
    distance_band,
    hard_reasons,
    haversine_km,
    rank_shelters,
    score_terms,
)

PRISHTINE = (42.663, 21.165)
PRIZREN = (42.213, 20.740)
KM_PER_DEGREE_LAT = 6371.0 * math.pi / 180  # along a meridian, on the engine's sphere


def make_profile(**overrides: object) -> Profile:
    values: dict[str, object] = dict(
        sex="female", minor=False, children=0, needs=frozenset({"psychological"}), languages=frozenset({"sq"}),
        risk="low", trafficker_regions=frozenset(), location=PRISHTINE, exclude=frozenset(),
    )
    values.update(overrides)
    return Profile(**values)  # type: ignore[arg-type]


def make_candidate(**overrides: object) -> Candidate:
    values: dict[str, object] = dict(
        code="S01", name="Shelter one", status="open", region="Prishtinë", lat=PRISHTINE[0], lon=PRISHTINE[1],
        sexes=frozenset({"female", "male"}), ages="all", children_capacity=4,
        services=frozenset({"psychological"}), languages=frozenset({"sq"}), security="high",
        usable=10, occupied=2, held=1, utilisation=0.5,
    )
    values.update(overrides)
    return Candidate(**values)  # type: ignore[arg-type]


def north_of(point: tuple[float, float], km: float) -> tuple[float, float]:
    return (point[0] + km / KM_PER_DEGREE_LAT, point[1])


# --- hard constraints --------------------------------------------------------------------------------------


def test_an_eligible_shelter_has_no_reasons_and_is_suggested() -> None:
    ranking = rank_shelters(make_profile(), [make_candidate()])
    assert hard_reasons(make_profile(), make_candidate()) == ()
    assert [s.shelter for s in ranking.suggestions] == ["S01"]
    assert ranking.excluded == ()


@pytest.mark.parametrize(("profile", "candidate", "code", "message"), [
    ({}, {"status": "closed"}, "status", "closed"),
    ({}, {"status": "suspended"}, "status", "suspended"),
    ({}, {"usable": 5, "occupied": 3, "held": 2}, "no_free_beds", "no free bed: 5 of 5 taken"),
    ({}, {"usable": 5, "occupied": 6, "held": 0}, "no_free_beds", "no free bed: 6 of 5 taken"),
    ({"children": 2}, {"usable": 5, "occupied": 3, "held": 1}, "no_free_beds",
     "not enough free beds: 1 free, 3 needed"),
    ({"sex": "male"}, {"sexes": frozenset({"female"})}, "sex", "does not take men"),
    ({"sex": "female"}, {"sexes": frozenset({"male"})}, "sex", "does not take women"),
    ({"sex": "male", "minor": True}, {"sexes": frozenset({"female"})}, "sex", "does not take boys"),
    ({"minor": True}, {"ages": "adults"}, "age", "does not take minors"),
    ({"minor": False}, {"ages": "minors"}, "age", "does not take adults"),
    ({"children": 2}, {"children_capacity": 1}, "children", "only 1 bed for accompanying children, 2 needed"),
    ({"children": 3}, {"children_capacity": 2}, "children", "only 2 beds for accompanying children, 3 needed"),
    ({"children": 1}, {"children_capacity": 0}, "children", "no beds for accompanying children, 1 needed"),
    ({"needs": frozenset({"psychological"})}, {"services": frozenset()}, "service", "no psychological care"),
    ({"needs": frozenset({"medical"})}, {"services": frozenset()}, "service", "no medical care"),
    ({"needs": frozenset({"legal"})}, {"services": frozenset()}, "service", "no legal aid"),
    ({"needs": frozenset({"interpretation"})}, {"services": frozenset()}, "service", "no interpretation"),
    ({"needs": frozenset({"vocational"})}, {"services": frozenset()}, "service", "no vocational training"),
    ({"needs": frozenset({"disability_access"})}, {"services": frozenset()}, "service", "no disability access"),
    ({"needs": frozenset({"child_care"})}, {"services": frozenset()}, "service", "no child care service"),
    ({"trafficker_regions": frozenset({"Prishtinë"})}, {}, "trafficker_region",
     "in a region linked to the traffickers"),
    ({"risk": "high"}, {"security": "standard"}, "security", "security standard, high risk needs high"),
    ({"exclude": frozenset({"S01"})}, {}, "excluded", "excluded by the requester"),
])
def test_each_hard_constraint_excludes_with_its_reason(profile: dict, candidate: dict, code: str,
                                                       message: str) -> None:
    victim, shelter = make_profile(**profile), make_candidate(**candidate)
    reasons = hard_reasons(victim, shelter)
    assert [(r.code, r.message) for r in reasons] == [(code, message)]
    ranking = rank_shelters(victim, [shelter])
    assert ranking.suggestions == ()
    assert [(e.shelter, e.reasons) for e in ranking.excluded] == [("S01", reasons)]


@pytest.mark.parametrize(("profile", "candidate", "values"), [
    ({}, {"status": "suspended"}, {"status": "suspended"}),
    ({}, {"usable": 4, "occupied": 3, "held": 1}, {"free": 0, "needed": 1, "taken": 4, "usable": 4}),
    ({}, {"usable": 0, "occupied": 0, "held": 0}, {"free": 0, "needed": 1}),
    ({"children": 2}, {"usable": 5, "occupied": 3, "held": 1}, {"free": 1, "needed": 3}),
    ({"sex": "male", "minor": True}, {"sexes": frozenset({"female"}), "ages": "all"}, {"sex": "male", "minor": True}),
    ({"minor": True}, {"ages": "adults"}, {"group": "minors"}),
    ({"children": 3}, {"children_capacity": 2}, {"capacity": 2, "needed": 3}),
    ({"needs": frozenset({"interpretation"})}, {"services": frozenset()}, {"service": "interpretation"}),
    ({"risk": "high"}, {"security": "standard"}, {"level": "standard", "needed": "high"}),
    ({"exclude": frozenset({"S01"})}, {}, {}),
])
def test_each_reason_carries_the_values_its_message_quotes(profile: dict, candidate: dict, values: dict) -> None:
    (reason,) = hard_reasons(make_profile(**profile), make_candidate(**candidate))
    assert reason.values == values
    (stored,) = rank_shelters(make_profile(**profile), [make_candidate(**candidate)]).as_json()[1]
    assert stored["values"] == [values]


def test_the_constraints_that_pass_by_a_margin_do_not_exclude() -> None:
    victim = make_profile(children=2, minor=True, risk="medium", needs=frozenset({"medical", "legal"}))
    shelter = make_candidate(usable=5, occupied=1, held=1, children_capacity=2, ages="minors", security="standard",
                             services=frozenset({"medical", "legal"}))
    assert hard_reasons(victim, shelter) == ()


def test_all_reasons_are_reported_together_in_a_fixed_order() -> None:
    victim = make_profile(sex="male", minor=True, children=2, needs=frozenset({"medical", "legal"}), risk="high",
                          trafficker_regions=frozenset({"Prizren"}), exclude=frozenset({"S09"}))
    shelter = make_candidate(code="S09", status="closed", region="Prizren", sexes=frozenset({"female"}),
                             ages="adults", children_capacity=1, services=frozenset(), security="standard",
                             usable=5, occupied=5, held=0)
    assert [(r.code, r.message) for r in hard_reasons(victim, shelter)] == [
        ("status", "closed"),
        ("no_free_beds", "no free bed: 5 of 5 taken"),
        ("sex", "does not take boys"),
        ("age", "does not take minors"),
        ("children", "only 1 bed for accompanying children, 2 needed"),
        ("service", "no legal aid"),
        ("service", "no medical care"),
        ("trafficker_region", "in a region linked to the traffickers"),
        ("security", "security standard, high risk needs high"),
        ("excluded", "excluded by the requester"),
    ]


def test_exclusion_summary_counts_shelters_per_reason() -> None:
    victim = make_profile(needs=frozenset({"medical", "legal"}))
    shelters = [
        make_candidate(code="A", services=frozenset()),  # two missing services: counted once
        make_candidate(code="B", services=frozenset({"medical"}), status="closed"),
        make_candidate(code="C", services=frozenset({"medical", "legal"}), usable=3, occupied=3),
        make_candidate(code="D", services=frozenset({"medical", "legal"})),
    ]
    ranking = rank_shelters(victim, shelters)
    assert [s.shelter for s in ranking.suggestions] == ["D"]
    assert ranking.exclusion_summary() == {"service": 2, "no_free_beds": 1, "status": 1}
    assert list(ranking.exclusion_summary()) == ["service", "no_free_beds", "status"]


def test_free_beds_take_out_of_service_occupied_and_held_beds() -> None:
    assert make_candidate(usable=10, occupied=4, held=3).free_beds == 3
    assert make_candidate(usable=2, occupied=4, held=3).free_beds == 0
    assert beds_needed(make_profile(children=0)) == 1
    assert beds_needed(make_profile(children=3)) == 4


def test_a_family_fits_exactly_the_free_beds() -> None:
    victim = make_profile(children=2)
    assert hard_reasons(victim, make_candidate(usable=5, occupied=2, held=0)) == ()
    assert [r.code for r in hard_reasons(victim, make_candidate(usable=5, occupied=2, held=1))] == ["no_free_beds"]


# --- soft terms --------------------------------------------------------------------------------------------


def test_haversine_is_a_great_circle_distance() -> None:
    assert haversine_km((0.0, 0.0), (0.0, 90.0)) == pytest.approx(6371.0 * math.pi / 2)
    assert haversine_km(PRISHTINE, PRISHTINE) == 0.0
    assert haversine_km(PRISHTINE, PRIZREN) == pytest.approx(haversine_km(PRIZREN, PRISHTINE))
    assert 55 < haversine_km(PRISHTINE, PRIZREN) < 65
    assert haversine_km(PRISHTINE, north_of(PRISHTINE, 75.0)) == pytest.approx(75.0)


@pytest.mark.parametrize(("km", "points"), [(0.0, 30), (75.0, 15), (149.0, 0), (150.0, 0), (400.0, 0),
                                            (30.0, 24)])
def test_distance_scores_near_the_victim(km: float, points: int) -> None:
    shelter = make_candidate()
    victim = make_profile(location=north_of(PRISHTINE, km))
    assert score_terms(victim, shelter, Weights(), None)["distance"] == points


@pytest.mark.parametrize(("km", "points"), [(0.0, 0), (75.0, 15), (150.0, 30), (400.0, 30)])
def test_distance_for_high_risk_scores_far_from_the_traffickers(km: float, points: int) -> None:
    centres = {"Mitrovicë": north_of(PRISHTINE, km), "Far": north_of(PRISHTINE, 1000.0)}
    victim = make_profile(risk="high", trafficker_regions=frozenset({"Mitrovicë", "Far"}), location=PRISHTINE)
    assert score_terms(victim, make_candidate(), Weights(), centres)["distance"] == points


def test_high_risk_without_known_trafficker_centres_scores_near_the_victim() -> None:
    victim = make_profile(risk="high", trafficker_regions=frozenset({"Nowhere"}), location=PRISHTINE)
    assert score_terms(victim, make_candidate(), Weights(), {"Prizren": PRIZREN})["distance"] == 30
    assert score_terms(victim, make_candidate(), Weights(), None)["distance"] == 30


def test_low_risk_ignores_the_trafficker_regions_for_distance() -> None:
    victim = make_profile(risk="low", trafficker_regions=frozenset({"Here"}), location=PRISHTINE)
    assert score_terms(victim, make_candidate(), Weights(), {"Here": PRISHTINE})["distance"] == 30


@pytest.mark.parametrize(("profile", "candidate"), [
    ({"location": None}, {}),
    ({}, {"lat": None}),
    ({}, {"lon": None}),
    ({"risk": "high", "trafficker_regions": frozenset({"Prizren"})}, {"lat": None, "lon": None}),
])
def test_distance_is_zero_when_a_position_is_missing(profile: dict, candidate: dict) -> None:
    terms = score_terms(make_profile(**profile), make_candidate(**candidate), Weights(), {"Prizren": PRIZREN})
    assert terms["distance"] == 0


def test_language_scores_in_full_when_one_is_shared() -> None:
    shelter = make_candidate(languages=frozenset({"sq", "en"}))
    assert score_terms(make_profile(languages=frozenset({"en", "ro"})), shelter, Weights(), None)["language"] == 25
    assert score_terms(make_profile(languages=frozenset({"ro"})), shelter, Weights(), None)["language"] == 0
    assert score_terms(make_profile(languages=frozenset()), shelter, Weights(), None)["language"] == 0


@pytest.mark.parametrize(("extra", "points"), [(0, 0), (1, 3), (2, 5), (3, 8), (4, 10), (6, 10)])
def test_extra_services_beyond_the_needs_score_up_to_four(extra: int, points: int) -> None:
    # 10 * 1/4 = 2.5 rounds up to 3: half up, never half to even.
    services = frozenset({"psychological"} | {f"extra{i}" for i in range(extra)})
    terms = score_terms(make_profile(), make_candidate(services=services), Weights(), None)
    assert terms["services"] == points


@pytest.mark.parametrize(("utilisation", "points"), [(0.0, 35), (0.5, 18), (0.9, 4), (1.0, 0), (1.3, 0),
                                                     (-0.2, 35), (float("nan"), 0)])
def test_low_utilisation_scores_first(utilisation: float, points: int) -> None:
    terms = score_terms(make_profile(), make_candidate(utilisation=utilisation), Weights(), None)
    assert terms["utilisation"] == points


def test_weights_scale_every_term() -> None:
    weights = Weights(distance=10, max_distance_km=50.0, language=7, services=4, utilisation=100)
    victim = make_profile(location=north_of(PRISHTINE, 25.0))
    shelter = make_candidate(services=frozenset({"psychological", "medical", "legal"}), utilisation=0.25)
    assert score_terms(victim, shelter, weights, None) == {"distance": 5, "language": 7, "services": 2,
                                                          "utilisation": 75}


def test_weights_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Weights(language=-1)
    with pytest.raises(ValueError):
        Weights(max_distance_km=0.0)


# --- ranking -----------------------------------------------------------------------------------------------


def test_ranking_is_by_score_then_code() -> None:
    shelters = [
        make_candidate(code="C", utilisation=0.0),
        make_candidate(code="B", utilisation=0.5),
        make_candidate(code="A", utilisation=0.5),
        make_candidate(code="D", utilisation=1.0),
    ]
    ranking = rank_shelters(make_profile(), shelters)
    assert [s.shelter for s in ranking.suggestions] == ["C", "A", "B", "D"]
    assert all(s.score == sum(s.terms.values()) for s in ranking.suggestions)
    assert ranking.suggestions[0].terms == {"distance": 30, "language": 25, "services": 0, "utilisation": 35}
    assert ranking.suggestions[0].score == 90


def test_same_input_same_output_whatever_the_order() -> None:
    rng = random.Random(7)
    shelters = [make_candidate(code=f"S{i:02d}", utilisation=rng.choice([0.0, 0.5, 1.0]),
                               lat=PRISHTINE[0] + rng.choice([0.0, 0.3]), status=rng.choice(["open", "closed"]))
                for i in range(20)]
    first = rank_shelters(make_profile(), shelters)
    for _ in range(5):
        rng.shuffle(shelters)
        assert rank_shelters(make_profile(), shelters) == first
    assert [e.shelter for e in first.excluded] == sorted(e.shelter for e in first.excluded)


def test_one_table_ranks_the_same_shelters_for_many_victims() -> None:
    shelters = [make_candidate(code=f"S{i:02d}", utilisation=i / 10, sexes=frozenset({"female"} if i % 2 else {"male"}))
                for i in range(10)]
    table = CandidateTable(reversed(shelters))
    for victim in (make_profile(sex="female"), make_profile(sex="male"), make_profile(children=9)):
        assert rank_shelters(victim, table) == rank_shelters(victim, shelters)


def columns_of(shelters: list[Candidate]) -> dict[str, list[object]]:
    return {name: [getattr(c, name) for c in shelters] for name in CANDIDATE_FIELDS}


def test_a_table_of_columns_is_the_table_of_its_candidates() -> None:
    shelters = [make_candidate(code=f"S{i:02d}", lat=None if i == 3 else PRISHTINE[0],
                               status="closed" if i == 5 else "open", sexes=frozenset({"female"} if i % 2 else {"male"}),
                               occupied=i, utilisation=i / 10)
                for i in range(10)]
    table = CandidateTable.of_columns(**columns_of(list(reversed(shelters))))
    assert table.codes == sorted(c.code for c in shelters)
    assert table.candidates == tuple(sorted(shelters, key=lambda c: c.code))
    assert table.candidate(3) == shelters[3] and table.column("occupied") == list(range(10))
    for victim in (make_profile(sex="female"), make_profile(sex="male"), make_profile(children=9)):
        assert rank_shelters(victim, table) == rank_shelters(victim, shelters)


def test_columns_must_be_whole() -> None:
    columns = columns_of([make_candidate(code="A"), make_candidate(code="B")])
    with pytest.raises(ValueError):
        CandidateTable.of_columns(**{name: values for name, values in columns.items() if name != "held"})
    with pytest.raises(ValueError):
        CandidateTable.of_columns(**(columns | {"held": [1]}))
    with pytest.raises(ValueError):
        CandidateTable.of_columns(**(columns | {"code": ["A", "A"]}))
    assert len(CandidateTable.of_columns(**{name: [] for name in CANDIDATE_FIELDS})) == 0


def test_as_json_explains_every_shelter_as_stored() -> None:
    shelters = [make_candidate(code="OK"), make_candidate(code="MEN", sexes=frozenset({"male"})),
                make_candidate(code="FULL", occupied=10, sexes=frozenset({"male"}))]
    suggestions, excluded = rank_shelters(make_profile(), shelters).as_json()
    assert suggestions == [{"shelter": "OK", "score": suggestions[0]["score"],
                            "terms": rank_shelters(make_profile(), shelters).suggestions[0].terms}]
    assert excluded == [
        {"shelter": "FULL", "reasons": ["no free bed: 11 of 10 taken", "does not take women"],
         "codes": ["no_free_beds", "sex"],
         "values": [{"free": 0, "needed": 1, "taken": 11, "usable": 10}, {"sex": "female", "minor": False}]},
        {"shelter": "MEN", "reasons": ["does not take women"], "codes": ["sex"],
         "values": [{"sex": "female", "minor": False}]},
    ]


@pytest.mark.parametrize(("points", "band", "shown"), [
    (0, 0, 0), (1, 1, 0), (7, 1, 0), (8, 2, 7), (15, 2, 7), (16, 3, 15), (22, 3, 15), (23, 4, 22), (30, 4, 22),
])
def test_an_officer_reads_a_distance_in_quarters_of_the_scale(points: int, band: int, shown: int) -> None:
    """With 30 points over 150 km a point is 5 km; a band is 37.5 km, shown by its lower edge's points."""
    assert distance_band(points, 30) == (band, shown)


@given(weight=st.integers(0, 100), points=st.integers(0, 100))
def test_a_distance_band_hides_the_exact_points_and_never_adds_any(weight: int, points: int) -> None:
    points = min(points, weight)
    band, shown = distance_band(points, weight)
    assert 0 <= shown <= points and 0 <= band <= 4
    assert (band == 0) == (points == 0 or weight == 0)
    # Every exact value in the same band shows the same: the band is all an officer learns.
    same_band = [p for p in range(weight + 1) if distance_band(p, weight)[0] == band]
    assert {distance_band(p, weight)[1] for p in same_band} == {shown}
    if weight >= 8 and 0 < band:
        assert len(same_band) >= weight // 4
    (banded,) = banded_suggestions([{"shelter": "S", "score": points + 5, "terms": {
        "distance": points, "language": 5, "services": 0, "utilisation": 0}}], weight)
    assert banded == {"distance_band": band, "score": shown + 5, "shelter": "S", "terms": {
        "distance": shown, "language": 5, "services": 0, "utilisation": 0}}


def test_duplicate_codes_are_refused() -> None:
    with pytest.raises(ValueError):
        rank_shelters(make_profile(), [make_candidate(code="A"), make_candidate(code="A")])


# --- property: the ranking never suggests what the rules forbid ----------------------------------------------

SERVICES = ["psychological", "medical", "legal", "interpretation", "vocational", "disability_access"]
LANGUAGES = ["sq", "sr", "en", "tr", "ro"]
REGIONS = ["Prishtinë", "Prizren", "Pejë", "Mitrovicë", "Gjilan", "Unmapped"]
CENTRES = {"Prishtinë": PRISHTINE, "Prizren": PRIZREN, "Pejë": (42.659, 20.288), "Mitrovicë": (42.891, 20.866),
           "Gjilan": (42.464, 21.469)}
CODES = [f"S{i}" for i in range(8)]

positions = st.tuples(st.floats(41.8, 43.3), st.floats(19.9, 21.9))
profiles = st.builds(
    Profile,
    sex=st.sampled_from(["female", "male"]), minor=st.booleans(), children=st.integers(0, 4),
    needs=st.frozensets(st.sampled_from(SERVICES), max_size=3), languages=st.frozensets(st.sampled_from(LANGUAGES)),
    risk=st.sampled_from(["low", "medium", "high"]), trafficker_regions=st.frozensets(st.sampled_from(REGIONS)),
    location=st.none() | positions, exclude=st.frozensets(st.sampled_from(CODES), max_size=2),
)


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    codes = draw(st.lists(st.sampled_from(CODES), unique=True, max_size=len(CODES)))
    shelters = []
    for code in codes:
        position = draw(st.none() | positions)
        shelters.append(Candidate(
            code=code, name=code, status=draw(st.sampled_from(["open", "open", "suspended", "closed"])),
            region=draw(st.sampled_from(REGIONS)), lat=position[0] if position else None,
            lon=position[1] if position else None,
            sexes=draw(st.frozensets(st.sampled_from(["female", "male"]), min_size=1)),
            ages=draw(st.sampled_from(["adults", "minors", "all"])), children_capacity=draw(st.integers(0, 4)),
            services=draw(st.frozensets(st.sampled_from(SERVICES))),
            languages=draw(st.frozensets(st.sampled_from(LANGUAGES))),
            security=draw(st.sampled_from(["standard", "high"])), usable=draw(st.integers(0, 8)),
            occupied=draw(st.integers(0, 8)), held=draw(st.integers(0, 3)),
            utilisation=draw(st.floats(-0.5, 1.5)),
        ))
    return shelters


def violated(victim: Profile, shelter: Candidate) -> set[str]:
    """The hard constraints restated from the design, independently of the engine."""
    broken = set()
    if shelter.status != "open":
        broken.add("status")
    if shelter.usable - shelter.occupied - shelter.held < 1 + victim.children:
        broken.add("no_free_beds")
    if victim.sex not in shelter.sexes:
        broken.add("sex")
    if (victim.minor and shelter.ages == "adults") or (not victim.minor and shelter.ages == "minors"):
        broken.add("age")
    if victim.children > shelter.children_capacity:
        broken.add("children")
    if not victim.needs <= shelter.services:
        broken.add("service")
    if shelter.region in victim.trafficker_regions:
        broken.add("trafficker_region")
    if victim.risk == "high" and shelter.security != "high":
        broken.add("security")
    if shelter.code in victim.exclude:
        broken.add("excluded")
    return broken


@settings(max_examples=120, deadline=None, derandomize=True)
@given(victim=profiles, shelters=candidates(), weights=st.builds(
    Weights, distance=st.integers(0, 50), max_distance_km=st.floats(1.0, 300.0), language=st.integers(0, 50),
    services=st.integers(0, 50), utilisation=st.integers(0, 50)))
def test_ranking_respects_every_hard_constraint(victim: Profile, shelters: list[Candidate], weights: Weights) -> None:
    ranking = rank_shelters(victim, shelters, weights, CENTRES)
    by_code = {c.code: c for c in shelters}
    suggested = [s.shelter for s in ranking.suggestions]
    excluded = [e.shelter for e in ranking.excluded]

    assert sorted(suggested + excluded) == sorted(by_code)  # each candidate exactly once
    for code in suggested:
        assert violated(victim, by_code[code]) == set()
    for exclusion in ranking.excluded:
        assert exclusion.reasons, f"{exclusion.shelter} excluded without a reason"
        assert {r.code for r in exclusion.reasons} == violated(victim, by_code[exclusion.shelter])
        assert all(r.message for r in exclusion.reasons)
        # Ranked on columns, explained exactly as shelter by shelter.
        assert exclusion.reasons == hard_reasons(victim, by_code[exclusion.shelter])
    for s in ranking.suggestions:
        assert s.terms == score_terms(victim, by_code[s.shelter], weights, CENTRES)
    assert ranking.scores() == {s.shelter: s.score for s in ranking.suggestions}
    assert ranking.exclusion_summary() == Ranking(ranking.suggestions, ranking.excluded).exclusion_summary()
    assert excluded == sorted(excluded)

    limits = {"distance": weights.distance, "language": weights.language, "services": weights.services,
              "utilisation": weights.utilisation}
    for s in ranking.suggestions:
        assert list(s.terms) == ["distance", "language", "services", "utilisation"]
        assert s.score == sum(s.terms.values())
        assert all(0 <= s.terms[name] <= limits[name] for name in limits)
    keys = [(-s.score, s.shelter) for s in ranking.suggestions]
    assert keys == sorted(keys)
    assert rank_shelters(victim, list(reversed(shelters)), weights, CENTRES) == ranking
    # Gathered as columns, the same ranking; its JSON says what the objects say.
    from_columns = rank_shelters(victim, CandidateTable.of_columns(**columns_of(shelters)), weights, CENTRES)
    as_objects = Ranking(ranking.suggestions, ranking.excluded)
    assert from_columns.as_json() == as_objects.as_json()
    encoded = tuple(json.dumps(value, sort_keys=True, separators=(",", ":")) for value in as_objects.as_json())
    assert from_columns.as_json_text() == as_objects.as_json_text() == encoded
    # What an officer is shown: the same suggestions, their distances in bands, encoded alike either way.
    banded = banded_suggestions(as_objects.as_json()[0], weights.distance)
    assert [b["shelter"] for b in banded] == suggested
    assert from_columns.banded_suggestions_text(weights.distance) == as_objects.banded_suggestions_text(
        weights.distance) == json.dumps(banded, sort_keys=True, separators=(",", ":"))
    assert from_columns == ranking

