"""Why a shelter stands empty: `python -m bench funnel [--quick] [--shelters 1000] [--requests 10000] [--stored 1000]`.

On a generated country (365 days of history), two measurements:
- pure: `reports.funnel.shelter_funnel` for one shelter over `--requests` requests (10,000), each judged by
  the engine's real ranking of all `--shelters` shelters (1,000) for a generated victim, with timelines drawn
  at random (reserved, rejected, declined, admitted, left early). Target: under a second.
- stored: `reports.evidence.funnel` (gathering from the database, then counting) and `reports.evidence.what_ifs`
  for one shelter over `--stored` requests stored with their full rankings, as `placement.services` stores
  them. A stored ranking of 1,000 shelters is about 110 kB of JSON, so 10,000 of them would be a gigabyte on
  this shared machine: the stored layer is measured at the size given and reported with it.

Keys: layer, shelters, requests, p50_ms, p95_ms, n, target_ms, met.
"""

from __future__ import annotations

import argparse
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_app, emit, summary_ms, timings_ms, write_results
from bench.generate import bench_username, prepared

TARGET_MS = 1000.0


def _trails(pool: list[Any], profiles: list[Any], target: str, requests: int, weights: Any, centres: Any,
            now: Any, rng: random.Random) -> list[Any]:
    from placement import engine
    from reports.funnel import Entry, Event, RequestTrail, StayRecord

    table = engine.CandidateTable(pool)
    by_code = {c.code: c for c in pool}
    mine = by_code[target]
    trails = []
    for n in range(requests):
        profile = profiles[n % len(profiles)]
        codes = list(engine.rank_shelters(profile, table, weights, centres).scores())

        def entry(code: str) -> Entry:
            terms = engine.score_terms(profile, by_code[code], weights, centres)
            return Entry(code, sum(terms.values()), terms)

        created = now - timedelta(days=rng.randrange(365))
        if target not in codes:
            reasons = tuple((r.code, r.values) for r in engine.hard_reasons(profile, mine))
            trails.append(RequestTrail(n, created, reasons=reasons))
            continue
        chosen = target if rng.random() < 0.4 else (codes[0] if codes[0] != target else codes[-1])
        events = [Event("reserved", "open", chosen)]
        fate = rng.random()
        if chosen == target:
            if fate < 0.2:
                events.append(Event("rejected", "reserved", target, "cannot_meet_needs"))
            elif fate < 0.4:
                events.append(Event("declined", "reserved", target))
            else:
                events += [Event("accepted", "reserved", target), Event("admitted", "accepted", target)]
        stay = None
        if events[-1].to_status == "admitted":
            left = created + timedelta(days=rng.randrange(1, 30)) if rng.random() < 0.5 else None
            stay = StayRecord(created, left, "left_voluntarily" if left else None)
        trails.append(RequestTrail(n, created, rank=codes.index(target), entry=entry(target),
                                   third=entry(codes[2]) if len(codes) > 2 else None,
                                   others={chosen: entry(chosen)} if chosen != target else {},
                                   events=tuple(events), decline_reason="fear_of_traffickers", stay=stay))
    return trails


def measure(database_url: str, shelters: int, requests: int, stored: int, repeat: int = 5) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from accounts.models import User
    from database import utcnow
    from extensions import db
    from placement import engine, services
    from placement.models import PlacementRequest
    from reports import evidence
    from reports.funnel import shelter_funnel
    from shelters.models import Case, Shelter

    app = bench_app(database_url)
    rng = random.Random(15)
    records = []
    with app.app_context():
        settings = services.Settings.from_config(app.config)
        now = utcnow()
        pool = services.candidates(db.session, now)
        centres = services._centres(db.session)
        cases = list(db.session.scalars(select(Case).order_by(Case.id).limit(500)))
        profiles = [engine.Profile(sex=c.sex, minor=c.is_minor_on(now.date()), children=c.children,
                                   needs=frozenset(c.needs), languages=frozenset(c.languages), risk=c.risk,
                                   trafficker_regions=frozenset(c.trafficker_regions),
                                   location=centres.get(c.region), exclude=frozenset()) for c in cases]
        # The shelter whose funnel is asked: one suggested to about half the victims, so every branch counts.
        counts = {c.code: 0 for c in pool}
        table = engine.CandidateTable(pool)
        for profile in profiles[:50]:
            for code in engine.rank_shelters(profile, table, settings.weights, centres).scores():
                counts[code] += 1
        target = min(counts, key=lambda code: (abs(counts[code] - 25), code))

        trails = _trails(pool, profiles, target, requests, settings.weights, centres, now, rng)
        result: list[Any] = [None]
        samples = timings_ms(lambda: result.__setitem__(0, shelter_funnel(target, trails, now)), repeat=repeat)
        records.append({"layer": "pure", "shelters": len(pool), "requests": requests, **summary_ms(samples),
                        "eligible": result[0].eligible, "target_ms": TARGET_MS,
                        "met": max(samples) < TARGET_MS})

        # The stored layer: `stored` requests with their full rankings, as a request stores them.
        officer = db.session.scalar(select(User.id).where(User.username == bench_username("police")))
        for n in range(stored):
            case = cases[n % len(cases)]
            suggestions, excluded = engine.rank_shelters(profiles[n % len(profiles)], table, settings.weights,
                                                         centres).as_json()
            at = now - timedelta(days=rng.randrange(365))
            db.session.add(PlacementRequest(case_id=case.id, requested_by_id=officer, urgency="urgent",
                                            status="cancelled", suggestions=suggestions, excluded=excluded,
                                            exclude=[], created_at=at, updated_at=at))
            if n % 100 == 99:
                db.session.flush()
        db.session.commit()
        shelter = db.session.scalar(select(Shelter).where(Shelter.code == target))
        period = evidence.default_period(now.date(), 365)
        stored_n = db.session.scalar(select(func.count()).select_from(PlacementRequest))
        samples = timings_ms(lambda: result.__setitem__(0, evidence.funnel(db.session, shelter, period, now)),
                             repeat=repeat)
        records.append({"layer": "stored", "shelters": len(pool), "requests": stored_n, **summary_ms(samples),
                        "made": result[0].made, "target_ms": None, "met": None})
        samples = timings_ms(lambda: evidence.what_ifs(db.session, shelter, period, settings), repeat=repeat)
        records.append({"layer": "stored_what_if", "shelters": len(pool), "requests": stored_n,
                        **summary_ms(samples), "target_ms": None, "met": None})
        db.session.remove()
        db.engine.dispose()
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench funnel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shelters", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=1000)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.shelters, args.requests, args.stored = 20, 200, 50
    url = prepared(args.shelters, 365 if not args.quick else 30, 1)
    records = [emit(r) for r in measure(url, args.shelters, args.requests, args.stored)]
    if not args.quick or args.output:
        write_results("funnel", records, vars(args), Path(args.output) if args.output else None)
    return 0
