"""Batch assignment: small instances with a known optimum, and random instances checked against an
independent reference (scipy's HiGHS MILP on the same lexicographic integer objective)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from placement.batch import BatchRequest, BatchResult, batch_assign, check_assignment, objective_weights


def one(id: int, options: Mapping[str, int], urgent: bool = False, beds: int = 1) -> BatchRequest:
    return BatchRequest(id=id, beds=beds, urgent=urgent, options=dict(options))


def assert_consistent(requests: Sequence[BatchRequest], free: Mapping[str, int], result: BatchResult) -> None:
    """What every result promises, restated from the interface."""
    assert check_assignment(requests, free, result.assignment) == []
    by_id = {r.id: r for r in requests}
    w_urgent, w_placed = reference_weights(requests)
    assert result.placed == len(result.assignment)
    assert result.urgent_placed == sum(by_id[i].urgent for i in result.assignment)
    assert result.score == sum(by_id[i].options[c] for i, c in result.assignment.items())
    assert result.objective == w_urgent * result.urgent_placed + w_placed * result.placed + result.score
    assert result.bound >= result.objective
    if result.optimal:
        assert result.bound == result.objective and result.gap == 0.0


# --- the independent reference -----------------------------------------------------------------------------


def reference_weights(requests: Sequence[BatchRequest]) -> tuple[int, int]:
    n = len(requests)
    top = max((s for r in requests for s in r.options.values()), default=0)
    w_placed = (top + 1) * (n + 1)
    return w_placed * (n + 1), w_placed


def reference_objective(requests: Sequence[BatchRequest], free: Mapping[str, int]) -> int:
    """The optimum by HiGHS: binary x per (request, option), at most one option per request, beds
    within each shelter's free beds (0 if unknown), maximising the lexicographic integer objective."""
    w_urgent, w_placed = reference_weights(requests)
    pairs = [(r, code, score) for r in requests for code, score in r.options.items()]
    if not pairs:
        return 0
    shelters = sorted({code for _, code, _ in pairs})
    c = np.array([-(w_urgent * r.urgent + w_placed + score) for r, _, score in pairs], dtype=float)
    one_each = np.zeros((len(requests), len(pairs)))
    capacity = np.zeros((len(shelters), len(pairs)))
    for k, (r, code, _) in enumerate(pairs):
        one_each[requests.index(r), k] = 1
        capacity[shelters.index(code), k] = r.beds
    result = milp(c, integrality=np.ones(len(pairs)), bounds=Bounds(0, 1),
                  constraints=[LinearConstraint(one_each, -np.inf, 1),
                               LinearConstraint(capacity, -np.inf, [max(0, free.get(s, 0)) for s in shelters])],
                  options={"mip_rel_gap": 0})
    assert result.success
    chosen = {r.id: code for (r, code, _), x in zip(pairs, result.x) if x > 0.5}
    assert check_assignment(requests, free, chosen) == []
    return sum(w_urgent * r.urgent + w_placed + score for (r, code, score), x in zip(pairs, result.x) if x > 0.5)


# --- known optima ------------------------------------------------------------------------------------------


def test_urgent_beats_a_higher_score() -> None:
    requests = [one(1, {"A": 100}), one(2, {"A": 0}, urgent=True)]
    result = batch_assign(requests, {"A": 1})
    assert result.assignment == {2: "A"}
    assert (result.method, result.optimal, result.urgent_placed, result.placed) == ("min_cost_flow", True, 1, 1)


def test_urgent_beats_placing_more() -> None:
    # The urgent family takes both beds, though two single requests would fit in them.
    requests = [one(1, {"A": 50}), one(2, {"A": 50}), one(3, {"A": 0}, urgent=True, beds=2)]
    result = batch_assign(requests, {"A": 2})
    assert result.assignment == {3: "A"}
    assert (result.method, result.optimal) == ("mip", True)


def test_placing_more_beats_a_higher_score() -> None:
    # Alone, request 1 would take A for 100 points; moving it to B lets request 2 in.
    requests = [one(1, {"A": 100, "B": 0}), one(2, {"A": 0})]
    result = batch_assign(requests, {"A": 1, "B": 1})
    assert result.assignment == {1: "B", 2: "A"}
    assert (result.placed, result.score) == (2, 0)


def test_two_singles_beat_a_family_with_a_higher_score() -> None:
    requests = [one(1, {"A": 100}, beds=2), one(2, {"A": 1}), one(3, {"A": 1})]
    result = batch_assign(requests, {"A": 2})
    assert result.assignment == {2: "A", 3: "A"}
    assert (result.method, result.optimal, result.score) == ("mip", True, 2)


