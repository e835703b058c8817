"""Pure, optimal assignment of all waiting requests to shelters at once.

The objective is lexicographic: first place as many urgent requests as possible,
then as many requests as possible, then maximise the total engine score. It is
encoded as one integer: every placed request contributes
``W_urgent * urgent + W_placed + score`` with weights (`objective_weights`) large
enough that no amount of a lower level can outweigh one unit of a higher one.

Two exact methods:

- every request needing one bed: a minimum-cost maximum flow (source -> request
  -> shelter -> sink) solved by OR-Tools' SimpleMinCostFlow; polynomial, so the
  time limit does not apply. The sets of requests that can be placed together
  form a (transversal) matroid, so some maximum placement also places the most
  urgent requests possible; a maximum flow therefore loses nothing on the first
  two levels, and its cost only needs to rank urgency over score. Those costs
  are far smaller than the combined objective, which keeps the cost-scaling
  algorithm fast on millions of arcs;
- some request needing several beds (a family): a 0-1 program (a multiple
  knapsack) solved by CP-SAT under the time limit, one level of the objective
  after the other, reporting the bound it proved.

Same input, same output: requests, shelters and options are put in a canonical
order before solving (so neither the order of the requests nor of their options
matters), the flow algorithm is deterministic, and CP-SAT runs on one worker with
a fixed seed (its parallel search is not deterministic). Only a run that stops on
the time limit can depend on the machine's speed; such a result says so
(`optimal` False).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

__all__ = ["BatchRequest", "BatchResult", "batch_assign", "check_assignment", "objective_weights"]

# Solvers compute in int64 and the flow algorithm scales costs by the number of nodes; keep every
# product well inside the range rather than trust an overflow to be reported.
_INT64_HEADROOM = 2**62


@dataclass(frozen=True)
class BatchRequest:
    """One waiting request: the beds it takes, whether it is an emergency, and its eligible
    shelters (code -> integer score >= 0 from the engine)."""

    id: int
    beds: int  # 1 + children
    urgent: bool
    options: Mapping[str, int] = field(hash=False)


@dataclass(frozen=True)
class BatchResult:
    """An assignment and how good it is.

    `objective` is the combined lexicographic objective of `assignment`; `bound` the best
    proven upper bound on it (equal when optimal); `gap` = (bound - objective) / max(1, bound).
    """

    assignment: dict[int, str] = field(hash=False)  # request id -> shelter code, placed requests only
    placed: int
    urgent_placed: int
    score: int
    objective: int
    bound: int
    gap: float
    optimal: bool
    method: str  # 'min_cost_flow' | 'mip' | 'empty'
    seconds: float


def objective_weights(requests: Sequence[BatchRequest]) -> tuple[int, int]:
    """(W_urgent, W_placed) making ``W_urgent*urgent_placed + W_placed*placed + score`` lexicographic.

    With n requests and the highest option score m: W_placed = (m + 1)(n + 1) exceeds any total
    score (at most n*m), and W_urgent = W_placed (n + 1) exceeds any placed-and-score part (at most
    n*W_placed + n*m). So one more urgent request placed beats any number placed, and one more
    placed beats any score.
    """
    return _weights(len(requests), max((int(s) for r in requests for s in r.options.values()), default=0))


def _weights(n: int, max_score: int) -> tuple[int, int]:
    w_placed = (max(0, max_score) + 1) * (n + 1)
    return w_placed * (n + 1), w_placed


def check_assignment(requests: Sequence[BatchRequest], free_beds: Mapping[str, int],
                     assignment: Mapping[int, str]) -> list[str]:
    """Every way `assignment` breaks the rules, in words; empty when it is feasible.

    Written independently of the solvers: a request not in the batch, a shelter not among a
    request's options, or a shelter given more beds than it has free (a shelter absent from
    `free_beds` has none).
    """
    by_id = {r.id: r for r in requests}
    violations: list[str] = []
    beds_used: dict[str, int] = {}
    for request_id, code in assignment.items():
        request = by_id.get(request_id)
        if request is None:
            violations.append(f"request {request_id} is not in the batch")
            continue
        if code not in request.options:
            violations.append(f"request {request_id} placed in {code}, which is not eligible for it")
        beds_used[code] = beds_used.get(code, 0) + request.beds
    for code in sorted(beds_used):
        free = max(0, free_beds.get(code, 0))
        if beds_used[code] > free:
            violations.append(f"shelter {code} over capacity: {beds_used[code]} beds assigned, {free} free")
    return violations


@dataclass(frozen=True)
class _Pairs:
    """The instance in canonical order: eligible (request, shelter) pairs that fit, sorted."""

    requests: list[BatchRequest]  # sorted by id
    codes: list[str]  # shelters with free beds, sorted by code
    free: np.ndarray  # free beds per shelter in `codes`
    request: np.ndarray  # per pair: index into `requests`
    shelter: np.ndarray  # per pair: index into `codes`
    score: np.ndarray  # per pair: the engine's score
    urgent: np.ndarray  # per pair: 1 if the request is urgent
    weights: tuple[int, int]  # (W_urgent, W_placed) of the combined objective


def _validate(requests: Sequence[BatchRequest], free_beds: Mapping[str, int]) -> None:
    ids = [r.id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique")
    for r in requests:
        if r.beds < 1:
            raise ValueError(f"request {r.id} needs {r.beds} beds; at least 1")
    for code, free in free_beds.items():
        if free < 0:
            raise ValueError(f"shelter {code} has {free} free beds; at least 0")


def _pairs(requests: Sequence[BatchRequest], free_beds: Mapping[str, int]) -> _Pairs:
    ordered = sorted(requests, key=lambda r: r.id)
    codes = sorted(code for code, free in free_beds.items() if free > 0)
    index = {code: i for i, code in enumerate(codes)}
    free = np.array([free_beds[c] for c in codes], dtype=np.int64)

    option_codes: list[str] = []
    option_scores: list[int] = []
    counts = np.empty(len(ordered), dtype=np.int64)
    for i, r in enumerate(ordered):
        option_codes.extend(r.options.keys())
        option_scores.extend(r.options.values())
        counts[i] = len(r.options)
    scores = np.array(option_scores) if option_scores else np.zeros(0, dtype=np.int64)
    if scores.dtype.kind not in "iub":
        raise ValueError("option scores must be integers that fit in 64 bits")
    scores = scores.astype(np.int64, copy=False)
    if (scores < 0).any():
        raise ValueError("option scores must not be negative")
    shelter = np.fromiter(map(index.get, option_codes, repeat(-1)), dtype=np.int64, count=len(option_codes))
    request = np.repeat(np.arange(len(ordered), dtype=np.int64), counts)
    beds = np.array([r.beds for r in ordered], dtype=np.int64)
    urgent = np.array([bool(r.urgent) for r in ordered], dtype=np.int64)

    w_urgent, w_placed = _weights(len(requests), int(scores.max(initial=0)))

    keep = shelter >= 0
    keep[keep] = free[shelter[keep]] >= beds[request[keep]]
    request, shelter, scores = request[keep], shelter[keep], scores[keep]
    # Canonical order, so that the order of each request's options cannot change the answer.
    order = np.argsort(request * max(1, len(codes)) + shelter)  # keys are unique
    request, shelter, scores = request[order], shelter[order], scores[order]
    return _Pairs(ordered, codes, free, request, shelter, scores, urgent[request], (w_urgent, w_placed))


def _check_int64(max_coefficient: int, terms: int) -> None:
    if max_coefficient * (terms + 1) >= _INT64_HEADROOM:
        raise OverflowError("scores too large for an exact solve in 64-bit integers")


def _result(pairs: _Pairs, assignment: dict[int, str], bound: int | None, optimal: bool, method: str,
            started: float) -> BatchResult:
    w_urgent, w_placed = pairs.weights
    by_id = {r.id: r for r in pairs.requests}
    placed = len(assignment)
    urgent_placed = sum(1 for rid in assignment if by_id[rid].urgent)
    score = sum(int(by_id[rid].options[code]) for rid, code in assignment.items())
    objective = w_urgent * urgent_placed + w_placed * placed + score
    bound = objective if optimal or bound is None else bound
    if bound < objective:
        raise RuntimeError(f"the proven bound {bound} is below the objective {objective} it bounds")
    return BatchResult(
        assignment=assignment, placed=placed, urgent_placed=urgent_placed, score=score, objective=objective,
        bound=bound, gap=(bound - objective) / max(1, bound), optimal=optimal, method=method,
        seconds=time.perf_counter() - started,
    )


def _solve_flow(pairs: _Pairs) -> dict[int, str]:
    """Exact for one bed per request: an integral maximum flow of minimum cost is an optimal assignment.

    Among maximum placements (the matroid argument in the module docstring: they include one
    placing the most urgent requests), the cost -(W*urgent + score) with W above any total score
    picks the most urgent, then the highest score.
    """
    active = np.flatnonzero(np.bincount(pairs.request, minlength=len(pairs.requests)))  # with a shelter that fits
    used = np.flatnonzero(np.bincount(pairs.shelter, minlength=len(pairs.codes)))
    request_node = np.full(len(pairs.requests), -1, dtype=np.int64)
    request_node[active] = np.arange(2, 2 + len(active))
    shelter_node = np.full(len(pairs.codes), -1, dtype=np.int64)
    shelter_node[used] = np.arange(2 + len(active), 2 + len(active) + len(used))
    source, sink, supply = 0, 1, len(active)
    max_score = int(pairs.score.max(initial=0))
    w_urgent = max_score * supply + 1
    nodes = supply + len(used) + 2
    _check_int64(w_urgent + max_score, nodes * nodes)  # cost scaling multiplies costs by the node count

    flow = min_cost_flow.SimpleMinCostFlow()
    n_active, n_used = len(active), len(used)
    tails = np.concatenate([np.full(n_active, source), request_node[pairs.request], shelter_node[used]],
                           dtype=np.int32)
    heads = np.concatenate([request_node[active], shelter_node[pairs.shelter], np.full(n_used, sink)],
                           dtype=np.int32)
    capacities = np.concatenate([np.ones(n_active + len(pairs.request), dtype=np.int64), pairs.free[used]],
                                dtype=np.int64)
    costs = np.concatenate([np.zeros(n_active, dtype=np.int64), -(pairs.urgent * w_urgent + pairs.score),
                            np.zeros(n_used, dtype=np.int64)], dtype=np.int64)
    arcs = np.asarray(flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs))
    flow.set_nodes_supplies(np.array([source, sink], dtype=np.int32), np.array([supply, -supply], dtype=np.int64))
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"minimum-cost flow did not solve: status {status}")
    pair_arcs = arcs[n_active:n_active + len(pairs.request)].astype(np.int32, copy=False)
    chosen = np.flatnonzero(np.asarray(flow.flows(pair_arcs)) > 0)
    if -flow.optimal_cost() != int((pairs.urgent[chosen] * w_urgent + pairs.score[chosen]).sum()):
        raise RuntimeError("minimum-cost flow cost disagrees with its assignment")
    return {pairs.requests[pairs.request[k]].id: pairs.codes[pairs.shelter[k]] for k in chosen}


def _greedy(pairs: _Pairs, chosen: np.ndarray | None = None, fewer_beds_first: bool = True) -> np.ndarray:
    """A feasible selection of pairs (a mask): `chosen` (none by default) with every request it leaves
    out placed where room remains, urgent first, then (by default) fewer beds, then by id, each to
    its best-scoring option with room."""
    chosen = np.zeros(len(pairs.request), dtype=bool) if chosen is None else chosen.copy()
    beds = np.array([r.beds for r in pairs.requests], dtype=np.int64)
    used = np.bincount(pairs.shelter[chosen], weights=beds[pairs.request[chosen]], minlength=len(pairs.codes))
    left = (pairs.free - used.astype(np.int64)).tolist()
    placed = np.zeros(len(pairs.requests), dtype=bool)
    placed[pairs.request[chosen]] = True
    starts = np.searchsorted(pairs.request, np.arange(len(pairs.requests) + 1)).tolist()
    best_first = np.lexsort((pairs.shelter, -pairs.score, pairs.request)).tolist()  # each request's options
    shelter, need = pairs.shelter.tolist(), beds.tolist()
    order = sorted(np.flatnonzero(~placed).tolist(), key=lambda i: (
        not pairs.requests[i].urgent, need[i] if fewer_beds_first else 0, pairs.requests[i].id))
    for i in order:
        for k in best_first[starts[i]:starts[i + 1]]:
            if left[shelter[k]] >= need[i]:
                left[shelter[k]] -= need[i]
                chosen[k] = True
                break
    return chosen


def _greedy_by_score(pairs: _Pairs) -> np.ndarray:
    """Another feasible selection: urgent requests first, then the pairs by score, best first."""
    chosen = np.zeros(len(pairs.request), dtype=bool)
    left = pairs.free.tolist()
    beds = np.array([r.beds for r in pairs.requests], dtype=np.int64)
    placed = [False] * len(pairs.requests)
    request, shelter, need = pairs.request.tolist(), pairs.shelter.tolist(), beds.tolist()
    for k in np.lexsort((pairs.shelter, pairs.request, -pairs.score, -pairs.urgent)).tolist():
        i, s = request[k], shelter[k]
        if not placed[i] and left[s] >= need[i]:
            left[s] -= need[i]
            placed[i] = True
            chosen[k] = True
    return chosen


def _levels(pairs: _Pairs, chosen: np.ndarray) -> tuple[int, int, int]:
    """(urgent placed, placed, score) of a selection: compared as tuples, the objective's order."""
    return int(pairs.urgent[chosen].sum()), int(chosen.sum()), int(pairs.score[chosen].sum())


