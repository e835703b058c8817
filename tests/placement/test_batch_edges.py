"""The edges of batch assignment that the optimum tests in test_batch.py pass over: empty batches, the weights of
the combined objective at their smallest, the 64-bit guard at its limit, and the results' own promises."""

from __future__ import annotations

import numpy as np
import pytest

from placement import batch
from placement.batch import BatchRequest, BatchResult, batch_assign, check_assignment, objective_weights


def one(id: int, options: dict[str, int], urgent: bool = False, beds: int = 1) -> BatchRequest:
    return BatchRequest(id=id, beds=beds, urgent=urgent, options=options)


def test_weights_of_batches_without_scores():
    assert objective_weights([]) == (1, 1)
    assert objective_weights([one(1, {}), one(2, {})]) == (9, 3)  # W_placed = (0 + 1)(2 + 1), W_urgent = 3 * 3
    assert objective_weights([one(1, {"A": 0})]) == (4, 2)
    assert objective_weights([one(1, {"A": 4}), one(2, {"B": 1})]) == (45, 15)


def test_requests_and_results_hash_without_their_mappings():
    request = one(1, {"A": 3})
    assert hash(request) == hash(one(1, {"A": 5}))  # the options are not part of the hash
    result = batch_assign([request], {"A": 1})
    assert isinstance(hash(result), int)
    assert result.assignment == {1: "A"}


def test_the_64_bit_guard_at_its_limit():
    batch._check_int64(2**61 - 1, 1)  # 2**62 - 2: fits
    with pytest.raises(OverflowError):
        batch._check_int64(2**61, 1)  # 2**62: does not
    with pytest.raises(OverflowError):
        batch_assign([one(1, {"A": 2**61}), one(2, {"A": 2**61})], {"A": 2})
    with pytest.raises(OverflowError):
        batch_assign([one(1, {"A": 2**60}, beds=2), one(2, {"A": 2**60})], {"A": 3})


def test_an_empty_batch():
    for requests, free in (([], {}), ([one(1, {"A": 3})], {}), ([one(1, {"A": 3})], {"A": 0}),
                           ([one(1, {"B": 3})], {"A": 4}), ([one(1, {"A": 3}, beds=3)], {"A": 2})):
        result = batch_assign(requests, free)
        assert (result.assignment, result.placed, result.urgent_placed, result.score) == ({}, 0, 0, 0)
        assert (result.objective, result.bound, result.gap, result.optimal, result.method) == (0, 0, 0.0, True,
                                                                                                 "empty")


def test_check_assignment_names_every_breach():
    requests = [one(1, {"A": 3}), one(2, {"A": 1, "B": 2}, beds=2)]
    assert check_assignment(requests, {"A": 3}, {1: "A", 2: "A"}) == []
    assert check_assignment(requests, {"A": 2}, {1: "A", 2: "A"}) == [
        "shelter A over capacity: 3 beds assigned, 2 free"]
    assert check_assignment(requests, {"A": -4}, {1: "A"}) == ["shelter A over capacity: 1 beds assigned, 0 free"]
    assert check_assignment(requests, {}, {2: "B"}) == ["shelter B over capacity: 2 beds assigned, 0 free"]
    assert check_assignment(requests, {"C": 5}, {1: "C", 9: "C"}) == [
        "request 1 placed in C, which is not eligible for it", "request 9 is not in the batch"]


@pytest.mark.parametrize(("requests", "free", "message"), [
    ([one(1, {"A": 1}), one(1, {"B": 1})], {"A": 1, "B": 1}, "unique"),
    ([one(1, {"A": 1}, beds=0)], {"A": 1}, "at least 1"),
    ([one(1, {"A": -1})], {"A": 1}, "negative"),
    ([one(1, {"A": 1.5})], {"A": 1}, "integers"),
    ([one(1, {"A": 1})], {"A": -1}, "at least 0"),
])
def test_refusals(requests, free, message):
    with pytest.raises(ValueError, match=message):
        batch_assign(requests, free)


def test_a_result_states_its_levels_and_gap():
    requests = [one(1, {"A": 5, "B": 1}, urgent=True), one(2, {"A": 4}), one(3, {"B": 2}, beds=2)]
    result = batch_assign(requests, {"A": 1, "B": 3})
    w_urgent, w_placed = objective_weights(requests)
    assert result.assignment == {1: "B", 2: "A", 3: "B"}
    assert (result.placed, result.urgent_placed, result.score) == (3, 1, 7)
    assert result.objective == w_urgent * 1 + w_placed * 3 + 7 == result.bound
    assert (result.gap, result.optimal, result.method) == (0.0, True, "mip")
    assert isinstance(result, BatchResult) and result.seconds >= 0


def test_the_objective_of_options_scored_zero():
    result = batch_assign([one(1, {"A": 0}), one(2, {"A": 0}, urgent=True)], {"A": 1})
    # W_placed = (0 + 1)(2 + 1) = 3, W_urgent = 9: the urgent request placed, nothing scored
    assert (result.assignment, result.objective, result.bound, result.method) == ({2: "A"}, 12, 12, "min_cost_flow")
    family = batch_assign([one(1, {"A": 0}, beds=2)], {"A": 2})
    assert (family.assignment, family.objective, family.method) == ({1: "A"}, 2, "mip")
    assert 0 <= result.seconds < 60 and 0 <= family.seconds < 60