def test_among_equal_placements_the_score_is_maximised() -> None:
    requests = [one(1, {"A": 5, "B": 3}), one(2, {"A": 4, "B": 1})]
    result = batch_assign(requests, {"A": 1, "B": 1})
    assert result.assignment == {1: "B", 2: "A"}
    assert result.score == 7


def test_a_family_goes_only_where_all_its_beds_fit() -> None:
    requests = [one(1, {"A": 90, "B": 10}, beds=3)]
    result = batch_assign(requests, {"A": 2, "B": 3})
    assert result.assignment == {1: "B"}


def test_shelters_without_free_beds_and_requests_without_options_are_left_out() -> None:
    requests = [one(1, {"A": 50, "B": 10}), one(2, {}), one(3, {"Z": 99})]
    result = batch_assign(requests, {"A": 0, "B": 1})
    assert result.assignment == {1: "B"}
    assert_consistent(requests, {"A": 0, "B": 1}, result)


@pytest.mark.parametrize(("requests", "free"), [
    ([], {"A": 3}),
    ([one(1, {"A": 5})], {"A": 0}),
    ([one(1, {})], {"A": 3}),
    ([one(1, {"A": 5}, beds=4)], {"A": 3}),
])
def test_nothing_to_decide_is_method_empty(requests: list[BatchRequest], free: dict[str, int]) -> None:
    result = batch_assign(requests, free)
    assert result.method == "empty"
    assert (result.assignment, result.placed, result.objective, result.bound, result.gap, result.optimal) == (
        {}, 0, 0, 0, 0.0, True)


@pytest.mark.parametrize("beds", [1, 2])
def test_same_input_same_assignment_whatever_the_order(beds: int) -> None:
    rng = random.Random(3)
    codes = [f"S{j}" for j in range(6)]
    requests = [one(i, {c: rng.randint(0, 3) for c in rng.sample(codes, 3)}, urgent=rng.random() < 0.3,
                    beds=rng.choice([1, beds])) for i in range(25)]
    free = {c: rng.randint(0, 4) for c in codes}
    first = batch_assign(requests, free)
    for _ in range(3):
        shuffled = [one(r.id, dict(rng.sample(sorted(r.options.items()), len(r.options))), r.urgent, r.beds)
                    for r in rng.sample(requests, len(requests))]
        again = batch_assign(shuffled, dict(rng.sample(sorted(free.items()), len(free))))
        assert again.assignment == first.assignment
    assert first.method == ("min_cost_flow" if beds == 1 else "mip")