def _solve_mip(pairs: _Pairs, deadline: float) -> tuple[dict[int, str], int, bool]:
    """Exact 0-1 program for families, solved level by level before `deadline` (perf_counter).

    Returns (assignment, proven upper bound on the combined objective, optimal). The levels are
    solved in turn, each fixing the optimum of the one before: the urgent placed, then the placed,
    then the score. Each level has small coefficients, which CP-SAT proves optimal far faster than
    the single big-M objective (measured: a 300-request batch proved optimal in about 1.5 s by
    levels, not within 10 s with the combined objective); the optimum is the same. One worker with a fixed
    seed, because CP-SAT's parallel search is not deterministic and its deterministic interleaved
    search was many times slower on these models. The best of three greedy assignments comes first:
    a level it already fills to that level's ceiling (every urgent request placed, every request
    placed) needs no search. Each level's solution is completed greedily with the requests it left
    out and kept only if it beats the best so far, so a level cut short by the deadline never
    returns less than the greedy assignments or than the levels before it. No solution hints: they
    were measured to stall CP-SAT's search (1,000 x 1,000 with families at load 1.2: 698 requests
    placed with the greedy as a hint, 820, proven optimal, without; docs/performance.md). The bound
    returned is the one proven so far.
    """
    starts = np.searchsorted(pairs.request, np.arange(len(pairs.requests) + 1))
    w_urgent, w_placed = pairs.weights
    active = starts[1:] > starts[:-1]
    best_score = np.maximum.reduceat(pairs.score, starts[:-1][active]) if len(pairs.score) else pairs.score
    levels = [  # objective coefficients per pair, and an upper bound no assignment can exceed
        (pairs.urgent, int(sum(r.urgent for r, a in zip(pairs.requests, active) if a))),
        (np.ones(len(pairs.request), dtype=np.int64), int(active.sum())),
        (pairs.score, int(best_score.sum())),
    ]
    _check_int64(max(bound for _, bound in levels), len(pairs.request))
    ceilings = [bound for _, bound in levels]
    chosen = max(_greedy(pairs), _greedy(pairs, fewer_beds_first=False), _greedy_by_score(pairs),
                 key=lambda c: _levels(pairs, c))

    built = _model(pairs, starts, deadline)
    if built is None:  # the deadline came while building: the best greedy assignment, nothing proven
        return _assignment(pairs, chosen), w_urgent * ceilings[0] + w_placed * ceilings[1] + ceilings[2], False
    model, x, indices = built
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    optimal = True
    for level, (coefficients, ceiling) in enumerate(levels):
        objective = cp_model.LinearExpr.weighted_sum(x, coefficients.tolist())
        if int(coefficients[chosen].sum()) == ceiling:  # nothing can do better on this level: no search
            model.add(objective == ceiling)
            continue
        if time.perf_counter() >= deadline:
            optimal = False
            break
        model.maximize(objective)
        solver.parameters.max_time_in_seconds = deadline - time.perf_counter()
        status = solver.solve(model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = np.asarray(solver.response_proto.solution, dtype=np.int64)[indices] > 0
            # A level's solution is only as good as that level: what it does not count (non-urgent
            # placements on the first) is arbitrary, so it is dropped and the requests left out are
            # placed greedily; the result is never kept if it is worse than the best so far.
            found = _greedy(pairs, found & (coefficients > 0))
            if _levels(pairs, found) >= _levels(pairs, chosen):
                chosen = found
        elif status != cp_model.UNKNOWN:
            raise RuntimeError(f"CP-SAT could not solve the batch: {solver.status_name(status)}")
        if status != cp_model.OPTIMAL:
            if status == cp_model.FEASIBLE and math.isfinite(solver.best_objective_bound):
                # Only a run that found a solution reports a bound; UNKNOWN reports a meaningless 0.
                ceilings[level] = min(ceilings[level], math.floor(solver.best_objective_bound + 1e-6))
            optimal = False
            break
        best = int((coefficients[chosen]).sum())
        ceilings[level] = best
        model.add(objective == best)  # it cannot exceed its optimum; equality propagates further
    bound = w_urgent * ceilings[0] + w_placed * ceilings[1] + ceilings[2]
    return _assignment(pairs, chosen), bound, optimal


def _assignment(pairs: _Pairs, chosen: np.ndarray) -> dict[int, str]:
    return {pairs.requests[pairs.request[k]].id: pairs.codes[pairs.shelter[k]] for k in np.flatnonzero(chosen)}


# Variables are made in chunks so that building a model too big for the time limit stops at the deadline
# (10,000 x 10,000 with families: 3 million pairs, about 30 s of building alone).
_BUILD_CHUNK = 50_000


def _model(pairs: _Pairs, starts: np.ndarray, deadline: float
           ) -> tuple[cp_model.CpModel, list[cp_model.IntVar], np.ndarray] | None:
    """The 0-1 program's variables (one per pair) and constraints (one shelter per request, beds within
    each shelter's free beds); None if `deadline` passes while building it."""
    model = cp_model.CpModel()
    x: list[cp_model.IntVar] = []
    for first in range(0, len(pairs.request), _BUILD_CHUNK):
        if time.perf_counter() >= deadline:
            return None
        x.extend(model.new_bool_var(f"x{k}") for k in range(first, min(first + _BUILD_CHUNK, len(pairs.request))))
    for i in range(len(pairs.requests)):
        if starts[i + 1] - starts[i] > 1:
            model.add_at_most_one(x[starts[i]:starts[i + 1]])
    beds = np.array([r.beds for r in pairs.requests], dtype=np.int64)[pairs.request]
    by_shelter = np.argsort(pairs.shelter, kind="stable")
    bounds = np.searchsorted(pairs.shelter[by_shelter], np.arange(len(pairs.codes) + 1))
    for s in range(len(pairs.codes)):
        if time.perf_counter() >= deadline:
            return None
        ks = by_shelter[bounds[s]:bounds[s + 1]]
        if beds[ks].sum() > pairs.free[s]:
            model.add(cp_model.LinearExpr.weighted_sum([x[k] for k in ks], beds[ks].tolist())
                      <= int(pairs.free[s]))
    return model, x, np.array([v.index for v in x], dtype=np.int64)


def batch_assign(requests: Sequence[BatchRequest], free_beds: Mapping[str, int],
                 time_limit_s: float = 10.0) -> BatchResult:
    """The best assignment of requests to shelters under their free beds.

    Maximises, in this order, the urgent requests placed, the requests placed, and the total score
    (one integer objective, see `objective_weights`). A request goes only to one of its options and
    only where its beds fit; shelters missing from `free_beds` or with none free are not used.
    One bed per request: exact by minimum-cost flow (method 'min_cost_flow'), whatever the time
    limit. Families: CP-SAT within `time_limit_s` (method 'mip'); `optimal` False with the proven
    bound and gap when it stops early. Nothing to decide (no request with a shelter that fits):
    method 'empty'. Deterministic except when the time limit cuts a CP-SAT run short.

    Raises ValueError for duplicate request ids, a request needing no bed, negative or non-integer
    scores or negative free beds; OverflowError if the scores are too large for 64-bit solvers.
    """
    started = time.perf_counter()
    _validate(requests, free_beds)
    pairs = _pairs(requests, free_beds)
    if len(pairs.request) == 0:
        return _result(pairs, {}, 0, True, "empty", started)
    families = (np.array([r.beds for r in pairs.requests], dtype=np.int64)[pairs.request] > 1).any()
    if not families:
        return _result(pairs, _solve_flow(pairs), None, True, "min_cost_flow", started)
    assignment, bound, optimal = _solve_mip(pairs, started + time_limit_s)
    return _result(pairs, assignment, bound, optimal, "mip", started)
