"""The engine against its own rules on many shelters at once, most of them eligible, and the edges of each rule.

The property test in test_engine.py draws shelters field by field, so almost none is eligible and the column scores
are barely compared with `score_terms`. Here each example builds hundreds of shelters around the victim: most meet
every hard constraint (some with exactly enough free beds), the rest break one or two on purpose, and every
suggestion's terms are compared with `score_terms`, high-risk cases measured from the region centres included.
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placement.engine import (
    Candidate,
    CandidateTable,
    Exclusion,
    Profile,
    Ranking,
    Reason,
    Suggestion,
    Weights,
    banded_suggestions,
    distance_band,
    hard_reasons,
    haversine_km,
    rank_shelters,
    score_terms,
)
from tests.placement.test_engine import CENTRES, LANGUAGES, PRISHTINE, REGIONS, SERVICES, make_candidate, \
    make_profile, north_of, violated

BREAKABLE = ("status", "no_free_beds", "sex", "age", "children", "service", "trafficker_region", "security",
             "excluded")

victims = st.builds(
    Profile,
    sex=st.sampled_from(["female", "male"]), minor=st.booleans(), children=st.integers(0, 3),
    needs=st.frozensets(st.sampled_from(SERVICES), max_size=3), languages=st.frozensets(st.sampled_from(LANGUAGES)),
    # high risk half the time, with trafficker regions that have centres (and one that has none)
    risk=st.sampled_from(["high", "high", "low", "medium"]),
    trafficker_regions=st.frozensets(st.sampled_from(REGIONS), min_size=1, max_size=3),
    location=st.none() | st.tuples(st.floats(41.8, 43.3), st.floats(19.9, 21.9)),
)


def shelters_around(victim: Profile, rng: random.Random, n: int) -> tuple[list[Candidate], frozenset[str]]:
    """`n` shelters, about three in four meeting every hard constraint for `victim`, the rest breaking one or two;
    and the codes the requester excludes (those meant to break "excluded")."""
    needed = 1 + victim.children
    other_sex = "male" if victim.sex == "female" else "female"
    safe_regions = [r for r in REGIONS if r not in victim.trafficker_regions] or ["Elsewhere"]
    shelters, excluded = [], set()
    for i in range(n):
        code = f"S{i:04d}"
        breaks = set() if rng.random() < 0.75 else set(rng.sample(BREAKABLE, rng.choice((1, 1, 2))))
        occupied, held = rng.randint(0, 6), rng.randint(0, 2)
        if "no_free_beds" in breaks:
            usable = rng.choice((0, occupied + held + rng.randint(0, needed - 1)))
        else:
            usable = occupied + held + needed + rng.choice((0, 0, 1, 2, 5))  # often exactly enough
        ages = rng.choice(("all", "minors" if victim.minor else "adults"))
        if "age" in breaks:
            ages = "adults" if victim.minor else "minors"
        services = set(victim.needs) | set(rng.sample(SERVICES, rng.randint(0, len(SERVICES))))
        if "service" in breaks and victim.needs:
            services -= {rng.choice(sorted(victim.needs))}
        position = None if rng.random() < 0.1 else (rng.uniform(41.8, 43.3), rng.uniform(19.9, 21.9))
        if "excluded" in breaks:
            excluded.add(code)
        shelters.append(Candidate(
            code=code, name=f"Shelter {i}",
            status=rng.choice(("suspended", "closed")) if "status" in breaks else "open",
            region=rng.choice(sorted(victim.trafficker_regions)) if "trafficker_region" in breaks
            else rng.choice(safe_regions),
            lat=position[0] if position else None, lon=position[1] if position else None,
            sexes=frozenset({other_sex}) if "sex" in breaks else frozenset(
                rng.choice(({victim.sex}, {"female", "male"}))),
            ages=ages,
            children_capacity=rng.randint(0, victim.children - 1) if "children" in breaks and victim.children
            else victim.children + rng.choice((0, 0, 1, 3)),
            services=frozenset(services),
            languages=frozenset(rng.sample(LANGUAGES, rng.randint(0, 2))),
            security="standard" if "security" in breaks else (
                "high" if victim.risk == "high" else rng.choice(("standard", "high"))),
            usable=usable, occupied=occupied, held=held,
            utilisation=rng.choice((math.nan, rng.uniform(-0.2, 1.3), rng.uniform(0, 1), rng.uniform(0, 1))),
        ))
    rng.shuffle(shelters)
    return shelters, frozenset(excluded)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(victim=victims, seed=st.integers(0, 2**32 - 1), n=st.integers(100, 300), weights=st.builds(
    Weights, distance=st.integers(0, 50), max_distance_km=st.floats(5.0, 300.0), language=st.integers(0, 50),
    services=st.integers(0, 50), utilisation=st.integers(0, 50)))
def test_ranking_on_hundreds_of_mostly_eligible_shelters(victim: Profile, seed: int, n: int, weights: Weights) -> None:
    shelters, excluded = shelters_around(victim, random.Random(seed), n)
    victim = dataclasses.replace(victim, exclude=excluded)
    by_code = {c.code: c for c in shelters}
    ranking = rank_shelters(victim, shelters, weights, CENTRES)

    assert len(ranking.suggestions) + len(ranking.excluded) == n
    assert len(ranking.suggestions) > n // 2  # mostly eligible, as generated
    assert ranking.excluded  # and some not
    for exclusion in ranking.excluded:
        assert exclusion.reasons, f"{exclusion.shelter} excluded without a reason"
        assert {r.code for r in exclusion.reasons} == violated(victim, by_code[exclusion.shelter])
        assert exclusion.reasons == hard_reasons(victim, by_code[exclusion.shelter])
    for suggestion in ranking.suggestions:
        shelter = by_code[suggestion.shelter]
        assert violated(victim, shelter) == set() and hard_reasons(victim, shelter) == ()
        assert suggestion.terms == score_terms(victim, shelter, weights, CENTRES), suggestion.shelter
        assert suggestion.score == sum(suggestion.terms.values())
    keys = [(-s.score, s.shelter) for s in ranking.suggestions]
    assert keys == sorted(keys)
    assert ranking.scores() == {s.shelter: s.score for s in ranking.suggestions}
    assert rank_shelters(victim, CandidateTable(reversed(shelters)), weights, CENTRES) == ranking


# --- the edges of single rules ----------------------------------------------------------------------------------

def test_exactly_enough_free_beds_is_eligible_and_one_fewer_is_not() -> None:
    family = make_profile(children=2)  # three beds
    exact = make_candidate(code="EXACT", usable=6, occupied=2, held=1)
    short = make_candidate(code="SHORT", usable=5, occupied=2, held=1)
    ranking = rank_shelters(family, [exact, short])
    assert [s.shelter for s in ranking.suggestions] == ["EXACT"]
    assert ranking.excluded[0].reasons == (Reason("no_free_beds", "not enough free beds: 2 free, 3 needed",
                                                        {"free": 2, "needed": 3}),)
    assert hard_reasons(family, exact) == ()
    assert exact.free_beds == 3 and short.free_beds == 2


@pytest.mark.parametrize(("usable", "occupied", "held", "message", "values"), [
    (0, 0, 0, "no free bed: no usable beds", {"free": 0, "needed": 1}),
    (-1, 0, 0, "no free bed: no usable beds", {"free": 0, "needed": 1}),
    (3, 2, 1, "no free bed: 3 of 3 taken", {"free": 0, "needed": 1, "taken": 3, "usable": 3}),
    (3, 3, 1, "no free bed: 4 of 3 taken", {"free": 0, "needed": 1, "taken": 4, "usable": 3}),
    (4, 1, 1, None, None),
])
def test_no_free_bed_messages(usable: int, occupied: int, held: int, message: str | None,
                              values: dict[str, int] | None) -> None:
    victim = make_profile()
    shelter = make_candidate(usable=usable, occupied=occupied, held=held)
    expected = () if message is None else (Reason("no_free_beds", message, values),)
    assert hard_reasons(victim, shelter) == expected
    ranking = rank_shelters(victim, [shelter])
    assert (ranking.excluded[0].reasons if ranking.excluded else ()) == expected
    assert shelter.free_beds == max(0, usable - occupied - held)


def test_no_language_in_common_scores_no_language_point() -> None:
    weights = Weights(language=25)
    victim = make_profile(languages=frozenset({"ro"}))
    far = make_candidate(code="A", languages=frozenset({"sq", "en"}))
    near = make_candidate(code="B", languages=frozenset({"ro"}))
    none = make_candidate(code="C", languages=frozenset())
    assert score_terms(victim, far, weights, None)["language"] == 0
    assert score_terms(victim, near, weights, None)["language"] == 25
    assert score_terms(make_profile(languages=frozenset()), none, weights, None)["language"] == 0
    terms = {s.shelter: s.terms["language"] for s in rank_shelters(victim, [far, near, none], weights).suggestions}
    assert terms == {"A": 0, "B": 25, "C": 0}


def test_high_risk_distance_grows_away_from_the_traffickers_region() -> None:
    weights = Weights(distance=30, max_distance_km=150.0)
    victim = make_profile(risk="high", trafficker_regions=frozenset({"Prizren"}), location=PRISHTINE)
    centre = CENTRES["Prizren"]
    at_centre = make_candidate(code="A", region="Gjilan", lat=centre[0], lon=centre[1])
    half = north_of(centre, 75.0)
    halfway = make_candidate(code="B", region="Gjilan", lat=half[0], lon=half[1])
    beyond = north_of(centre, 200.0)
    far = make_candidate(code="C", region="Gjilan", lat=beyond[0], lon=beyond[1])
    expected = {"A": 0, "B": 15, "C": 30}
    for shelter in (at_centre, halfway, far):
        assert score_terms(victim, shelter, weights, CENTRES)["distance"] == expected[shelter.code]
    ranked = rank_shelters(victim, [at_centre, halfway, far], weights, CENTRES)
    assert {s.shelter: s.terms["distance"] for s in ranked.suggestions} == expected
    # not high risk: measured from the victim, so the shelter at the traffickers' centre is not the worst
    low = dataclasses.replace(victim, risk="medium")
    near_victim = make_candidate(code="D", region="Gjilan", lat=PRISHTINE[0], lon=PRISHTINE[1])
    assert score_terms(low, near_victim, weights, CENTRES)["distance"] == 30
    assert {s.shelter: s.terms["distance"] for s in rank_shelters(low, [near_victim], weights, CENTRES).suggestions} \
        == {"D": 30}


def test_high_risk_without_known_centres_measures_from_the_victim() -> None:
    weights = Weights(distance=30, max_distance_km=150.0)
    victim = make_profile(risk="high", trafficker_regions=frozenset({"Unmapped"}), location=PRISHTINE)
    here = make_candidate(code="A", region="Gjilan", lat=PRISHTINE[0], lon=PRISHTINE[1])
    assert score_terms(victim, here, weights, CENTRES)["distance"] == 30
    assert rank_shelters(victim, [here], weights, CENTRES).suggestions[0].terms["distance"] == 30
    unplaced = dataclasses.replace(victim, location=None)
    assert score_terms(unplaced, here, weights, CENTRES)["distance"] == 0
    assert rank_shelters(unplaced, [here], weights, CENTRES).suggestions[0].terms["distance"] == 0


def test_default_weights_and_their_checks() -> None:
    assert Weights() == Weights(distance=30, max_distance_km=150.0, language=25, services=10, utilisation=35)
    for bad in ({"distance": -1}, {"language": -1}, {"services": -1}, {"utilisation": -1}, {"max_distance_km": 0.0},
                {"max_distance_km": -5.0}, {"max_distance_km": math.inf}, {"max_distance_km": math.nan}):
        with pytest.raises(ValueError):
            Weights(**bad)
    assert Weights(distance=0, language=0, services=0, utilisation=0, max_distance_km=0.001).distance == 0


def test_suggestions_hash_without_their_terms() -> None:
    assert hash(Suggestion("A", 3, {"distance": 3})) == hash(Suggestion("A", 3, {"language": 3}))
    assert len({Exclusion("A", (Reason("status", "closed"),)), Exclusion("A", (Reason("status", "closed"),))}) == 1


def test_a_ranking_made_of_objects_answers_as_one_made_of_columns() -> None:
    victim = make_profile()
    shelters = [make_candidate(code="A"), make_candidate(code="B", utilisation=0.9),
                make_candidate(code="C", status="closed"), make_candidate(code="D", usable=0)]
    columns = rank_shelters(victim, shelters)
    objects = Ranking(columns.suggestions, columns.excluded)
    assert objects.scores() == columns.scores() == {"A": 73, "B": 59}
    assert objects.as_json() == columns.as_json()
    assert objects.as_json_text() == columns.as_json_text()
    assert objects.banded_suggestions_text(30) == columns.banded_suggestions_text(30)
    assert objects.exclusion_summary() == columns.exclusion_summary() == {"no_free_beds": 1, "status": 1}
    assert objects == columns and not (objects != columns)
    assert (objects == "a ranking") is False
    assert repr(objects) == repr(columns)


def test_rankings_differing_only_in_their_exclusions_differ() -> None:
    ranking = rank_shelters(make_profile(), [make_candidate(code="A"), make_candidate(code="C", status="closed")])
    assert Ranking(ranking.suggestions, ()) != ranking
    assert Ranking((), ranking.excluded) != ranking
    assert Ranking(ranking.suggestions, ranking.excluded) == ranking


def test_antipodes_where_rounding_passes_one() -> None:
    # Here the haversine term comes out as 1.0000000000000002: clamped to 1, half the circumference.
    a, b = (-11.056008330198168, -1.4992175852974583), (11.056008330198168, 178.50078241470254)
    assert haversine_km(a, b) == pytest.approx(math.pi * 6371.0)
    assert haversine_km(a, a) == 0.0


def test_one_usable_bed_taken_is_not_no_usable_beds() -> None:
    shelter = make_candidate(usable=1, occupied=1, held=0)
    assert hard_reasons(make_profile(), shelter) == (Reason("no_free_beds", "no free bed: 1 of 1 taken",
                                                                              {"free": 0, "needed": 1, "taken": 1,
                                                                               "usable": 1}),)
    assert rank_shelters(make_profile(), [shelter]).excluded[0].reasons == hard_reasons(make_profile(), shelter)


@pytest.mark.parametrize(("points", "weight", "band"), [
    (0, 30, (0, 0)), (3, 0, (0, 0)), (-2, 30, (0, 0)), (5, -1, (0, 0)),
    (1, 1, (4, 0)),      # the smallest weight: a point is the nearest band, shown as its lower edge 0
    (1, 2, (2, 0)), (2, 2, (4, 1)),
])
def test_distance_bands_at_the_smallest_weights(points: int, weight: int, band: tuple[int, int]) -> None:
    assert distance_band(points, weight) == band
    (banded,) = banded_suggestions([{"shelter": "S", "score": points, "terms": {"distance": points}}], weight)
    assert (banded["distance_band"], banded["terms"]["distance"]) == band


def test_a_suggestion_without_a_distance_term_is_in_no_band() -> None:
    (banded,) = banded_suggestions([{"shelter": "S", "score": 5, "terms": {"language": 5}}], 30)
    assert banded == {"distance_band": 0, "score": 5, "shelter": "S", "terms": {"language": 5, "distance": 0}}


@pytest.mark.parametrize(("lat", "lon"), [(42.6, math.nan), (math.nan, 21.1), (42.6, math.inf), (None, 21.1)])
def test_a_shelter_needs_both_coordinates_finite_to_score_distance(lat: float | None, lon: float | None) -> None:
    victim = make_profile(location=PRISHTINE)
    shelter = make_candidate(lat=lat, lon=lon)
    assert score_terms(victim, shelter, Weights(), None)["distance"] == 0
    assert rank_shelters(victim, [shelter]).suggestions[0].terms["distance"] == 0
    # nor does a victim's position with one coordinate missing
    placed = make_candidate()
    assert score_terms(make_profile(location=(42.6, math.nan)), placed, Weights(), None)["distance"] == 0
    assert rank_shelters(make_profile(location=(42.6, math.nan)), [placed]).suggestions[0].terms["distance"] == 0


def test_a_shelter_at_the_antipode_of_the_traffickers_region_is_as_far_as_can_be() -> None:
    a, b = (-11.056008330198168, -1.4992175852974583), (11.056008330198168, 178.50078241470254)
    victim = make_profile(risk="high", trafficker_regions=frozenset({"Far"}), location=None)
    shelter = make_candidate(region="Gjilan", lat=a[0], lon=a[1])
    weights = Weights(distance=30)
    assert score_terms(victim, shelter, weights, {"Far": b})["distance"] == 30
    assert rank_shelters(victim, [shelter], weights, {"Far": b}).suggestions[0].terms["distance"] == 30


def test_exclusions_quoting_different_figures_are_not_grouped_together() -> None:
    victim = make_profile(risk="high", children=1)
    shelters = [make_candidate(code="A", security="standard"), make_candidate(code="B", security="basic"),
                make_candidate(code="C", status="closed"), make_candidate(code="D", status="suspended"),
                make_candidate(code="E", usable=3, occupied=2, held=0), make_candidate(code="F", usable=4, occupied=3,
                                                                                       held=0),
                make_candidate(code="G", children_capacity=0), make_candidate(code="H", children_capacity=-1)]
    ranking = rank_shelters(victim, shelters)
    by_code = {c.code: c for c in shelters}
    assert [e.shelter for e in ranking.excluded] == list("ABCDEFGH")
    for exclusion in ranking.excluded:
        assert exclusion.reasons == hard_reasons(victim, by_code[exclusion.shelter])
    messages = {e.shelter: [r.message for r in e.reasons] for e in ranking.excluded}
    assert messages["A"] == ["security standard, high risk needs high"]
    assert messages["B"] == ["security basic, high risk needs high"]
    assert messages["C"] == ["closed"] and messages["D"] == ["suspended"]


def test_distinct_rows_of_small_and_of_very_wide_keys() -> None:
    from placement.engine import _distinct_rows

    first, group = _distinct_rows(np.array([[0, 1], [1, 2], [0, 1], [5, 0]], dtype=np.int64))
    assert sorted(first.tolist()) == [0, 1, 3]  # the first row of each group
    assert all(group[row] == g for g, row in enumerate(first.tolist()))
    assert group[0] == group[2] and len({group[0], group[1], group[3]}) == 3
    # spans whose product passes 2**62: numbered as 64-bit integers, (0, 2**32) would wrap round to (0, 0)
    wide = np.array([[0, 0], [2**32 - 1, 0], [0, 2**32], [0, 0]], dtype=np.int64)
    first, group = _distinct_rows(wide)
    assert sorted(first.tolist()) == [0, 1, 2]
    assert all(group[row] == g for g, row in enumerate(first.tolist()))
    assert group[0] == group[3] and len({group[0], group[1], group[2]}) == 3
    empty_first, empty_group = _distinct_rows(np.zeros((0, 3), dtype=np.int64))
    assert (empty_first.tolist(), empty_group.tolist()) == ([], [])