@pytest.mark.parametrize(("requests", "free"), [
    ([one(1, {"A": 1}), one(1, {"A": 1})], {"A": 2}),
    ([one(1, {"A": 1}, beds=0)], {"A": 2}),
    ([one(1, {"A": -1})], {"A": 2}),
    ([one(1, {"A": 1})], {"A": -1}),
    ([one(1, {"A": 1.5})], {"A": 1}),  # type: ignore[dict-item]
])
def test_invalid_input_is_refused(requests: list[BatchRequest], free: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        batch_assign(requests, free)


def test_scores_too_large_for_64_bits_are_refused_not_wrapped() -> None:
    with pytest.raises(OverflowError):
        batch_assign([one(1, {"A": 2**61}), one(2, {"A": 1}), one(3, {"A": 2**61})], {"A": 2})


@settings(max_examples=100, deadline=None, derandomize=True)
@given(n=st.integers(0, 500), top=st.integers(0, 10**9))
def test_objective_weights_are_lexicographic(n: int, top: int) -> None:
    requests = [one(i, {"A": top if i == 0 else 0}) for i in range(n)]
    w_urgent, w_placed = objective_weights(requests)
    assert w_placed > n * top  # one more placed beats any total score
    assert w_urgent > n * w_placed + n * top  # one more urgent placed beats any number placed and score


# --- the checker -------------------------------------------------------------------------------------------


def test_check_assignment_names_every_violation() -> None:
    requests = [one(1, {"A": 5}), one(2, {"A": 5, "B": 1}, beds=2), one(3, {"B": 1})]
    assert check_assignment(requests, {"A": 3, "B": 1}, {1: "A", 2: "A", 3: "B"}) == []
    violations = check_assignment(requests, {"A": 2, "B": 1}, {1: "A", 2: "A", 3: "A", 9: "B"})
    assert violations == [
        "request 3 placed in A, which is not eligible for it",
        "request 9 is not in the batch",
        "shelter A over capacity: 4 beds assigned, 2 free",
    ]
    assert check_assignment(requests, {}, {1: "A"}) == ["shelter A over capacity: 1 beds assigned, 0 free"]


def test_check_assignment_catches_a_broken_engine_result() -> None:
    requests = [one(1, {"A": 9, "B": 1}), one(2, {"A": 8, "B": 2}), one(3, {"B": 5})]
    free = {"A": 1, "B": 2}
    result = batch_assign(requests, free)
    assert check_assignment(requests, free, result.assignment) == []
    crowded = {request_id: "A" for request_id in result.assignment if request_id != 3}
    assert check_assignment(requests, free, crowded) == ["shelter A over capacity: 2 beds assigned, 1 free"]


# --- random instances against the reference ----------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn, max_beds: int) -> tuple[list[BatchRequest], dict[str, int]]:
    codes = [f"S{j}" for j in range(draw(st.integers(0, 5)))]
    free = {code: draw(st.integers(0, 4)) for code in codes}
    candidates = codes + ["unknown"]
    n = draw(st.integers(0, 8))
    requests = []
    for i in range(n):
        options = draw(st.dictionaries(st.sampled_from(candidates), st.integers(0, 20), max_size=len(candidates)))
        requests.append(one(i + 1, options, urgent=draw(st.booleans()), beds=draw(st.integers(1, max_beds))))
    return requests, free


@settings(max_examples=80, deadline=None, derandomize=True)
@given(instance=instances(max_beds=1))
def test_one_bed_batches_equal_the_reference_optimum(instance: tuple[list[BatchRequest], dict[str, int]]) -> None:
    requests, free = instance
    result = batch_assign(requests, free)
    assert_consistent(requests, free, result)
    assert result.optimal
    assert result.objective == reference_objective(requests, free)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(instance=instances(max_beds=3))
def test_family_batches_equal_the_reference_optimum(instance: tuple[list[BatchRequest], dict[str, int]]) -> None:
    requests, free = instance
    result = batch_assign(requests, free)
    assert_consistent(requests, free, result)
    assert result.optimal  # tiny instances: CP-SAT proves them at once
    assert result.objective == reference_objective(requests, free)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_larger_one_bed_batch_equals_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    codes = [f"S{j:02d}" for j in range(25)]
    free = {c: rng.randint(0, 3) for c in codes}
    requests = [one(i, {c: rng.randint(0, 100) for c in rng.sample(codes, 6)}, urgent=rng.random() < 0.25)
                for i in range(80)]
    result = batch_assign(requests, free)
    assert result.method == "min_cost_flow"
    assert_consistent(requests, free, result)
    assert result.objective == reference_objective(requests, free)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_larger_family_batch_equals_the_reference_when_proved_optimal(seed: int) -> None:
    rng = random.Random(seed)
    codes = [f"S{j:02d}" for j in range(8)]
    free = {c: rng.randint(0, 6) for c in codes}
    requests = [one(i, {c: rng.randint(0, 100) for c in rng.sample(codes, 3)}, urgent=rng.random() < 0.25,
                    beds=rng.choice([1, 1, 2, 3])) for i in range(30)]
    result = batch_assign(requests, free)
    assert result.method == "mip"
    assert_consistent(requests, free, result)
    if result.optimal:
        assert result.objective == reference_objective(requests, free)
    else:
        assert result.bound >= reference_objective(requests, free) >= result.objective


def test_a_batch_cut_short_by_the_time_limit_is_feasible_and_its_bound_holds() -> None:
    rng = random.Random(5)
    codes = [f"S{j:02d}" for j in range(25)]
    free = {c: rng.randint(0, 6) for c in codes}
    requests = [one(i, {c: rng.randint(0, 100) for c in rng.sample(codes, 6)}, urgent=rng.random() < 0.2,
                    beds=rng.choice([1, 1, 1, 2, 3])) for i in range(150)]
    full = batch_assign(requests, free)
    cut = batch_assign(requests, free, time_limit_s=0.0)
    assert full.optimal and cut.method == full.method == "mip"
    assert_consistent(requests, free, cut)
    assert cut.objective <= full.objective <= cut.bound  # the reported bound really bounds the optimum
    assert cut.gap == (cut.bound - cut.objective) / cut.bound
    if cut.optimal:  # a very fast machine may prove it within the minimum slice
        assert cut.objective == full.objective
