"""Batch assignment against an independent exact solver: `python -m bench batch [--quick] [--sizes ...]`.

Random instances (shelters x requests at an eligibility density, a load = beds asked / beds free,
one bed each or families of 1 to 4) solved by `placement.batch.batch_assign`, checked with
`placement.batch.check_assignment`, and compared with

- the reference: scipy's HiGHS `milp` on the same lexicographic integer objective, no gap allowed
  (`mip_rel_gap` 0), under a time limit; written here from the interface, as
  tests/placement/test_batch.py does, never importing the engine's internals. Where it does not prove
  an optimum in time, `reference_*` are null;
- a simple greedy: urgent requests first, each to its best-scoring shelter with room.

Keys per configuration: shelters, requests, load, families, eligibility, pairs, placed, reference_placed,
objective, reference_objective, gap (reference - engine, relative to the reference; the engine's own
proven gap when there is no reference), engine_optimal, violations, engine_s, reference_s,
greedy_objective, speedup (reference_s / engine_s).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.common import emit, write_results
from placement.batch import BatchRequest, batch_assign, check_assignment

# (shelters, requests, eligibility: the share of shelters each request may go to)
SIZES = {"50x200": (50, 200, 0.20), "1000x1000": (1000, 1000, 0.05), "10000x10000": (10000, 10000, 0.05)}
LOADS = (0.5, 1.0, 1.2)
URGENT_SHARE = 0.2
# Where the reference is worth starting: HiGHS on millions of binaries does not finish in minutes.
REFERENCE_MAX_PAIRS = 60_000


def instance(shelters: int, requests: int, eligibility: float, load: float, families: bool, seed: int
             ) -> tuple[list[BatchRequest], dict[str, int]]:
    """Requests with `eligibility` x `shelters` options each (scores 0..100, 20% urgent), and free beds
    spread over the shelters so that beds asked / beds free = `load`."""
    rng = np.random.default_rng(seed)
    beds = rng.integers(1, 5, requests) if families else np.ones(requests, dtype=np.int64)  # 1 + 0..3 children
    codes = [f"S{j:05d}" for j in range(shelters)]
    total_free = max(1, int(round(int(beds.sum()) / load)))  # some shelters may have no free bed
    weights = rng.uniform(0.2, 1.8, shelters)
    free = np.floor(weights / weights.sum() * total_free).astype(np.int64)
    free[rng.integers(0, shelters, int(total_free - free.sum()))] += 1  # the remainder, one bed at a time
    per_request = max(1, int(round(eligibility * shelters)))
    urgent = rng.random(requests) < URGENT_SHARE
    out = []
    for i in range(requests):
        chosen = rng.choice(shelters, per_request, replace=False) if per_request < shelters else np.arange(shelters)
        scores = rng.integers(0, 101, per_request)
        out.append(BatchRequest(id=i + 1, beds=int(beds[i]), urgent=bool(urgent[i]),
                                options={codes[j]: int(s) for j, s in zip(chosen.tolist(), scores.tolist())}))
    return out, {code: int(f) for code, f in zip(codes, free.tolist())}


def weights(requests: Sequence[BatchRequest]) -> tuple[int, int]:
    """(W_urgent, W_placed): one more placed beats any total score; one more urgent beats both."""
    n = len(requests)
    top = max((s for r in requests for s in r.options.values()), default=0)
    w_placed = (top + 1) * (n + 1)
    return w_placed * (n + 1), w_placed


def objective_of(requests: Sequence[BatchRequest], assignment: Mapping[int, str]) -> int:
    w_urgent, w_placed = weights(requests)
    by_id = {r.id: r for r in requests}
    return sum(w_urgent * by_id[i].urgent + w_placed + by_id[i].options[c] for i, c in assignment.items())


def reference(requests: Sequence[BatchRequest], free: Mapping[str, int], time_limit_s: float
              ) -> tuple[dict[int, str] | None, float]:
    """HiGHS: binary x per (request, option), at most one option per request, beds within each shelter's
    free beds, maximising the combined objective with no gap allowed. None when no optimum in time."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    started = time.perf_counter()
    w_urgent, w_placed = weights(requests)
    pairs = [(r, code, score) for r in requests for code, score in r.options.items()]
    if not pairs:
        return {}, time.perf_counter() - started
    shelters = sorted({code for _, code, _ in pairs})
    index = {code: j for j, code in enumerate(shelters)}
    row = {r.id: i for i, r in enumerate(requests)}
    k = np.arange(len(pairs))
    c = np.array([-(w_urgent * r.urgent + w_placed + score) for r, _, score in pairs], dtype=float)
    one_each = csr_array((np.ones(len(pairs)), ([row[r.id] for r, _, _ in pairs], k)),
                         shape=(len(requests), len(pairs)))
    capacity = csr_array(([float(r.beds) for r, _, _ in pairs], ([index[code] for _, code, _ in pairs], k)),
                         shape=(len(shelters), len(pairs)))
    result = milp(c, integrality=np.ones(len(pairs)), bounds=Bounds(0, 1),
                  constraints=[LinearConstraint(one_each, -np.inf, 1),
                               LinearConstraint(capacity, -np.inf, [max(0, free.get(s, 0)) for s in shelters])],
                  options={"mip_rel_gap": 0, "time_limit": time_limit_s})
    seconds = time.perf_counter() - started
    if result.status != 0 or result.x is None:  # 1: time limit reached; anything else: no proven optimum
        return None, seconds
    return {r.id: code for (r, code, _), x in zip(pairs, result.x) if x > 0.5}, seconds