def test_urgency_outweighs_any_score_in_the_flow():
    # one bed; the urgent request scores 0 there, the other 1: W_urgent must exceed every score sum, even by 1
    result = batch_assign([one(1, {"A": 0}, urgent=True), one(2, {"A": 1})], {"A": 1})
    assert result.assignment == {1: "A"} and result.urgent_placed == 1
    result = batch_assign([one(1, {"A": 0}, urgent=True), one(2, {"A": 1}), one(3, {"A": 1})], {"A": 1})
    assert result.assignment == {1: "A"}


def _flow_limit() -> int:
    """The least score of a lone one-bed request the flow refuses: 1 request + 1 shelter + source and sink are 4
    nodes, W_urgent = score + 1, so (W_urgent + score) * (4 * 4 + 1) must stay below 2**62."""
    score = (2**62 // 17 - 1) // 2
    while (2 * score + 1) * 17 < 2**62:
        score += 1
    return score


def test_the_flow_refuses_scores_past_64_bits_and_takes_those_below():
    limit = _flow_limit()
    with pytest.raises(OverflowError):
        batch_assign([one(1, {"A": limit})], {"A": 1})
    below = batch_assign([one(1, {"A": limit - 1})], {"A": 1})
    assert below.assignment == {1: "A"} and below.score == limit - 1


# --- the greedy starts of the 0-1 program (CP-SAT improves on them, so the optimum tests cannot see them) ---------

GREEDY_REQUESTS = [
    one(1, {"A": 5, "B": 9}, beds=2),      # B has one bed: only A fits, exactly
    one(2, {"A": 1, "B": 3}, urgent=True),
    one(3, {"A": 4, "B": 8}),
]
GREEDY_FREE = {"A": 2, "B": 1}


def greedy_assignment(**kwargs) -> dict[int, str]:
    pairs = batch._pairs(GREEDY_REQUESTS, GREEDY_FREE)
    chosen = kwargs.pop("chosen", None)
    if chosen is not None:
        chosen = np.array([(pairs.requests[r].id, pairs.codes[s]) in chosen
                           for r, s in zip(pairs.request.tolist(), pairs.shelter.tolist())], dtype=bool)
    return batch._assignment(pairs, batch._greedy(pairs, chosen, **kwargs))


def test_greedy_urgent_first_then_fewer_beds_each_to_its_best_option_with_room():
    # 2 (urgent) takes B, its best; 3 (one bed) finds B full and takes A; 1 (two beds) finds one left in A
    assert greedy_assignment() == {2: "B", 3: "A"}


def test_greedy_by_id_when_beds_do_not_come_first():
    # 2 takes B; then 1 fills A exactly; 3 finds no room
    assert greedy_assignment(fewer_beds_first=False) == {2: "B", 1: "A"}


def test_greedy_keeps_what_is_chosen_and_places_the_rest():
    assert greedy_assignment(chosen={(3, "A")}) == {3: "A", 2: "B"}
    assert greedy_assignment(chosen={(1, "A")}) == {1: "A", 2: "B"}


def test_greedy_by_score_urgent_first_then_best_pairs():
    pairs = batch._pairs(GREEDY_REQUESTS, GREEDY_FREE)
    chosen = batch._greedy_by_score(pairs)
    # 2 (urgent) takes B; then the pairs by score: 3 in B (full), 1 in A (5), 3 in A (no room left)
    assert batch._assignment(pairs, chosen) == {2: "B", 1: "A"}
    assert batch._levels(pairs, chosen) == (1, 2, 8)


def test_a_batch_out_of_time_before_its_model_is_built_returns_the_best_greedy_start():
    result = batch_assign(GREEDY_REQUESTS, GREEDY_FREE, time_limit_s=0)
    # W_placed = (9 + 1)(3 + 1) = 40 (the highest option score counts even where it does not fit), W_urgent = 160
    assert objective_weights(GREEDY_REQUESTS) == (160, 40)
    assert result.assignment == {2: "B", 1: "A"}  # the best of the three starts: (1 urgent, 2 placed, score 8)
    assert (result.placed, result.urgent_placed, result.score, result.objective) == (2, 1, 8, 160 + 80 + 8)
    # nothing proven: each level's ceiling (1 urgent, 3 placed, best options 5 + 3 + 8) bounds it
    assert (result.bound, result.optimal, result.method) == (160 * 1 + 40 * 3 + 16, False, "mip")
    assert result.gap == (296 - 248) / 296


def test_out_of_time_the_by_id_greedy_start_wins_when_it_places_most():
    # by id: 1 fills A exactly, 2 falls back to B, 3 takes B's other bed; fewer beds first and best pairs first
    # both give A's beds to 2 and leave 1 out
    requests = [one(1, {"A": 1}, beds=2), one(2, {"A": 5, "B": 1}), one(3, {"B": 6})]
    result = batch_assign(requests, {"A": 2, "B": 2}, time_limit_s=0)
    assert result.assignment == {1: "A", 2: "B", 3: "B"} and result.optimal is False