def greedy(requests: Sequence[BatchRequest], free: Mapping[str, int]) -> dict[int, str]:
    """Urgent first (then by id), each request to its best-scoring shelter that still has room."""
    left = dict(free)
    out: dict[int, str] = {}
    for r in sorted(requests, key=lambda r: (not r.urgent, r.id)):
        for code, _ in sorted(r.options.items(), key=lambda item: (-item[1], item[0])):
            if left.get(code, 0) >= r.beds:
                left[code] -= r.beds
                out[r.id] = code
                break
    return out


def measure(size: str, load: float, families: bool, seed: int, reference_limit_s: float,
            engine_limit_s: float) -> dict[str, Any]:
    shelters, n, eligibility = SIZES[size]
    requests, free = instance(shelters, n, eligibility, load, families, seed)
    pairs = sum(len(r.options) for r in requests)
    result = batch_assign(requests, free, time_limit_s=engine_limit_s)
    violations = len(check_assignment(requests, free, result.assignment))
    objective = objective_of(requests, result.assignment)
    ref, ref_s = (None, None)
    if pairs <= REFERENCE_MAX_PAIRS and reference_limit_s > 0:
        ref, ref_s = reference(requests, free, reference_limit_s)
        if ref is not None and check_assignment(requests, free, ref):
            raise RuntimeError(f"the reference broke the rules on {size} load {load}")
    ref_objective = objective_of(requests, ref) if ref is not None else None
    if ref_objective is not None:
        gap = (ref_objective - objective) / max(1, ref_objective)
    else:
        gap = result.gap  # the engine's own proven gap: all there is without a reference
    return {
        "size": size, "shelters": shelters, "requests": n, "load": load, "families": families,
        "eligibility": eligibility, "pairs": pairs, "placed": result.placed,
        "reference_placed": len(ref) if ref is not None else None,
        "objective": objective, "reference_objective": ref_objective, "gap": gap, "gap_vs": (
            "reference" if ref_objective is not None else "engine_bound"),
        "engine_optimal": result.optimal, "method": result.method, "violations": violations,
        "engine_s": round(result.seconds, 4), "reference_s": round(ref_s, 3) if ref is not None else None,
        "reference_ran_s": round(ref_s, 3) if ref_s is not None else None,
        "greedy_objective": objective_of(requests, greedy(requests, free)),
        "speedup": round(ref_s / result.seconds, 1) if ref is not None and result.seconds > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one tiny configuration (the smoke test)")
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--loads", nargs="*", type=float, default=list(LOADS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference-limit", type=float, default=15.0, help="seconds for HiGHS per instance")
    parser.add_argument("--engine-limit", type=float, default=10.0, help="the engine's time limit (families)")
    parser.add_argument("--output", default=None, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    records = []
    if args.quick:
        SIZES["tiny"] = (8, 20, 0.5)
        plan = [("tiny", 1.0, False), ("tiny", 1.0, True)]
    else:
        # 10,000 x 10,000 with families: one load only; CP-SAT's model alone takes ~30 s and ~3 GB there.
        plan = [(size, load, families) for size in args.sizes for families in (False, True) for load in args.loads
                if not (families and size == "10000x10000" and load != 1.0)]
    for size, load, families in plan:
        records.append(emit(measure(size, load, families, args.seed, args.reference_limit, args.engine_limit)))
    if not args.quick or args.output:
        from pathlib import Path

        write_results("batch", records, vars(args), Path(args.output) if args.output else None)
    return 0
